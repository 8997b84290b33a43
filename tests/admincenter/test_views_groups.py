"""Groups pages: kinds, custom group lifecycle, members, product access, and the
refusals of the lock matrix (docs/domain.md#lock-matrix,
docs/domain.md#reserved-names-and-collisions)."""

import pytest
from django.urls import reverse

from admincenter import services
from admincenter.models import Group, GroupGrant, GroupKind, GroupMembership, SystemGroupKey, UserSource
from admincenter.services import Actor
from tests.admincenter.test_views_common import last_event
from tests.factories import GroupFactory, UserFactory

OPERATOR = Actor.operator("tests")


@pytest.fixture
def fifty_groups(organization, sso_connection):
    users = [UserFactory(organization=organization, email=f"p{i:03d}@acme.test") for i in range(200)]
    for g in range(50):
        kind = GroupKind.SCIM if g % 5 == 0 else GroupKind.CUSTOM
        GroupFactory(
            organization=organization,
            name=f"Group {g:02d}",
            kind=kind,
            scim_connection=sso_connection if kind == GroupKind.SCIM else None,
            members=users[g * 4 : g * 4 + 40],
        )
    return users


def test_group_list_has_tabs_by_kind_and_counts(
    admin_client, organization, fifty_groups, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("group_list"))
    page = response.context["page"]
    assert page.paginator.count == 52  # 50 + Everyone + Admin Center Administrators
    counts = {g.name: g.member_count for g in page}
    assert counts["Group 00"] == 40
    response = admin_client.get(reverse("group_list"), {"kind": "scim"})
    assert response.context["page"].paginator.count == 10
    assert b'aria-current="page">SCIM<' in response.content
    response = admin_client.get(reverse("group_list"), {"kind": "system"})
    assert sorted(g.name for g in response.context["page"]) == ["Admin Center Administrators", "Everyone"]
    everyone = next(g for g in response.context["page"] if g.name == "Everyone")
    assert everyone.member_count == 201


def test_product_groups_are_not_listed(admin_client, cms_instance):
    response = admin_client.get(reverse("group_list"))
    assert all(g.kind != GroupKind.PRODUCT for g in response.context["page"])


def test_create_a_custom_group(admin_client, organization):
    response = admin_client.post(reverse("group_create"), {"name": "  Marketing  Team "})
    group = Group.objects.get(organization=organization, name="Marketing Team")
    assert response.status_code == 302
    assert response["Location"] == reverse("group_detail", args=[group.pk])
    assert last_event(organization, "group.create").target_label == "Marketing Team"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Everyone", "reserved group name"),
        ("admin center administrators", "reserved group name"),
        ("Administrators", "reserved group name"),
        ("Opti_SCIM_Sales", "kept for groups pushed by your identity provider"),
        ("marketing", "custom group named 'Marketing' already exists"),
        ("", "This field is required"),
    ],
)
def test_reserved_and_colliding_names_are_refused_next_to_the_field(admin_client, custom_group, name, message):
    response = admin_client.post(reverse("group_create"), {"name": name})
    assert response.status_code in (400, 409)
    errors = response.context["form"].errors["name"]
    assert message in errors[0]
    assert b'id="id_name_error"' in response.content


def test_a_name_colliding_with_a_scim_group_is_refused(admin_client, scim_group):
    response = admin_client.post(reverse("group_create"), {"name": "opti_scim_engineering"})
    assert "Opti_SCIM_" in response.context["form"].errors["name"][0]


def test_rename_a_custom_group(admin_client, organization, custom_group):
    response = admin_client.post(reverse("group_rename", args=[custom_group.pk]), {"rename-name": "Growth"})
    assert response.status_code == 302
    custom_group.refresh_from_db()
    assert custom_group.name == "Growth"
    event = last_event(organization, "group.rename")
    assert (event.before, event.after) == ({"name": "Marketing"}, {"name": "Growth"})


def test_rename_to_a_reserved_name_is_refused(admin_client, organization, custom_group):
    response = admin_client.post(reverse("group_rename", args=[custom_group.pk]), {"rename-name": "Everyone"})
    assert response.status_code == 409
    assert "reserved group name" in response.context["rename_form"].errors["name"][0]
    custom_group.refresh_from_db()
    assert custom_group.name == "Marketing"


@pytest.mark.parametrize("key", [SystemGroupKey.EVERYONE, SystemGroupKey.ADMIN_CENTER_ADMINS])
def test_system_groups_cannot_be_renamed_or_deleted(admin_client, organization, key):
    group = Group.objects.get(organization=organization, system_key=key)
    page = admin_client.get(reverse("group_detail", args=[group.pk]))
    assert b"Rename" not in page.content and b"Delete group" not in page.content
    response = admin_client.post(reverse("group_rename", args=[group.pk]), {"rename-name": "Renamed"})
    assert response.status_code == 403
    assert b"cannot be renamed" in response.content
    response = admin_client.post(reverse("group_delete", args=[group.pk]))
    assert response.status_code == 403
    group.refresh_from_db()
    assert group.name in ("Everyone", "Admin Center Administrators")


def test_scim_groups_cannot_be_renamed_deleted_or_have_members_edited(
    admin_client, scim_organization, scim_group, scim_managed_user
):
    page = admin_client.get(reverse("group_detail", args=[scim_group.pk]))
    html = page.content.decode()
    assert "Managed by your identity provider." in html
    assert "Read-only: membership is managed in your identity provider." in html
    assert "Add member" not in html
    other = UserFactory(organization=scim_organization, email="other@acme.test")
    response = admin_client.post(reverse("group_member_add", args=[scim_group.pk]), {"member-email": other.email})
    assert response.status_code == 403
    assert b"managed by your identity provider" in response.content
    assert not GroupMembership.objects.filter(group=scim_group, user=other).exists()
    response = admin_client.post(reverse("group_member_remove", args=[scim_group.pk, scim_managed_user.pk]))
    assert response.status_code == 403
    assert GroupMembership.objects.filter(group=scim_group, user=scim_managed_user).exists()
    response = admin_client.post(reverse("group_rename", args=[scim_group.pk]), {"rename-name": "Mine now"})
    assert response.status_code == 403
    response = admin_client.post(reverse("group_delete", args=[scim_group.pk]))
    assert response.status_code == 403
    assert Group.objects.filter(pk=scim_group.pk, name="Opti_SCIM_Engineering").exists()
    assert last_event(scim_organization, "group.member.add") is None or "other@acme.test" not in str(
        last_event(scim_organization, "group.member.add").after
    )


def test_delete_a_custom_group_after_confirmation(admin_client, organization, custom_group):
    page = admin_client.get(reverse("group_delete", args=[custom_group.pk]))
    assert b"Delete Marketing?" in page.content
    response = admin_client.post(reverse("group_delete", args=[custom_group.pk]))
    assert response.status_code == 302
    assert not Group.objects.filter(pk=custom_group.pk).exists()
    assert last_event(organization, "group.delete").target_label == "Marketing"


def test_add_and_remove_members_of_a_custom_group(admin_client, organization, custom_group, scim_managed_user):
    url = reverse("group_member_add", args=[custom_group.pk])
    response = admin_client.post(url, {"member-email": "SCIM.user@acme.test"})
    assert response.status_code == 302
    membership = GroupMembership.objects.get(group=custom_group, user=scim_managed_user)
    assert membership.managed_by == "admin"
    assert last_event(organization, "group.member.add").after == {"members": ["scim.user@acme.test"]}
    response = admin_client.post(reverse("group_member_remove", args=[custom_group.pk, scim_managed_user.pk]))
    assert response.status_code == 302
    assert not GroupMembership.objects.filter(group=custom_group, user=scim_managed_user).exists()
    assert last_event(organization, "group.member.remove").before == {"members": ["scim.user@acme.test"]}


def test_member_add_errors(admin_client, organization, custom_group, other_organization):
    url = reverse("group_member_add", args=[custom_group.pk])
    response = admin_client.post(url, {"member-email": "nobody@acme.test"})
    assert response.status_code == 400
    assert "No user with this email" in response.context["member_form"].errors["email"][0]
    # Someone of another organization, not admitted here, is unknown too.
    response = admin_client.post(url, {"member-email": "hank@globex.test"})
    assert "No user with this email" in response.context["member_form"].errors["email"][0]
    response = admin_client.post(url, {"member-email": "not an email"})
    assert response.context["member_form"].errors["email"]


def test_the_member_picker_is_on_the_page_and_works_without_js(admin_client, custom_group):
    page = admin_client.get(reverse("group_detail", args=[custom_group.pk]))
    html = page.content.decode()
    assert 'type="email" name="member-email"' in html
    assert 'list="user-picker-options"' in html
    assert f'data-picker-url="{reverse("user_picker")}?group={custom_group.pk}"' in html
    assert '<label for="id_member-email">' in html


def test_admins_manage_admin_center_administrators_but_keep_one(admin_client, organization, admin_user, manual_user):
    admins = Group.objects.get(organization=organization, system_key=SystemGroupKey.ADMIN_CENTER_ADMINS)
    response = admin_client.post(reverse("group_member_add", args=[admins.pk]), {"member-email": manual_user.email})
    assert response.status_code == 302
    services.user_set_active(organization=organization, user=manual_user, active=False, actor=OPERATOR)
    response = admin_client.post(reverse("group_member_remove", args=[admins.pk, admin_user.pk]))
    assert response.status_code == 403
    assert b"last active member" in response.content


def test_grant_product_access_to_a_scim_group(admin_client, scim_organization, scim_group, cms_instance):
    roles = list(cms_instance.product.roles.order_by("key"))
    page = admin_client.get(reverse("group_detail", args=[scim_group.pk]))
    assert b"Add product access" in page.content
    response = admin_client.post(
        reverse("group_grant_add", args=[scim_group.pk]),
        {"grant-instance": cms_instance.pk, "grant-roles": [r.pk for r in roles]},
    )
    assert response.status_code == 302
    assert GroupGrant.objects.filter(group=scim_group, product_instance=cms_instance).count() == 2
    event = last_event(scim_organization, "group.grant.add")
    assert event.after["roles"] == [r.name for r in roles]
    grant = GroupGrant.objects.filter(group=scim_group).first()
    response = admin_client.post(reverse("group_grant_remove", args=[scim_group.pk, grant.pk]))
    assert response.status_code == 302
    assert GroupGrant.objects.filter(group=scim_group).count() == 1
    assert last_event(scim_organization, "group.grant.remove") is not None


def test_grant_form_validation(admin_client, organization, custom_group, cms_instance):
    url = reverse("group_grant_add", args=[custom_group.pk])
    response = admin_client.post(url, {"grant-instance": cms_instance.pk})
    assert response.status_code == 400
    assert response.context["grant_form"].errors["roles"]
    other_instance = services.product_instance_create(
        organization=organization, product_code="odp", nickname="EU", actor=OPERATOR
    )
    odp_role = other_instance.product.roles.first()
    response = admin_client.post(url, {"grant-instance": cms_instance.pk, "grant-roles": [odp_role.pk]})
    assert response.status_code == 400
    assert "is not a role of Content Management System" in response.context["grant_form"].errors["roles"][0]
    role = cms_instance.product.roles.first()
    admin_client.post(url, {"grant-instance": cms_instance.pk, "grant-roles": [role.pk]})
    response = admin_client.post(url, {"grant-instance": cms_instance.pk, "grant-roles": [role.pk]})
    assert response.status_code == 409
    assert "already has" in response.context["grant_form"].errors["roles"][0]


def test_grants_of_product_and_system_groups_are_fixed(admin_client, organization, cms_instance):
    product_group = Group.objects.get(product_instance=cms_instance, role__key="content_admins")
    page = admin_client.get(reverse("group_detail", args=[product_group.pk]))
    assert b"The access of a product group is fixed." in page.content
    grant = GroupGrant.objects.get(group=product_group)
    response = admin_client.post(reverse("group_grant_remove", args=[product_group.pk, grant.pk]))
    assert response.status_code == 403
    assert GroupGrant.objects.filter(pk=grant.pk).exists()


def test_admin_center_administrators_shows_its_fixed_access(admin_client, organization):
    admins = Group.objects.get(organization=organization, system_key=SystemGroupKey.ADMIN_CENTER_ADMINS)
    html = admin_client.get(reverse("group_detail", args=[admins.pk])).content.decode()
    assert "Opti ID Admin Center" in html and "Administrator" in html
    assert "The access of this system group is fixed." in html
    assert "Add access" not in html
    assert "Add member" in html


def test_group_detail_of_a_big_group_pages_members(
    admin_client, organization, fifty_groups, cms_instance, django_assert_max_num_queries
):
    everyone = Group.objects.get(organization=organization, system_key=SystemGroupKey.EVERYONE)
    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("group_detail", args=[everyone.pk]))
    assert response.context["members"].paginator.count == 201
    assert len(response.context["members"].object_list) == 50
    custom = Group.objects.get(organization=organization, name="Group 01")
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("group_detail", args=[custom.pk]), {"page": 1})
    assert response.status_code == 200


def test_formerly_scim_users_are_editable_after_scim_is_disabled(admin_client, scim_organization, scim_managed_user):
    services.scim_disable(organization=scim_organization, actor=OPERATOR)
    page = admin_client.get(reverse("user_detail", args=[scim_managed_user.pk]))
    assert b"Save profile" in page.content
    assert b"Formerly SCIM" in page.content
    assert scim_managed_user.source == UserSource.SCIM
