"""Groups as admins manage them: names, members and grants (docs/domain.md#group,
docs/domain.md#group-membership, docs/domain.md#grant, docs/domain.md#lock-matrix,
docs/domain.md#reserved-names-and-collisions)."""

import uuid

import pytest

from admincenter import services
from admincenter.errors import Conflict, Forbidden, InvalidValue, NotFound
from admincenter.models import (
    ActorType,
    AuditEvent,
    Group,
    GroupGrant,
    GroupKind,
    GroupMembership,
    MembershipOwner,
    ProductInstance,
    Role,
    User,
)
from tests.conftest import OPERATOR
from tests.factories import GroupFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def product_group(cms_instance):
    return Group.objects.get(product_instance=cms_instance, role__key="content_editors")


@pytest.fixture
def hank(other_organization):
    return User.objects.get(email="hank@globex.test")


@pytest.fixture
def collaborator(organization, hank):
    services.collaborator_add(organization=organization, email=hank.email, actor=OPERATOR)
    return hank


@pytest.fixture
def cms_roles(cms_instance):
    return {r.key: r for r in Role.objects.filter(product=cms_instance.product)}


def grant_add(organization, group, instance, roles, *, actor):
    """``services.group_grant_add`` with its arguments in order, as most tests here call it."""
    return services.group_grant_add(organization=organization, group=group, instance=instance, roles=roles, actor=actor)


def the_event(action, **filters):
    [event] = AuditEvent.objects.filter(action=action, **filters)
    return event


def group_names(organization):
    return sorted(Group.objects.filter(organization=organization).values_list("kind", "name"))


def members(group):
    return dict(GroupMembership.objects.filter(group=group).values_list("user__email", "managed_by"))


# --- group_create ------------------------------------------------------------------


def test_group_create_makes_a_custom_group_and_audits(organization, admin):
    group = services.group_create(organization=organization, name="  Web   Team ", actor=admin)
    assert (group.name, group.kind, group.organization) == ("Web Team", GroupKind.CUSTOM, organization)
    assert (group.system_key, group.scim_released_at) == (None, None)
    event = the_event("group.create")
    assert event.actor_type == ActorType.ADMIN_USER
    assert (event.target_type, event.target_id, event.target_label) == ("group", str(group.pk), "Web Team")
    assert (event.before, event.after) == ({}, {"name": "Web Team", "kind": "custom"})


@pytest.mark.parametrize(
    "name",
    [
        "Everyone",
        "everyone",
        "  EVERYONE  ",
        "Admin Center Administrators",
        "admin center administrators",
        " Admin  Center Administrators ",
        "Administrators",
        "ADMINISTRATORS ",
    ],
)
def test_reserved_names_are_refused(organization, admin, name):
    before = group_names(organization)
    with pytest.raises(Conflict, match="reserved") as exc:
        services.group_create(organization=organization, name=name, actor=admin)
    assert exc.value.field == "name"
    assert group_names(organization) == before
    assert not AuditEvent.objects.filter(action="group.create").exists()


@pytest.mark.parametrize("kind", ["custom", "scim", "product"])
def test_names_collide_with_every_kind_of_group(organization, sso_connection, cms_instance, admin, kind):
    if kind == "custom":
        existing = services.group_create(organization=organization, name="Marketing", actor=admin).name
    elif kind == "scim":
        existing = GroupFactory(
            organization=organization, name="Engineering", kind=GroupKind.SCIM, scim_connection=sso_connection
        ).name
    else:
        existing = Group.objects.filter(product_instance=cms_instance).first().name
    events_before = AuditEvent.objects.count()

    with pytest.raises(Conflict, match=f"{GroupKind(kind).label.lower()} group") as exc:
        services.group_create(organization=organization, name=f"  {existing.upper()} ", actor=admin)

    assert exc.value.field == "name"
    assert Group.objects.filter(organization=organization, name__iexact=existing).count() == 1
    assert AuditEvent.objects.count() == events_before


def test_the_same_name_is_fine_in_another_organization(organization, other_organization, admin):
    services.group_create(organization=organization, name="Globex Sales", actor=admin)
    assert Group.objects.filter(name="Globex Sales").count() == 2


@pytest.mark.parametrize("name", ["Opti_SCIM_Marketing", "opti_scim_x", " OPTI_SCIM_Sales"])
def test_the_scim_naming_prefix_is_kept_for_pushed_groups(organization, admin, name):
    with pytest.raises(InvalidValue, match="Opti_SCIM_") as exc:
        services.group_create(organization=organization, name=name, actor=admin)
    assert exc.value.field == "name"
    assert not Group.objects.filter(kind=GroupKind.CUSTOM).exists()


@pytest.mark.parametrize("name", ["", "   ", "x" * 256])
def test_group_create_refuses_empty_and_overlong_names(organization, admin, name):
    with pytest.raises(InvalidValue):
        services.group_create(organization=organization, name=name, actor=admin)


# --- group_rename ------------------------------------------------------------------


def test_group_rename_audits_before_and_after(organization, custom_group, admin):
    services.group_rename(organization=organization, group=custom_group, name=" Brand ", actor=admin)
    custom_group.refresh_from_db()
    assert custom_group.name == "Brand"
    event = the_event("group.rename")
    assert (event.target_id, event.target_label) == (str(custom_group.pk), "Brand")
    assert (event.before, event.after) == ({"name": "Marketing"}, {"name": "Brand"})


def test_group_rename_may_change_only_the_case(organization, custom_group, admin):
    services.group_rename(organization=organization, group=custom_group, name="MARKETING", actor=admin)
    custom_group.refresh_from_db()
    assert custom_group.name == "MARKETING"


def test_group_rename_to_the_same_name_writes_nothing(organization, custom_group, admin):
    services.group_rename(organization=organization, group=custom_group, name=" Marketing ", actor=admin)
    assert not AuditEvent.objects.filter(action="group.rename").exists()


@pytest.mark.parametrize(
    ("name", "error"),
    [("everyone", Conflict), ("Administrators", Conflict), ("sales", Conflict), ("Opti_SCIM_M", InvalidValue)],
)
def test_group_rename_runs_the_name_checks(organization, custom_group, admin, name, error):
    services.group_create(organization=organization, name="Sales", actor=admin)
    with pytest.raises(error):
        services.group_rename(organization=organization, group=custom_group, name=name, actor=admin)
    custom_group.refresh_from_db()
    assert custom_group.name == "Marketing"
    assert not AuditEvent.objects.filter(action="group.rename").exists()


@pytest.mark.parametrize("which", ["everyone", "admins", "product", "scim"])
def test_system_product_and_scim_groups_cannot_be_renamed_or_deleted(
    organization, everyone, admins_group, product_group, scim_group, admin, which
):
    group = {"everyone": everyone, "admins": admins_group, "product": product_group, "scim": scim_group}[which]
    name, member_count, grant_count = group.name, group.memberships.count(), group.grants.count()
    events_before = AuditEvent.objects.count()

    with pytest.raises(Forbidden):
        services.group_rename(organization=organization, group=group, name="Renamed", actor=admin)
    with pytest.raises(Forbidden):
        services.group_delete(organization=organization, group=group, actor=admin)

    group.refresh_from_db()
    assert group.name == name
    assert (group.memberships.count(), group.grants.count()) == (member_count, grant_count)
    assert AuditEvent.objects.count() == events_before


def test_groups_of_another_organization_are_not_found(organization, other_organization, admin):
    theirs = Group.objects.get(name="Globex Sales")
    with pytest.raises(NotFound):
        services.group_rename(organization=organization, group=theirs, name="Mine", actor=admin)
    with pytest.raises(NotFound):
        services.group_delete(organization=organization, group=theirs, actor=admin)
    with pytest.raises(NotFound):
        services.group_members_add(organization=organization, group=theirs, user_ids=[], actor=admin)
    assert Group.objects.filter(pk=theirs.pk, name="Globex Sales").exists()


# --- group_delete ------------------------------------------------------------------


def test_group_delete_removes_memberships_and_grants(organization, custom_group, manual_user, cms_instance, admin):
    services.group_members_add(organization=organization, group=custom_group, user_ids=[manual_user.pk], actor=admin)
    grant_add(organization, custom_group, cms_instance, Role.objects.filter(product=cms_instance.product), actor=admin)
    pk = custom_group.pk

    services.group_delete(organization=organization, group=custom_group, actor=admin)

    assert not Group.objects.filter(pk=pk).exists()
    assert not GroupMembership.objects.filter(group_id=pk).exists()
    assert not GroupGrant.objects.filter(group_id=pk).exists()
    assert User.objects.filter(pk=manual_user.pk).exists()
    event = the_event("group.delete")
    assert (event.target_id, event.target_label) == (str(pk), "Marketing")
    assert (event.before, event.after) == ({"name": "Marketing", "members": 1}, {})


# --- group_members_add / group_members_remove --------------------------------------------


def test_members_add_to_a_custom_group(organization, custom_group, manual_user, admin_user, admin):
    added = services.group_members_add(
        organization=organization, group=custom_group, user_ids=[manual_user.pk, str(admin_user.pk)], actor=admin
    )
    assert added == 2
    assert members(custom_group) == {"manual@acme.test": "admin", "admin@acme.test": "admin"}
    assert GroupMembership.objects.get(group=custom_group, user=manual_user).added_by == "admin_user:admin@acme.test"
    event = the_event("group.member.add", target_id=str(custom_group.pk))
    assert event.actor_type == ActorType.ADMIN_USER
    assert (event.before, event.after) == ({}, {"members": ["admin@acme.test", "manual@acme.test"]})


def test_adding_an_existing_member_is_a_no_op(organization, custom_group, manual_user, admin):
    services.group_members_add(organization=organization, group=custom_group, user_ids=[manual_user.pk], actor=admin)
    added = services.group_members_add(
        organization=organization, group=custom_group, user_ids=[manual_user.pk], actor=admin
    )
    assert added == 0
    assert AuditEvent.objects.filter(action="group.member.add", target_id=str(custom_group.pk)).count() == 1


def test_admins_and_product_groups_take_members(
    organization, admins_group, product_group, manual_user, scim_managed_user, admin
):
    for group in (admins_group, product_group):
        services.group_members_add(
            organization=organization,
            group=group,
            user_ids=[manual_user.pk, scim_managed_user.pk],
            actor=admin,
        )
        assert members(group)["manual@acme.test"] == MembershipOwner.ADMIN
        assert members(group)["scim.user@acme.test"] == MembershipOwner.ADMIN


def test_everyone_and_scim_groups_refuse_admin_member_changes(
    organization, everyone, scim_group, manual_user, scim_managed_user, admin
):
    everyone_members, scim_members = members(everyone), members(scim_group)
    events_before = AuditEvent.objects.count()
    for group in (everyone, scim_group):
        with pytest.raises(Forbidden):
            services.group_members_add(organization=organization, group=group, user_ids=[manual_user.pk], actor=admin)
        with pytest.raises(Forbidden):
            services.group_members_remove(
                organization=organization, group=group, user_ids=[scim_managed_user.pk], actor=admin
            )
    assert (members(everyone), members(scim_group)) == (everyone_members, scim_members)
    assert AuditEvent.objects.count() == events_before


def test_users_of_other_organizations_are_refused_and_nothing_is_added(
    organization, custom_group, manual_user, hank, admin
):
    for ids in ([hank.pk], [manual_user.pk, hank.pk], [manual_user.pk, uuid.uuid4()], ["not-a-uuid"]):
        with pytest.raises(InvalidValue) as exc:
            services.group_members_add(organization=organization, group=custom_group, user_ids=ids, actor=admin)
        assert exc.value.field == "members"
    assert members(custom_group) == {}
    assert not AuditEvent.objects.filter(action="group.member.add", target_id=str(custom_group.pk)).exists()


def test_collaborators_may_join_admin_owned_groups(organization, custom_group, admins_group, collaborator, admin):
    services.group_members_add(organization=organization, group=custom_group, user_ids=[collaborator.pk], actor=admin)
    services.group_members_add(organization=organization, group=admins_group, user_ids=[collaborator.pk], actor=admin)
    assert members(custom_group) == {"hank@globex.test": "admin"}
    assert members(admins_group)["hank@globex.test"] == "admin"


def test_members_remove_audits_the_removed_members(organization, custom_group, manual_user, admin_user, admin):
    services.group_members_add(
        organization=organization, group=custom_group, user_ids=[manual_user.pk, admin_user.pk], actor=admin
    )
    removed = services.group_members_remove(
        organization=organization, group=custom_group, user_ids=[manual_user.pk], actor=admin
    )
    assert removed == 1
    assert members(custom_group) == {"admin@acme.test": "admin"}
    event = the_event("group.member.remove")
    assert (event.target_id, event.before, event.after) == (
        str(custom_group.pk),
        {"members": ["manual@acme.test"]},
        {},
    )


def test_removing_a_non_member_is_a_no_op(organization, custom_group, manual_user, admin):
    assert (
        services.group_members_remove(
            organization=organization, group=custom_group, user_ids=[manual_user.pk], actor=admin
        )
        == 0
    )
    assert not AuditEvent.objects.filter(action="group.member.remove").exists()


def test_members_remove_refuses_malformed_ids(organization, custom_group, manual_user, admin):
    services.group_members_add(organization=organization, group=custom_group, user_ids=[manual_user.pk], actor=admin)
    with pytest.raises(InvalidValue) as exc:
        services.group_members_remove(
            organization=organization, group=custom_group, user_ids=[manual_user.pk, "not-a-uuid"], actor=admin
        )
    assert exc.value.field == "members"
    assert members(custom_group) == {"manual@acme.test": "admin"}
    # Ids in upper case are the same users.
    services.group_members_remove(
        organization=organization, group=custom_group, user_ids=[str(manual_user.pk).upper()], actor=admin
    )
    assert members(custom_group) == {}


def test_the_last_admin_cannot_be_removed_from_the_admins_group(
    organization, admins_group, admin_user, manual_user, admin
):
    events_before = AuditEvent.objects.count()
    with pytest.raises(Forbidden, match="last active member"):
        services.group_members_remove(
            organization=organization, group=admins_group, user_ids=[admin_user.pk], actor=admin
        )
    assert members(admins_group) == {"admin@acme.test": "admin"}
    assert AuditEvent.objects.count() == events_before

    # With a second active admin, either may go, but not both at once.
    services.group_members_add(organization=organization, group=admins_group, user_ids=[manual_user.pk], actor=admin)
    with pytest.raises(Forbidden):
        services.group_members_remove(
            organization=organization, group=admins_group, user_ids=[admin_user.pk, manual_user.pk], actor=admin
        )
    services.group_members_remove(organization=organization, group=admins_group, user_ids=[admin_user.pk], actor=admin)
    assert members(admins_group) == {"manual@acme.test": "admin"}


def test_product_group_members_can_be_removed(organization, product_group, manual_user, admin):
    services.group_members_add(organization=organization, group=product_group, user_ids=[manual_user.pk], actor=admin)
    services.group_members_remove(
        organization=organization, group=product_group, user_ids=[manual_user.pk], actor=admin
    )
    assert members(product_group) == {}


# --- group_grant_add / group_grant_remove ----------------------------------------------


def test_grant_add_to_a_custom_group(organization, custom_group, cms_instance, cms_roles, admin):
    grants = grant_add(
        organization,
        custom_group,
        cms_instance,
        [cms_roles["content_admins"], cms_roles["content_editors"]],
        actor=admin,
    )
    assert len(grants) == 2
    stored = GroupGrant.objects.filter(group=custom_group)
    assert {(g.product_instance_id, g.role.key) for g in stored} == {
        (cms_instance.pk, "content_admins"),
        (cms_instance.pk, "content_editors"),
    }
    assert {g.granted_by for g in stored} == {"admin_user:admin@acme.test"}
    event = the_event("group.grant.add")
    assert event.actor_type == ActorType.ADMIN_USER
    assert (event.target_type, event.target_id) == ("group", str(custom_group.pk))
    assert event.after == {
        "instance": "Content Management System – Production",
        "instance_id": cms_instance.instance_id,
        "roles": ["Content Admins", "Content Editors"],
    }


def test_scim_groups_take_grants(scim_organization, scim_group, cms_instance, cms_roles, admin):
    grant_add(scim_organization, scim_group, cms_instance, [cms_roles["content_editors"]], actor=admin)
    assert scim_group.grants.get().role.key == "content_editors"


@pytest.mark.parametrize("which", ["everyone", "admins", "product"])
def test_grants_of_system_and_product_groups_are_fixed(
    organization, everyone, admins_group, product_group, cms_instance, cms_roles, admin, which
):
    group = {"everyone": everyone, "admins": admins_group, "product": product_group}[which]
    grants_before = list(GroupGrant.objects.filter(group=group).values_list("pk", flat=True))
    with pytest.raises(Forbidden, match="fixed"):
        grant_add(organization, group, cms_instance, [cms_roles["content_admins"]], actor=admin)
    for grant in GroupGrant.objects.filter(group=group):
        with pytest.raises(Forbidden, match="fixed"):
            services.group_grant_remove(organization=organization, grant=grant, actor=admin)
    assert list(GroupGrant.objects.filter(group=group).values_list("pk", flat=True)) == grants_before
    assert not AuditEvent.objects.filter(action__startswith="group.grant").exists()


def test_grant_add_refusals_change_nothing(
    organization, other_organization, custom_group, cms_instance, cms_roles, admin
):
    theirs = services.product_instance_create(
        organization=other_organization, product_code="cms", nickname="Theirs", actor=OPERATOR
    )
    admin_center = ProductInstance.objects.get(organization=organization, product__code="admin_center")
    odp_role = Role.objects.get(product__code="odp", key="administrator")
    events_before = AuditEvent.objects.count()

    with pytest.raises(NotFound):
        grant_add(organization, custom_group, theirs, [cms_roles["content_admins"]], actor=admin)
    with pytest.raises(InvalidValue, match="not a role of"):
        grant_add(organization, custom_group, cms_instance, [cms_roles["content_admins"], odp_role], actor=admin)
    with pytest.raises(Forbidden, match="Admin Center Administrators"):
        grant_add(
            organization, custom_group, admin_center, Role.objects.filter(product__code="admin_center"), actor=admin
        )
    with pytest.raises(InvalidValue):
        grant_add(organization, custom_group, cms_instance, [], actor=admin)

    assert not custom_group.grants.exists()
    assert AuditEvent.objects.count() == events_before


def test_a_duplicate_grant_is_refused(organization, custom_group, cms_instance, cms_roles, admin):
    grant_add(organization, custom_group, cms_instance, [cms_roles["content_admins"]], actor=admin)
    with pytest.raises(Conflict, match="already has Content Admins"):
        grant_add(
            organization,
            custom_group,
            cms_instance,
            [cms_roles["content_editors"], cms_roles["content_admins"]],
            actor=admin,
        )
    # Nothing of the refused call was applied, not even the new role.
    assert [g.role.key for g in custom_group.grants.all()] == ["content_admins"]
    assert AuditEvent.objects.filter(action="group.grant.add").count() == 1


def test_grant_remove(organization, custom_group, cms_instance, cms_roles, admin):
    [grant] = grant_add(organization, custom_group, cms_instance, [cms_roles["content_admins"]], actor=admin)
    services.group_grant_remove(organization=organization, grant=grant, actor=admin)
    assert not custom_group.grants.exists()
    event = the_event("group.grant.remove")
    assert (event.target_id, event.after) == (str(custom_group.pk), {})
    assert event.before == {
        "instance": "Content Management System – Production",
        "instance_id": cms_instance.instance_id,
        "roles": ["Content Admins"],
    }


def test_grant_remove_of_another_organizations_grant_is_not_found(organization, other_organization, admin):
    theirs = GroupGrant.objects.filter(group__organization=other_organization).first()
    with pytest.raises(NotFound):
        services.group_grant_remove(organization=organization, grant=theirs, actor=admin)
    assert GroupGrant.objects.filter(pk=theirs.pk).exists()


def test_scim_managed_users_can_join_custom_groups(scim_organization, custom_group, scim_managed_user, admin):
    services.group_members_add(
        organization=scim_organization, group=custom_group, user_ids=[scim_managed_user.pk], actor=admin
    )
    assert members(custom_group) == {"scim.user@acme.test": "admin"}
