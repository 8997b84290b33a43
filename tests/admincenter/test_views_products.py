"""Products pages and the access export (CSV of every user's effective access)."""

import csv
import io

import pytest
from django.urls import reverse

from admincenter import services
from admincenter.models import Group, GroupKind
from admincenter.services import Actor
from tests.factories import GroupFactory, UserFactory

OPERATOR = Actor.operator("tests")


def read_csv(response):
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


@pytest.fixture
def access_setup(organization, scim_organization, sso_connection, cms_instance, other_organization):
    """A SCIM group and a custom group with grants, members of every source."""
    editors_role = cms_instance.product.roles.get(key="content_editors")
    admins_role = cms_instance.product.roles.get(key="content_admins")
    scim_user = UserFactory(
        organization=organization,
        email="sam@acme.test",
        given_name="Sam",
        family_name="Scim",
        source="scim",
        scim_connection=sso_connection,
    )
    manual = UserFactory(organization=organization, email="=cmd@acme.test", given_name="@Mal", family_name="Icious")
    inactive = UserFactory(organization=organization, email="gone@acme.test", is_active=False)
    scim_group = GroupFactory(
        organization=organization,
        name="Opti_SCIM_Editors",
        kind=GroupKind.SCIM,
        scim_connection=sso_connection,
        members=[scim_user, inactive],
    )
    services.group_grant_add(
        organization=organization, group=scim_group, instance=cms_instance, roles=[editors_role], actor=OPERATOR
    )
    custom = services.group_create(organization=organization, name="Partners", actor=OPERATOR)
    services.collaborator_add(organization=organization, email="hank@globex.test", actor=OPERATOR)
    hank = other_organization.home_users.get(email="hank@globex.test")
    services.group_members_add(organization=organization, group=custom, user_ids=[manual.pk, hank.pk], actor=OPERATOR)
    services.group_grant_add(
        organization=organization,
        group=custom,
        instance=cms_instance,
        roles=[admins_role, editors_role],
        actor=OPERATOR,
    )
    return {"scim_user": scim_user, "manual": manual, "hank": hank, "custom": custom, "scim_group": scim_group}


def test_products_list_shows_instances_with_roles(admin_client, cms_instance, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("product_list"))
    html = response.content.decode()
    assert "Content Management System" in html
    assert "Content Admins, Content Editors" in html
    assert cms_instance.instance_id in html
    assert "Opti ID Admin Center" in html


def test_product_detail_shows_who_has_each_role_and_through_which_group(
    admin_client, access_setup, cms_instance, django_assert_max_num_queries
):
    with django_assert_max_num_queries(10):
        response = admin_client.get(reverse("product_detail", args=[cms_instance.pk]))
    html = response.content.decode()
    product_group = Group.objects.get(product_instance=cms_instance, role__key="content_admins")
    assert reverse("group_detail", args=[product_group.pk]) in html
    rows = {
        (r["group__memberships__user__email"], r["role__name"], r["group__name"]) for r in response.context["access"]
    }
    assert ("sam@acme.test", "Content Editors", "Opti_SCIM_Editors") in rows
    assert ("hank@globex.test", "Content Admins", "Partners") in rows
    assert not any(email == "gone@acme.test" for email, _, _ in rows)


def test_access_export_is_a_csv_of_effective_access(admin_client, access_setup, cms_instance):
    response = admin_client.get(reverse("access_export_csv"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="access-acme-')
    rows = read_csv(response)
    assert rows[0] == [
        "email",
        "given_name",
        "family_name",
        "product",
        "instance",
        "instance_id",
        "role",
        "group",
        "group_kind",
        "source",
    ]
    body = {tuple(r) for r in rows[1:]}
    iid = cms_instance.instance_id
    cms = "Content Management System"
    assert (
        "sam@acme.test",
        "Sam",
        "Scim",
        cms,
        "Production",
        iid,
        "Content Editors",
        "Opti_SCIM_Editors",
        "scim",
        "scim",
    ) in body
    assert next(r for r in body if r[0] == "hank@globex.test")[:1] == ("hank@globex.test",)
    assert {r[9] for r in body if r[0] == "hank@globex.test"} == {"collaborator"}
    # Formula-looking cells are neutralised; inactive users have no effective access.
    assert (
        "'=cmd@acme.test",
        "'@Mal",
        "Icious",
        cms,
        "Production",
        iid,
        "Content Admins",
        "Partners",
        "custom",
        "manual",
    ) in body
    assert not any(r[0] == "gone@acme.test" for r in body)
    assert len(body) == 1 + 2 + 2 + 1  # sam, manual x2 roles, hank x2 roles, the admin's Admin Center role
    assert ("admin@acme.test", "Opti ID Admin Center", "Administrator") in {(r[0], r[3], r[6]) for r in body}


def test_access_export_matches_the_effective_access_selector(admin_client, organization, access_setup):
    from admincenter.selectors import effective_access

    rows = read_csv(admin_client.get(reverse("access_export_csv")))[1:]
    for user in (access_setup["scim_user"], access_setup["hank"]):
        expected = {
            (a.product, a.instance, a.role, a.group) for a in effective_access(organization=organization, user=user)
        }
        got = {(r[3], r[4], r[6], r[7]) for r in rows if r[0] == user.email}
        assert got == expected


def test_access_export_filters_by_product_or_instance(admin_client, organization, access_setup, cms_instance):
    odp = services.product_instance_create(organization=organization, product_code="odp", nickname="EU", actor=OPERATOR)
    services.group_grant_add(
        organization=organization,
        group=access_setup["custom"],
        instance=odp,
        roles=[odp.product.roles.first()],
        actor=OPERATOR,
    )
    all_rows = read_csv(admin_client.get(reverse("access_export_csv")))[1:]
    odp_rows = read_csv(admin_client.get(reverse("access_export_csv"), {"product": "odp"}))[1:]
    cms_rows = read_csv(admin_client.get(reverse("access_export_csv"), {"instance": cms_instance.instance_id}))[1:]
    assert len(odp_rows) == 2 and {r[3] for r in odp_rows} == {"Optimizely Data Platform"}
    assert len(cms_rows) == 5
    assert len(all_rows) == 8  # + the admin's Admin Center role
    page = admin_client.get(reverse("access_export"))
    assert b"Download CSV" in page.content and b'<label for="id_product">' in page.content


def test_access_export_is_one_query_for_200_users(
    admin_client, organization, cms_instance, django_assert_max_num_queries
):
    users = [UserFactory(organization=organization, email=f"u{i:03d}@acme.test") for i in range(200)]
    role = cms_instance.product.roles.first()
    for g in range(50):
        group = GroupFactory(organization=organization, name=f"G{g}", members=users[g * 4 : g * 4 + 8])
        services.group_grant_add(
            organization=organization, group=group, instance=cms_instance, roles=[role], actor=OPERATOR
        )
    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("access_export_csv"))
        rows = read_csv(response)
    memberships = sum(len(users[g * 4 : g * 4 + 8]) for g in range(50))
    assert len(rows) == 1 + memberships + 1  # header, one row per member and grant, the admin's Admin Center role


def test_other_organizations_access_is_never_exported(admin_client, access_setup, other_organization):
    other_instance = services.product_instance_create(
        organization=other_organization, product_code="cms", nickname="Theirs", actor=OPERATOR
    )
    group = Group.objects.get(organization=other_organization, name="Globex Sales")
    services.group_grant_add(
        organization=other_organization,
        group=group,
        instance=other_instance,
        roles=[other_instance.product.roles.first()],
        actor=OPERATOR,
    )
    rows = read_csv(admin_client.get(reverse("access_export_csv")))
    assert not any("Theirs" in r for r in rows)
    assert not any(r[7] == "Globex Sales" for r in rows[1:])
