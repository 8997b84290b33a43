"""Shared reads (admincenter.selectors): effective access (docs/domain.md#effective-access) and the
admin check."""

import pytest
from django.contrib.auth.models import AnonymousUser

from admincenter import selectors, services
from admincenter.errors import NotFound
from admincenter.models import Group, Role, SystemGroupKey, User
from admincenter.selectors import AccessRow
from tests.conftest import OPERATOR
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def hank(other_organization):
    return User.objects.get(email="hank@globex.test")


def grant(organization, group, instance, *role_keys):
    services.group_grant_add(
        organization=organization,
        group=group,
        instance=instance,
        roles=Role.objects.filter(product=instance.product, key__in=role_keys),
        actor=OPERATOR,
    )


def join(organization, group, *users):
    services.group_members_add(organization=organization, group=group, user_ids=[u.pk for u in users], actor=OPERATOR)


def product_group(instance, role_key):
    return Group.objects.get(product_instance=instance, role__key=role_key)


# --- effective_access --------------------------------------------------------------


def test_effective_access_is_the_union_of_every_group_with_the_group_named(
    organization, manual_user, custom_group, cms_instance
):
    odp = services.product_instance_create(organization=organization, product_code="odp", nickname="EU", actor=OPERATOR)
    grant(organization, custom_group, cms_instance, "content_editors", "content_admins")
    join(organization, custom_group, manual_user)
    join(organization, product_group(cms_instance, "content_editors"), manual_user)
    join(organization, product_group(odp, "user"), manual_user)

    rows = selectors.effective_access(organization=organization, user=manual_user)

    cms = ("Content Management System", "Production", cms_instance.instance_id)
    editors_group = "Content Management System – Production – Content Editors"
    assert rows == [
        AccessRow(*cms, role="Content Admins", group="Marketing", group_kind="custom"),
        AccessRow(*cms, role="Content Editors", group=editors_group, group_kind="product"),
        AccessRow(*cms, role="Content Editors", group="Marketing", group_kind="custom"),
        AccessRow(
            "Optimizely Data Platform", "EU", odp.instance_id, "User", "Optimizely Data Platform – EU – User", "product"
        ),
    ]


def test_admins_get_admin_center_access_through_their_group(organization, admin_user):
    [row] = selectors.effective_access(organization=organization, user=admin_user)
    assert (row.product, row.role, row.group, row.group_kind) == (
        "Opti ID Admin Center",
        "Administrator",
        "Admin Center Administrators",
        "system",
    )


def test_a_user_in_no_granting_group_has_no_access(organization, manual_user):
    assert selectors.effective_access(organization=organization, user=manual_user) == []


def test_an_inactive_user_has_no_access_but_keeps_memberships(organization, manual_user, custom_group, cms_instance):
    grant(organization, custom_group, cms_instance, "content_admins")
    join(organization, custom_group, manual_user)
    services.user_set_active(organization=organization, user=manual_user, active=False, actor=OPERATOR)
    manual_user.refresh_from_db()

    assert selectors.effective_access(organization=organization, user=manual_user) == []

    services.user_set_active(organization=organization, user=manual_user, active=True, actor=OPERATOR)
    manual_user.refresh_from_db()
    assert len(selectors.effective_access(organization=organization, user=manual_user)) == 1


def test_a_collaborators_access_is_that_of_the_host_groups_and_ends_with_removal(
    organization, other_organization, hank, custom_group, cms_instance
):
    theirs = services.product_instance_create(
        organization=other_organization, product_code="cms", nickname="Globex", actor=OPERATOR
    )
    grant(other_organization, Group.objects.get(name="Globex Sales"), theirs, "content_admins")
    grant(organization, custom_group, cms_instance, "content_editors")
    services.collaborator_add(organization=organization, email=hank.email, actor=OPERATOR)
    join(organization, custom_group, hank)

    [row] = selectors.effective_access(organization=organization, user=hank)
    assert (row.instance, row.role, row.group) == ("Production", "Content Editors", "Marketing")
    # At home the host's grants do not apply.
    [home_row] = selectors.effective_access(organization=other_organization, user=hank)
    assert (home_row.instance, home_row.group) == ("Globex", "Globex Sales")

    services.collaborator_remove(organization=organization, user=hank, actor=OPERATOR)

    assert selectors.effective_access(organization=organization, user=hank) == []
    assert len(selectors.effective_access(organization=other_organization, user=hank)) == 1


def test_a_stray_membership_without_collaboration_grants_nothing(organization, hank, custom_group, cms_instance):
    # Defence in depth: even if a row survived, no OrgMembership means no access.
    grant(organization, custom_group, cms_instance, "content_editors")
    services.collaborator_add(organization=organization, email=hank.email, actor=OPERATOR)
    join(organization, custom_group, hank)
    hank.collaborations.all().delete()
    assert selectors.effective_access(organization=organization, user=hank) == []


@pytest.mark.parametrize("size", [1, 12])
def test_effective_access_runs_in_constant_queries(
    organization, manual_user, cms_instance, hank, django_assert_num_queries, size
):
    odp = services.product_instance_create(organization=organization, product_code="odp", nickname="EU", actor=OPERATOR)
    services.collaborator_add(organization=organization, email=hank.email, actor=OPERATOR)
    for n in range(size):
        group = services.group_create(organization=organization, name=f"Team {n}", actor=OPERATOR)
        grant(organization, group, cms_instance, "content_admins", "content_editors")
        grant(organization, group, odp, "administrator", "user")
        join(organization, group, manual_user, hank)

    with django_assert_num_queries(1):
        home_rows = selectors.effective_access(organization=organization, user=manual_user)
    with django_assert_num_queries(2):  # plus the collaborator check
        collaborator_rows = selectors.effective_access(organization=organization, user=hank)

    assert len(home_rows) == len(collaborator_rows) == 4 * size
    assert {r.group for r in home_rows} == {f"Team {n}" for n in range(size)}


# --- other selectors -------------------------------------------------------------------


def test_is_admin_center_admin(organization, admin_user, manual_user, hank):
    admins = Group.objects.get(organization=organization, system_key=SystemGroupKey.ADMIN_CENTER_ADMINS)
    assert selectors.is_admin_center_admin(organization=organization, user=admin_user)
    assert not selectors.is_admin_center_admin(organization=organization, user=manual_user)
    assert not selectors.is_admin_center_admin(organization=organization, user=AnonymousUser())
    assert not selectors.is_admin_center_admin(organization=organization, user=hank)  # a user of another organization

    services.collaborator_add(organization=organization, email=hank.email, actor=OPERATOR)
    join(organization, admins, hank)
    assert selectors.is_admin_center_admin(organization=organization, user=hank)

    inactive_admin = UserFactory(organization=organization, email="gone@acme.test", is_active=False)
    join(organization, admins, inactive_admin)
    assert not selectors.is_admin_center_admin(organization=organization, user=inactive_admin)


def test_organization_by_slug(organization):
    assert selectors.organization_by_slug(" ACME ") == organization
    with pytest.raises(NotFound):
        selectors.organization_by_slug("nope")
