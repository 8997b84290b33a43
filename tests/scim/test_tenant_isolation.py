"""Tenant isolation (docs/architecture.md#tenancy, docs/domain.md#what-scim-may-not-do): with
organization A's token, every endpoint answers organization B's objects with 404 (by id) or an empty list
(by filter), B's ids cannot be used as members or managers, and nothing of B changes."""

import json

import pytest
from django.forms.models import model_to_dict

from admincenter.models import AuditEvent, Group, GroupKind, GroupMembership, User
from tests.scim.helpers import (
    EMPTY_LIST,
    ENTERPRISE_URN,
    ScimClient,
    assert_error,
    assert_scim,
    expected_group,
    expected_user,
    group_body,
    op,
    patch_body,
    user_body,
)


@pytest.fixture
def theirs(other_organization):
    user = other_organization.home_users.get(email="hank@globex.test")
    group = Group.objects.get(organization=other_organization, name="Globex Sales")
    User.objects.filter(pk=user.pk).update(external_id="globex-ext", given_name="Hank", title="Sales")
    Group.objects.filter(pk=group.pk).update(external_id="globex-group-ext")
    user.refresh_from_db()
    group.refresh_from_db()
    return {
        "user": user,
        "group": group,
        "everyone": Group.objects.get(organization=other_organization, system_key="everyone"),
    }


def _snapshot(organization) -> str:
    users = [model_to_dict(u) for u in User.objects.filter(home_organization=organization).order_by("pk")]
    groups = [
        model_to_dict(g, exclude=["members"]) for g in Group.objects.filter(organization=organization).order_by("pk")
    ]
    members = sorted(
        (str(g), str(u))
        for g, u in GroupMembership.objects.filter(group__organization=organization).values_list("group_id", "user_id")
    )
    events = AuditEvent.objects.filter(organization=organization).count()
    return json.dumps([users, groups, members, events], default=str, sort_keys=True)


USER_REQUESTS = [
    ("GET", None),
    ("PUT", {"userName": "hank@globex.test", "title": "Hijacked"}),
    ("PUT", {"userName": "stolen@acme.test"}),
    ("PATCH", patch_body(op("replace", "active", False))),
    ("PATCH", patch_body(op("replace", value={"title": "Hijacked", "name.givenName": "X"}))),
    ("DELETE", None),
]
GROUP_REQUESTS = [
    ("GET", None),
    ("PUT", group_body("Globex Sales", members=[])),
    ("PATCH", patch_body(op("remove", "members"))),
    ("PATCH", patch_body(op("replace", "displayName", "Hijacked"))),
    ("DELETE", None),
]


@pytest.mark.parametrize(("method", "body"), USER_REQUESTS, ids=[f"{m}-{i}" for i, (m, _) in enumerate(USER_REQUESTS)])
def test_another_organizations_user_is_404_by_id(scim, other_organization, theirs, method, body):
    before = _snapshot(other_organization)
    user = theirs["user"]
    response = scim.request(method, f"/Users/{user.pk}", body)
    assert_error(response, 404, None, f"User {user.pk} not found.")
    assert _snapshot(other_organization) == before


@pytest.mark.parametrize(
    ("method", "body"), GROUP_REQUESTS, ids=[f"{m}-{i}" for i, (m, _) in enumerate(GROUP_REQUESTS)]
)
@pytest.mark.parametrize("which", ["group", "everyone"])
def test_another_organizations_group_is_404_by_id(scim, other_organization, theirs, method, body, which):
    before = _snapshot(other_organization)
    group = theirs[which]
    response = scim.request(method, f"/Groups/{group.pk}", body)
    assert_error(response, 404, None, f"Group {group.pk} not found.")
    assert _snapshot(other_organization) == before


@pytest.mark.parametrize(
    "template",
    [
        'userName eq "hank@globex.test"',
        'userName eq "HANK@GLOBEX.TEST"',
        'emails[type eq "work"].value eq "hank@globex.test"',
        'email co "globex"',
        'externalId eq "globex-ext"',
        'id eq "{user}"',
        'name.givenName eq "Hank"',
        'title eq "Sales"',
        'manager eq "{user}"',
        f'{ENTERPRISE_URN}:manager eq "{{user}}"',
    ],
)
def test_user_lists_and_filters_never_show_another_organization(scim, theirs, template):
    expression = template.format(user=theirs["user"].pk)
    assert_scim(scim.get("/Users", params={"filter": expression}), 200, EMPTY_LIST)


@pytest.mark.parametrize(
    "template",
    [
        'displayName eq "Globex Sales"',
        'displayName eq "globex sales"',
        'displayName co "Globex"',
        'externalId eq "globex-group-ext"',
        'id eq "{group}"',
        'members eq "{user}"',
        'members.value eq "{user}"',
        'members[value eq "{user}"]',
    ],
)
def test_group_lists_and_filters_never_show_another_organization(scim, theirs, template):
    expression = template.format(user=theirs["user"].pk, group=theirs["group"].pk)
    assert_scim(scim.get("/Groups", params={"filter": expression}), 200, EMPTY_LIST)


def test_unfiltered_lists_hold_only_this_organization(scim, scim_organization, theirs, scim_managed_user, scim_group):
    users = assert_scim(scim.get("/Users?count=1000"), 200)
    assert {r["id"] for r in users["Resources"]} == {
        str(pk) for pk in User.objects.filter(home_organization=scim_organization).values_list("pk", flat=True)
    }
    assert "globex" not in json.dumps(users).lower()
    groups = assert_scim(scim.get("/Groups?count=1000"), 200)
    assert [r["id"] for r in groups["Resources"]] == [str(scim_group.pk)]
    assert "globex" not in json.dumps(groups).lower()


def test_the_other_token_sees_only_its_own_organization(
    other_organization_token, theirs, scim_managed_user, scim_group
):
    other = ScimClient(other_organization_token)
    assert_scim(other.get(f"/Users/{theirs['user'].pk}"), 200, expected_user(theirs["user"]))
    assert_scim(other.get(f"/Groups/{theirs['group'].pk}"), 200, expected_group(theirs["group"]))
    assert_error(other.get(f"/Users/{scim_managed_user.pk}"), 404, None, f"User {scim_managed_user.pk} not found.")
    assert_error(other.get(f"/Groups/{scim_group.pk}"), 404, None, f"Group {scim_group.pk} not found.")
    assert_scim(other.get('/Users?filter=userName eq "scim.user@acme.test"'), 200, EMPTY_LIST)


def _refused(user_id) -> str:
    return (
        "Members must be users of this organization (not collaborators or users of other organizations); "
        f"unknown ids: {user_id}"
    )


def test_another_organizations_user_cannot_become_a_member(scim, other_organization, theirs, scim_group):
    before = _snapshot(other_organization)
    mine = expected_group(scim_group)
    hank = theirs["user"]
    value = [{"value": str(hank.pk)}]
    for method, path, body in (
        ("POST", "/Groups", group_body("Opti_SCIM_New", members=[hank])),
        ("PUT", f"/Groups/{scim_group.pk}", group_body("Opti_SCIM_Engineering", members=[hank])),
        ("PATCH", f"/Groups/{scim_group.pk}", patch_body(op("add", "members", value))),
        ("PATCH", f"/Groups/{scim_group.pk}", patch_body(op("replace", "members", value))),
    ):
        assert_error(scim.request(method, path, body), 400, "invalidValue", _refused(hank.pk))
    assert expected_group(scim_group) == mine
    assert not Group.objects.filter(name="Opti_SCIM_New").exists()
    assert _snapshot(other_organization) == before


def test_another_organizations_group_cannot_become_a_member(scim, theirs, scim_group):
    """It is unknown here, not reported as a (nested) group."""
    response = scim.patch(
        f"/Groups/{scim_group.pk}", patch_body(op("add", "members", [{"value": str(theirs["group"].pk)}]))
    )
    assert_error(response, 400, "invalidValue", _refused(theirs["group"].pk))


def test_removing_another_organizations_user_is_a_no_op(scim, other_organization, theirs, scim_group):
    before = _snapshot(other_organization)
    hank = theirs["user"]
    response = scim.patch(f"/Groups/{scim_group.pk}", patch_body(op("remove", f'members[value eq "{hank.pk}"]')))
    assert_scim(response, 200, expected_group(scim_group))
    assert GroupMembership.objects.filter(user=hank, group=theirs["group"]).exists()
    assert _snapshot(other_organization) == before


def test_another_organizations_user_cannot_be_a_manager(scim, other_organization, theirs, scim_managed_user):
    before = _snapshot(other_organization)
    hank = theirs["user"]
    detail = f"manager {hank.pk} is not a user of this organization."
    response = scim.patch(
        f"/Users/{scim_managed_user.pk}", patch_body(op("add", f"{ENTERPRISE_URN}:manager", str(hank.pk)))
    )
    assert_error(response, 400, "invalidValue", detail)
    response = scim.post("/Users", user_body("new@acme.test", **{ENTERPRISE_URN: {"manager": {"value": str(hank.pk)}}}))
    assert_error(response, 400, "invalidValue", detail)
    assert _snapshot(other_organization) == before


def test_another_organizations_names_do_not_collide(scim, theirs):
    """Group names and the uniqueness of groups are per organization."""
    response = scim.post("/Groups", group_body("Globex Sales"))
    body = assert_scim(response, 201)
    assert Group.objects.get(pk=body["id"]).kind == GroupKind.SCIM
    assert theirs["group"].name == "Globex Sales"


def test_emails_are_global_so_the_conflict_never_names_the_owner(scim, other_organization, theirs):
    before = _snapshot(other_organization)
    body = assert_error(
        scim.post("/Users", user_body("HANK@globex.test")),
        409,
        "uniqueness",
        "The email address hank@globex.test is already in use.",
    )
    assert "Globex" not in body["detail"]
    assert _snapshot(other_organization) == before
