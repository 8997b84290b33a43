"""Users pages: list, search, detail, create, collaborators, the SCIM lock
(docs/domain.md#lock-matrix)."""

import pytest
from django.urls import reverse

from admincenter import services
from admincenter.models import Group, GroupMembership, MembershipOwner, SystemGroupKey, User, UserSource
from admincenter.services import Actor
from tests.admincenter.test_views_common import last_event
from tests.factories import GroupFactory, UserFactory

OPERATOR = Actor.operator("tests")


@pytest.fixture
def many_users(organization, sso_connection):
    """200 users of every source, 50 custom groups with members."""
    users = []
    for i in range(200):
        kind = i % 4
        users.append(
            UserFactory(
                organization=organization,
                email=f"person{i:03d}@acme.test",
                source=[UserSource.MANUAL, UserSource.JIT, UserSource.SCIM, UserSource.INVITED][kind],
                scim_connection=sso_connection if kind == 2 else None,
                is_active=i % 10 != 0,
            )
        )
    for g in range(50):
        GroupFactory(organization=organization, name=f"Team {g:02d}", members=users[g : g + 20])
    return users


def test_user_list_shows_name_email_source_status_and_last_change(admin_client, manual_user, scim_managed_user):
    response = admin_client.get(reverse("user_list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "manual@acme.test" in html
    assert "scim.user@acme.test" in html
    assert 'badge-scim">SCIM<' in html
    assert 'badge-manual">Manual<' in html
    assert "Active" in html


def test_user_list_pages_in_the_database_with_a_constant_number_of_queries(
    admin_client, many_users, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("user_list"))
    assert response.status_code == 200
    page = response.context["page"]
    assert page.paginator.count == 201  # 200 + the admin
    assert len(page.object_list) == 50
    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("user_list"), {"page": 4, "source": "scim"})
    assert response.context["page"].paginator.count == 50


def test_user_list_search_and_filters(admin_client, organization, many_users, other_organization):
    response = admin_client.get(reverse("user_list"), {"q": "person01"})
    emails = [u.email for u in response.context["page"]]
    assert emails == [f"person{i:03d}@acme.test" for i in range(10, 20)]
    response = admin_client.get(reverse("user_list"), {"status": "inactive"})
    assert response.context["page"].paginator.count == 20
    response = admin_client.get(reverse("user_list"), {"source": "jit"})
    assert response.context["page"].paginator.count == 50
    # Another organization's people never show up.
    response = admin_client.get(reverse("user_list"), {"q": "hank"})
    assert response.context["page"].paginator.count == 0


def test_collaborators_are_listed_with_their_badge(admin_client, organization, other_organization):
    services.collaborator_add(organization=organization, email="hank@globex.test", actor=OPERATOR)
    response = admin_client.get(reverse("user_list"), {"source": "collaborator"})
    assert [u.email for u in response.context["page"]] == ["hank@globex.test"]
    assert b"badge-collaborator" in response.content
    assert b"Globex" in response.content


def test_create_a_manual_user(admin_client, organization):
    response = admin_client.post(
        reverse("user_add"),
        {
            "action": "create",
            "create-email": "New.Person@Acme.test",
            "create-given_name": "New",
            "create-family_name": "Person",
        },
    )
    user = User.objects.get(email="new.person@acme.test")
    assert response.status_code == 302
    assert response["Location"] == reverse("user_detail", args=[user.pk])
    assert user.home_organization == organization and user.source == UserSource.MANUAL
    event = last_event(organization, "user.create")
    assert event.target_label == "new.person@acme.test" and event.actor_label == "admin@acme.test"


def test_create_user_validation_errors_sit_next_to_the_field(admin_client, organization, manual_user):
    response = admin_client.post(reverse("user_add"), {"action": "create", "create-email": "not-an-email"})
    assert response.status_code == 400
    assert response.context["create_form"].errors["email"]
    assert b'id="id_create-email_error"' in response.content
    assert b'aria-invalid="true"' in response.content
    response = admin_client.post(reverse("user_add"), {"action": "create", "create-email": "MANUAL@acme.test"})
    assert response.status_code == 409
    assert "already in use" in response.context["create_form"].errors["email"][0]


def test_admit_a_collaborator_from_another_organization(admin_client, organization, other_organization):
    response = admin_client.post(reverse("user_add"), {"action": "collaborator", "collab-email": "hank@globex.test"})
    hank = User.objects.get(email="hank@globex.test")
    assert response.status_code == 302
    assert response["Location"] == reverse("user_detail", args=[hank.pk])
    assert last_event(organization, "collaborator.add").target_label == "hank@globex.test"
    response = admin_client.post(reverse("user_add"), {"action": "collaborator", "collab-email": "nobody@else.test"})
    assert response.status_code == 404
    assert "No user with the email" in response.context["collaborator_form"].errors["email"][0]


def test_user_detail_shows_profile_groups_and_effective_access(
    admin_client, organization, manual_user, cms_instance, django_assert_max_num_queries
):
    group = services.group_create(organization=organization, name="Editors", actor=OPERATOR)
    services.group_members_add(organization=organization, group=group, user_ids=[manual_user.pk], actor=OPERATOR)
    role = cms_instance.product.roles.get(key="content_editors")
    services.group_grant_add(
        organization=organization, group=group, instance=cms_instance, roles=[role], actor=OPERATOR
    )
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("user_detail", args=[manual_user.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Save profile" in html
    assert [(r.product, r.instance, r.role, r.group) for r in response.context["access"]] == [
        ("Content Management System", "Production", "Content Editors", "Editors")
    ]
    assert "Add product access" in html
    assert "Content Management System – Production – Content Admins" in html


def test_edit_a_manual_users_profile(admin_client, organization, manual_user):
    response = admin_client.post(
        reverse("user_edit", args=[manual_user.pk]),
        {"email": "manual@acme.test", "given_name": "Manu", "family_name": "Al"},
    )
    assert response.status_code == 302
    manual_user.refresh_from_db()
    assert (manual_user.given_name, manual_user.family_name) == ("Manu", "Al")
    event = last_event(organization, "user.update")
    assert event.after == {"given_name": "Manu", "family_name": "Al"}


def test_profile_edit_errors_are_shown_next_to_the_field(admin_client, organization, manual_user):
    UserFactory(organization=organization, email="taken@acme.test")
    response = admin_client.post(reverse("user_edit", args=[manual_user.pk]), {"email": "taken@acme.test"})
    assert response.status_code == 409
    assert "already in use" in response.context["profile_form"].errors["email"][0]
    response = admin_client.post(reverse("user_edit", args=[manual_user.pk]), {"email": ""})
    assert response.status_code == 400
    assert response.context["profile_form"].errors["email"]


def test_a_scim_managed_user_is_read_only_with_a_notice(admin_client, scim_managed_user):
    response = admin_client.get(reverse("user_detail", args=[scim_managed_user.pk]))
    html = response.content.decode()
    assert "Managed by your identity provider." in html
    assert "PingOne" in html
    assert "Save profile" not in html
    assert 'name="given_name"' not in html
    assert "Delete user" not in html
    assert "unassign them from the Admin Center application in your identity provider" in html


def test_editing_a_scim_managed_user_is_refused(admin_client, scim_organization, scim_managed_user):
    before = (scim_managed_user.given_name, scim_managed_user.email)
    response = admin_client.post(
        reverse("user_edit", args=[scim_managed_user.pk]),
        {"email": "hijack@acme.test", "given_name": "Hijack", "family_name": "X"},
    )
    assert response.status_code == 403
    assert b"managed by your identity provider" in response.content
    scim_managed_user.refresh_from_db()
    assert (scim_managed_user.given_name, scim_managed_user.email) == before
    assert last_event(scim_organization, "user.update") is None


def test_deleting_or_deactivating_a_scim_managed_user_is_refused(admin_client, scim_organization, scim_managed_user):
    page = admin_client.get(reverse("user_delete", args=[scim_managed_user.pk]))
    assert b"cannot be deleted here" in page.content
    response = admin_client.post(reverse("user_delete", args=[scim_managed_user.pk]))
    assert response.status_code == 403
    assert b"managed by your identity provider" in response.content
    response = admin_client.post(reverse("user_set_active", args=[scim_managed_user.pk]), {"active": "false"})
    assert response.status_code == 403
    scim_managed_user.refresh_from_db()
    assert scim_managed_user.is_active
    assert last_event(scim_organization, "user.delete") is None


def test_delete_a_manual_user_after_confirmation(admin_client, organization, manual_user):
    page = admin_client.get(reverse("user_delete", args=[manual_user.pk]))
    assert b"Delete manual@acme.test?" in page.content
    response = admin_client.post(reverse("user_delete", args=[manual_user.pk]))
    assert response.status_code == 302
    assert not User.objects.filter(pk=manual_user.pk).exists()
    assert last_event(organization, "user.delete").target_label == "manual@acme.test"


def test_remove_a_collaborator(admin_client, organization, other_organization):
    services.collaborator_add(organization=organization, email="hank@globex.test", actor=OPERATOR)
    hank = User.objects.get(email="hank@globex.test")
    response = admin_client.post(reverse("user_delete", args=[hank.pk]))
    assert response.status_code == 302
    assert User.objects.filter(pk=hank.pk).exists()
    assert last_event(organization, "collaborator.remove").target_label == "hank@globex.test"
    assert admin_client.get(reverse("user_detail", args=[hank.pk])).status_code == 404


def test_deactivate_and_reactivate_a_manual_user(admin_client, organization, manual_user):
    admin_client.post(reverse("user_set_active", args=[manual_user.pk]), {"active": "false"})
    manual_user.refresh_from_db()
    assert not manual_user.is_active
    assert last_event(organization, "user.deactivate") is not None
    admin_client.post(reverse("user_set_active", args=[manual_user.pk]), {"active": "true"})
    manual_user.refresh_from_db()
    assert manual_user.is_active
    assert last_event(organization, "user.activate") is not None


def test_the_last_admin_cannot_delete_themselves(admin_client, organization, admin_user):
    response = admin_client.post(reverse("user_delete", args=[admin_user.pk]))
    assert response.status_code == 403
    assert b"last active member of Admin Center Administrators" in response.content
    assert User.objects.filter(pk=admin_user.pk).exists()


def test_add_product_access_and_group_from_the_user_page(
    admin_client, organization, scim_organization, scim_managed_user, cms_instance
):
    product_group = Group.objects.get(product_instance=cms_instance, role__key="content_admins")
    response = admin_client.post(reverse("user_group_add", args=[scim_managed_user.pk]), {"group": product_group.pk})
    assert response.status_code == 302
    assert GroupMembership.objects.get(group=product_group, user=scim_managed_user).managed_by == MembershipOwner.ADMIN
    assert last_event(organization, "group.member.add").target_label == product_group.name
    page = admin_client.get(reverse("user_detail", args=[scim_managed_user.pk]))
    assert ("Content Management System", "Content Admins") in [(r.product, r.role) for r in page.context["access"]]
    response = admin_client.post(reverse("user_group_remove", args=[scim_managed_user.pk, product_group.pk]))
    assert response.status_code == 302
    assert not GroupMembership.objects.filter(group=product_group, user=scim_managed_user).exists()


def test_scim_memberships_are_read_only_on_the_user_page(admin_client, scim_group, scim_managed_user):
    page = admin_client.get(reverse("user_detail", args=[scim_managed_user.pk]))
    assert b"Read-only: managed by your identity provider" in page.content
    response = admin_client.post(reverse("user_group_remove", args=[scim_managed_user.pk, scim_group.pk]))
    assert response.status_code == 403
    assert GroupMembership.objects.filter(group=scim_group, user=scim_managed_user).exists()


def test_removing_from_everyone_is_refused(admin_client, organization, manual_user):
    everyone = Group.objects.get(organization=organization, system_key=SystemGroupKey.EVERYONE)
    response = admin_client.post(reverse("user_group_remove", args=[manual_user.pk, everyone.pk]))
    assert response.status_code == 403
    assert GroupMembership.objects.filter(group=everyone, user=manual_user).exists()


def test_user_picker_is_scoped_limited_and_json(admin_client, organization, many_users, other_organization):
    response = admin_client.get(reverse("user_picker"), {"q": "person"})
    results = response.json()["results"]
    assert len(results) == 20
    assert results[0]["email"] == "person001@acme.test"  # person000 is inactive
    assert admin_client.get(reverse("user_picker"), {"q": "hank"}).json() == {"results": []}
    group = Group.objects.get(organization=organization, name="Team 00")
    results = admin_client.get(reverse("user_picker"), {"q": "person00", "group": group.pk}).json()["results"]
    assert results == []  # person001..009 are already members of Team 00
