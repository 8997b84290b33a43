"""/Groups (docs/domain.md#scim-sees-only-scim-groups, docs/domain.md#reserved-names-and-collisions,
docs/domain.md#no-nested-groups, docs/domain.md#members-are-home-users): only SCIM groups are
visible; names never collide with other kinds; members are home users of the organization;
membership PATCHes in every form the IdPs send."""

import json
import uuid

import pytest

from admincenter import services
from admincenter.models import (
    AuditEvent,
    Group,
    GroupGrant,
    GroupKind,
    GroupMembership,
    OrgMembership,
    Role,
    SystemGroupKey,
    User,
)
from tests.conftest import OPERATOR
from tests.factories import GroupFactory, UserFactory
from tests.scim.helpers import (
    BASE,
    EMPTY_LIST,
    ENTRA_GROUP_URN,
    GROUP_URN,
    assert_error,
    assert_scim,
    expected_group,
    expected_list,
    group_body,
    member_ids,
    op,
    patch_body,
)


@pytest.fixture
def people(scim_organization, sso_connection):
    return [
        UserFactory(
            organization=scim_organization, email=f"p{i}@acme.test", source="scim", scim_connection=sso_connection
        )
        for i in range(4)
    ]


@pytest.fixture
def group(scim_organization, sso_connection, people):
    """A SCIM group with the first two people as members."""
    return GroupFactory(
        organization=scim_organization,
        name="Opti_SCIM_Sales",
        kind=GroupKind.SCIM,
        scim_connection=sso_connection,
        external_id="ext-sales",
        members=people[:2],
    )


@pytest.fixture
def product_group(scim_organization, cms_instance):
    return Group.objects.get(
        organization=scim_organization,
        kind=GroupKind.PRODUCT,
        product_instance=cms_instance,
        role__key="content_admins",
    )


def _created(response) -> Group:
    body = assert_scim(response, 201)
    group = Group.objects.get(pk=body["id"])
    assert response["Location"] == f"{BASE}/Groups/{group.pk}" == body["meta"]["location"]
    return group


def _ids(*users) -> set[str]:
    return {str(u.pk) for u in users}


def _events(*actions) -> list[tuple]:
    events = AuditEvent.objects.filter(actor_type="scim_token").exclude(action="scim.request.rejected")
    if actions:
        events = events.filter(action__in=actions)
    return list(events.order_by("id").values_list("action", "before", "after"))


def _patch(scim, group, *operations, query=""):
    return scim.patch(f"/Groups/{group.pk}{query}", patch_body(*operations))


# --- POST ---------------------------------------------------------------------------------------------


def test_post_with_members(scim, scim_organization, sso_connection, people):
    """PingOne (docs/idp-notes.md#pingone) and older Okta pushes carry members."""
    response = scim.post("/Groups", group_body("Accounting", members=people[:2]))
    group = _created(response)
    body = json.loads(response.content)
    assert body == expected_group(group)
    assert sorted(body["members"], key=lambda m: m["display"]) == [
        {"value": str(u.pk), "display": u.email, "type": "User", "$ref": f"{BASE}/Users/{u.pk}"} for u in people[:2]
    ]
    assert (group.kind, group.scim_connection_id, group.organization_id, group.external_id) == (
        GroupKind.SCIM,
        sso_connection.pk,
        scim_organization.pk,
        "",
    )
    assert set(GroupMembership.objects.filter(group=group).values_list("managed_by", flat=True)) == {"scim"}
    assert not GroupGrant.objects.filter(group=group).exists()


@pytest.mark.parametrize("members", [None, []], ids=["no-members-key", "empty-members"])
def test_post_without_members(scim, members):
    response = scim.post("/Groups", group_body("Test SCIMv2", members=members))
    group = _created(response)
    assert json.loads(response.content) == expected_group(group, members=[])
    assert json.loads(response.content)["members"] == []


def test_post_with_the_entra_schema_uri_external_id_and_meta(scim):
    body = {
        "schemas": [GROUP_URN, ENTRA_GROUP_URN],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
        "meta": {"resourceType": "Group"},
    }
    response = scim.post("/Groups", body)
    group = _created(response)
    assert json.loads(response.content) == expected_group(group, members=[])
    assert group.external_id == "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"


def test_post_trims_the_name(scim):
    group = _created(scim.post("/Groups", group_body("  Opti_SCIM_Spaced  ")))
    assert group.name == "Opti_SCIM_Spaced"


def test_post_members_with_display_type_and_ref(scim, people):
    members = [
        {"value": str(people[0].pk), "display": "ignored", "type": "User", "$ref": None},
        {"value": str(people[1].pk).upper()},
    ]
    group = _created(scim.post("/Groups", {"displayName": "Mixed", "members": members}))
    assert member_ids(group) == _ids(*people[:2])


def test_post_honours_excluded_attributes(scim, people):
    response = scim.post("/Groups?excludedAttributes=members", group_body("NoMembersShown", members=people[:1]))
    group = _created(response)
    assert json.loads(response.content) == expected_group(group, with_members=False)


@pytest.mark.parametrize("name", ["OPTI_SCIM_SALES", "opti_scim_sales", " Opti_SCIM_Sales "])
def test_duplicate_display_name_in_any_case_is_409(scim, group, name):
    assert_error(
        scim.post("/Groups", group_body(name)),
        409,
        "uniqueness",
        "A SCIM group named 'Opti_SCIM_Sales' already exists in this organization.",
    )
    assert Group.objects.filter(name__iexact="opti_scim_sales").count() == 1


@pytest.mark.parametrize("name", ["Everyone", "everyone", "Admin Center Administrators", "ADMINISTRATORS"])
def test_reserved_names_are_409_with_a_rename_hint(scim, scim_organization, name):
    before = Group.objects.count()
    assert_error(
        scim.post("/Groups", group_body(name)),
        409,
        "uniqueness",
        f"'{name}' is a reserved group name in the Admin Center. Rename the group on the IdP side "
        f"(for example Opti_SCIM_{name}).",
    )
    assert Group.objects.count() == before


def test_custom_group_name_is_409_suggesting_rename_or_deletion(scim, custom_group):
    body = assert_error(
        scim.post("/Groups", group_body("marketing")),
        409,
        "uniqueness",
        "A custom group named 'Marketing' already exists in this organization. Rename the group on the IdP side "
        "(for example Opti_SCIM_marketing) or delete the custom group in the Admin Center first.",
    )
    assert "Opti_SCIM_" in body["detail"] and "delete the custom group" in body["detail"]
    custom_group.refresh_from_db()
    assert custom_group.kind == GroupKind.CUSTOM


def test_product_group_name_is_409_suggesting_rename_only(scim, product_group):
    body = assert_error(
        scim.post("/Groups", group_body(product_group.name)),
        409,
        "uniqueness",
        f"'{product_group.name}' is the name of a product group in the Admin Center. Rename the group on the "
        f"IdP side (for example Opti_SCIM_{product_group.name}).",
    )
    assert "delete" not in body["detail"].lower()


def test_display_name_is_required(scim):
    for body in ({"schemas": [GROUP_URN]}, group_body("   "), group_body(""), {"displayName": 5}):
        assert_error(scim.post("/Groups", body), 400, "invalidValue", "displayName is required.")


@pytest.mark.parametrize(
    ("attributes", "detail"),
    [
        ({"displayName": "x" * 256}, "'displayName' is longer than 255 characters."),
        ({"displayName": "Long External", "externalId": "e" * 256}, "'externalId' is longer than 255 characters."),
    ],
)
def test_values_longer_than_their_columns_are_400(scim, group, attributes, detail):
    """Not a DataError (500) on PostgreSQL, not silently stored on SQLite."""
    before = Group.objects.count()
    assert_error(scim.post("/Groups", {"schemas": [GROUP_URN], **attributes}), 400, "invalidValue", detail)
    assert Group.objects.count() == before
    snapshot = expected_group(group)
    assert_error(scim.put(f"/Groups/{group.pk}", {"schemas": [GROUP_URN], **attributes}), 400, "invalidValue", detail)
    assert_error(_patch(scim, group, op("replace", value=attributes)), 400, "invalidValue", detail)
    assert expected_group(group) == snapshot


def test_values_of_the_column_size_are_accepted(scim):
    body = assert_scim(scim.post("/Groups", {"displayName": "n" * 255, "externalId": "e" * 255}), 201)
    assert (len(body["displayName"]), len(body["externalId"])) == (255, 255)


def test_external_id_must_be_a_string(scim):
    assert_error(
        scim.post("/Groups", group_body("X", externalId=7)), 400, "invalidSyntax", "'externalId' must be a string."
    )


@pytest.mark.parametrize(
    "members",
    [[{"display": "no value"}], [{"value": 7}], ["a-string"], {"value": ""}, "members"],
    ids=["no-value", "number", "string-element", "empty-value", "not-a-list"],
)
def test_malformed_members_are_400_invalid_syntax(scim, members):
    response = scim.post("/Groups", {"displayName": "Bad", "members": members})
    body = assert_error(response, 400, "invalidSyntax")
    assert "members" in body["detail"]
    assert not Group.objects.filter(name="Bad").exists()


# --- docs/domain.md#members-are-home-users, docs/domain.md#no-nested-groups --------------------------------------


def _unknown_detail(*ids) -> str:
    return (
        "Members must be users of this organization (not collaborators or users of other organizations); "
        "unknown ids: " + ", ".join(sorted(ids))
    )


def test_members_of_another_organization_are_refused(scim, people, other_organization):
    hank = other_organization.home_users.get(email="hank@globex.test")
    response = scim.post("/Groups", group_body("Mixed", members=[people[0], hank]))
    assert_error(response, 400, "invalidValue", _unknown_detail(str(hank.pk)))
    assert not Group.objects.filter(name="Mixed").exists()
    assert not AuditEvent.objects.filter(action="group.create").exists()


def test_collaborators_are_refused(scim, scim_organization, people, other_organization):
    hank = other_organization.home_users.get(email="hank@globex.test")
    OrgMembership.objects.create(user=hank, organization=scim_organization)
    assert_error(
        scim.post("/Groups", group_body("Mixed", members=[hank])), 400, "invalidValue", _unknown_detail(str(hank.pk))
    )


def test_unknown_ids_are_listed(scim, people):
    unknown = str(uuid.uuid4())
    response = scim.post("/Groups", group_body("Mixed", members=[people[0], unknown, "addUser2"]))
    assert_error(response, 400, "invalidValue", _unknown_detail(unknown, "addUser2"))


def test_group_ids_are_refused_as_nesting(scim, group, people, other_organization):
    """Entra may add a group as a member (docs/idp-notes.md#entra-nested-groups)."""
    assert_error(
        scim.post("/Groups", group_body("Nested", members=[people[0], group])),
        400,
        "invalidValue",
        f"Groups cannot be members of groups (nested groups are not supported): {group.pk}",
    )
    assert_error(
        scim.post("/Groups", {"displayName": "Nested", "members": [{"value": str(people[0].pk), "type": "Group"}]}),
        400,
        "invalidValue",
        f"Groups cannot be members of groups (nested groups are not supported): {people[0].pk}",
    )
    # Other bad ids next to a group are reported as unknown, not as groups.
    hank = other_organization.home_users.get(email="hank@globex.test")
    assert_error(
        scim.post("/Groups", group_body("Nested", members=[group, hank, "nope"])),
        400,
        "invalidValue",
        f"Groups cannot be members of groups (nested groups are not supported): {group.pk}; "
        f"unknown ids: {', '.join(sorted([str(hank.pk), 'nope']))}",
    )
    assert not Group.objects.filter(name="Nested").exists()


def test_local_home_users_may_be_members(scim, manual_user):
    group = _created(scim.post("/Groups", group_body("WithLocal", members=[manual_user])))
    assert member_ids(group) == _ids(manual_user)


# --- GET -----------------------------------------------------------------------------------------------------


def test_get_by_id_with_members(scim, group, people):
    assert_scim(scim.get(f"/Groups/{group.pk}"), 200, expected_group(group, members=people[:2]))


@pytest.mark.parametrize(
    "query", ["excludedAttributes=members", "excludedAttributes=MEMBERS", "attributes=displayName,externalId"]
)
def test_get_by_id_without_members(scim, group, query):
    assert_scim(scim.get(f"/Groups/{group.pk}?{query}"), 200, expected_group(group, with_members=False))


def test_get_with_attributes_members_value(scim, group, people):
    full = expected_group(group)
    expected = {
        "schemas": full["schemas"],
        "id": full["id"],
        "meta": full["meta"],
        "members": [{"value": str(u.pk)} for u in people[:2]],
    }
    assert_scim(scim.get(f"/Groups/{group.pk}?attributes=members.value"), 200, expected)
    without_refs = {**full, "members": [{k: v for k, v in m.items() if k != "$ref"} for m in full["members"]]}
    assert_scim(scim.get(f"/Groups/{group.pk}?excludedAttributes=members.$ref"), 200, without_refs)


def test_list_shows_only_scim_groups(scim, scim_organization, group, custom_group, product_group, sso_connection):
    other = GroupFactory(
        organization=scim_organization, name="Opti_SCIM_Other", kind=GroupKind.SCIM, scim_connection=sso_connection
    )
    released = GroupFactory(organization=scim_organization, name="Formerly SCIM", kind=GroupKind.CUSTOM)
    assert released.pk
    assert_scim(scim.get("/Groups"), 200, expected_list([expected_group(group), expected_group(other)]))
    assert_scim(
        scim.get("/Groups?startIndex=1&count=1000&excludedAttributes=members"),
        200,
        expected_list([expected_group(group, with_members=False), expected_group(other, with_members=False)]),
    )
    assert_scim(
        scim.get("/Groups?startIndex=2&count=100"), 200, expected_list([expected_group(other)], total=2, start=2)
    )


def test_empty_group_list_is_200(scim):
    assert_scim(scim.get("/Groups"), 200, EMPTY_LIST)
    assert_scim(scim.get("/Groups?startIndex=1&count=100"), 200, EMPTY_LIST)


@pytest.mark.parametrize("kind", ["everyone", "admins", "custom", "product", "released"])
def test_groups_of_other_kinds_are_invisible(scim, scim_organization, custom_group, product_group, people, kind):
    target = {
        "everyone": lambda: Group.objects.get(organization=scim_organization, system_key=SystemGroupKey.EVERYONE),
        "admins": lambda: Group.objects.get(
            organization=scim_organization, system_key=SystemGroupKey.ADMIN_CENTER_ADMINS
        ),
        "custom": lambda: custom_group,
        "product": lambda: product_group,
        "released": lambda: GroupFactory(organization=scim_organization, name="Former", kind=GroupKind.CUSTOM),
    }[kind]()
    members_before = member_ids(target)
    name_before = target.name
    not_found = f"Group {target.pk} not found."
    assert_error(scim.get(f"/Groups/{target.pk}"), 404, None, not_found)
    assert_error(scim.put(f"/Groups/{target.pk}", group_body("Taken", members=[])), 404, None, not_found)
    assert_error(_patch(scim, target, op("remove", "members")), 404, None, not_found)
    assert_error(_patch(scim, target, op("add", "members", [{"value": str(people[0].pk)}])), 404, None, not_found)
    assert_error(scim.delete(f"/Groups/{target.pk}"), 404, None, not_found)
    assert_scim(scim.get(f'/Groups?filter=displayName eq "{target.name}"'), 200, EMPTY_LIST)
    assert_scim(scim.get(f'/Groups?filter=id eq "{target.pk}"'), 200, EMPTY_LIST)
    assert str(target.pk) not in scim.get("/Groups?count=1000").content.decode()
    target.refresh_from_db()
    assert (target.name, member_ids(target)) == (name_before, members_before)


@pytest.mark.parametrize("group_id", [str(uuid.uuid4()), "abf4dd94", "not a uuid"])
def test_unknown_group_id_is_404(scim, group_id):
    assert_error(scim.get(f"/Groups/{group_id}"), 404, None, f"Group {group_id} not found.")


# --- PUT ---------------------------------------------------------------------------------------------------------


def test_put_replaces_the_member_list(scim, group, people):
    """PingOne and Okta AIW overwrite membership with PUT (docs/idp-notes.md#pingone)."""
    body = {
        "schemas": [GROUP_URN],
        "id": str(group.pk),
        "displayName": "Opti_SCIM_Sales",
        "members": [{"value": str(people[0].pk)}, {"value": str(people[2].pk), "display": people[2].email}],
    }
    response = scim.put(f"/Groups/{group.pk}", body)
    assert_scim(response, 200, expected_group(group))
    assert member_ids(group) == _ids(people[0], people[2])
    assert _events() == [
        ("group.member.add", {}, {"members": [people[2].email], "count": 1}),
        ("group.member.remove", {"members": [people[1].email], "count": 1}, {}),
    ]


def test_put_renames_and_keeps_external_id_when_left_out(scim, group, people):
    response = scim.put(f"/Groups/{group.pk}", group_body("Opti_SCIM_Sales EMEA", members=people[:2]))
    body = assert_scim(response, 200, expected_group(group))
    assert (body["displayName"], body["externalId"]) == ("Opti_SCIM_Sales EMEA", "ext-sales")
    assert _events() == [("group.rename", {"name": "Opti_SCIM_Sales"}, {"name": "Opti_SCIM_Sales EMEA"})]


def test_put_with_an_empty_member_list_clears(scim, group):
    assert_scim(scim.put(f"/Groups/{group.pk}", group_body("Opti_SCIM_Sales", members=[])), 200, expected_group(group))
    assert member_ids(group) == set()


def test_put_without_members_keeps_them(scim, group, people):
    """Decision: like user PUTs, an attribute left out is kept."""
    assert_scim(scim.put(f"/Groups/{group.pk}", group_body("Opti_SCIM_Sales")), 200, expected_group(group))
    assert member_ids(group) == _ids(*people[:2])


def test_put_id_mismatch_is_400(scim, group):
    body = {**group_body("Opti_SCIM_Sales"), "id": str(uuid.uuid4())}
    assert_error(scim.put(f"/Groups/{group.pk}", body), 400, "mutability", "'id' is immutable and must match the URL.")


def test_put_rename_to_a_taken_name_is_409(scim, group, custom_group):
    assert_error(
        scim.put(f"/Groups/{group.pk}", group_body("Marketing", members=[])),
        409,
        "uniqueness",
        "A custom group named 'Marketing' already exists in this organization. Rename the group on the IdP side "
        "(for example Opti_SCIM_Marketing) or delete the custom group in the Admin Center first.",
    )
    group.refresh_from_db()
    assert group.name == "Opti_SCIM_Sales" and len(member_ids(group)) == 2


def test_put_with_a_bad_member_changes_nothing(scim, group, people):
    before = expected_group(group)
    response = scim.put(f"/Groups/{group.pk}", group_body("Renamed", members=[people[3], "unknown-id"]))
    assert_error(response, 400, "invalidValue", _unknown_detail("unknown-id"))
    assert expected_group(group) == before


def test_put_case_only_rename_of_itself_is_allowed(scim, group):
    body = assert_scim(scim.put(f"/Groups/{group.pk}", group_body("OPTI_SCIM_SALES")), 200, expected_group(group))
    assert body["displayName"] == "OPTI_SCIM_SALES"


# --- PATCH -------------------------------------------------------------------------------------------------------


def test_patch_add_members(scim, group, people):
    """Entra: one Add with several members, $ref null (docs/idp-notes.md#entra-patch-forms); Okta: with display."""
    response = _patch(
        scim,
        group,
        op(
            "Add",
            "members",
            [{"$ref": None, "value": str(people[2].pk)}, {"value": str(people[3].pk), "display": people[3].email}],
        ),
    )
    assert_scim(response, 200, expected_group(group))
    assert member_ids(group) == _ids(*people)
    assert _events() == [("group.member.add", {}, {"members": [people[2].email, people[3].email], "count": 2})]


def test_patch_add_existing_member_is_a_no_op(scim, group, people):
    before = expected_group(group)
    assert_scim(_patch(scim, group, op("add", "members", [{"value": str(people[0].pk)}])), 200, before)
    assert _events() == []


def test_patch_remove_with_a_value_array_removes_only_those(scim, group, people):
    """Entra without the compliance flag (docs/idp-notes.md#entra-patch-forms)."""
    response = _patch(scim, group, op("Remove", "members", [{"value": str(people[1].pk)}]))
    assert_scim(response, 200, expected_group(group))
    assert member_ids(group) == _ids(people[0])


@pytest.mark.parametrize(
    "make_path",
    [
        lambda u: f'members[value eq "{u.pk}"]',
        lambda u: f'MEMBERS[VALUE EQ "{u.pk}"]',
        lambda u: f'members[value eq "{u.pk}" or value eq "removeUser2"]',
        lambda u: f'urn:ietf:params:scim:schemas:core:2.0:Group:members[value eq "{u.pk}"]',
    ],
)
def test_patch_remove_with_a_value_filter(scim, group, people, make_path):
    assert_scim(_patch(scim, group, op("remove", make_path(people[0]))), 200, expected_group(group))
    assert member_ids(group) == _ids(people[1])


def test_patch_remove_without_value_clears_the_group(scim, group):
    assert_scim(_patch(scim, group, op("remove", "members")), 200, expected_group(group))
    assert member_ids(group) == set()


def test_patch_remove_of_a_non_member_is_a_no_op(scim, group, people):
    before = expected_group(group)
    response = _patch(
        scim,
        group,
        op("remove", f'members[value eq "{people[3].pk}"]'),
        op("remove", "members", [{"value": str(uuid.uuid4())}, {"value": "not-an-id"}]),
    )
    assert_scim(response, 200, before)
    assert _events() == []


def test_patch_replace_members_sets_the_whole_list(scim, group, people):
    """Okta Push Now (docs/idp-notes.md#okta-group-patch), and Entra's gallery-app shape."""
    response = _patch(
        scim,
        group,
        op("replace", "members", [{"value": str(people[2].pk), "display": "x"}, {"value": str(people[3].pk)}]),
    )
    assert_scim(response, 200, expected_group(group))
    assert member_ids(group) == _ids(people[2], people[3])
    response = _patch(scim, group, op("replace", value={"members": [{"value": str(people[0].pk)}]}))
    assert_scim(response, 200, expected_group(group))
    assert member_ids(group) == _ids(people[0])


def test_patch_replace_members_with_an_empty_list_clears(scim, group):
    assert_scim(_patch(scim, group, op("replace", "members", [])), 200, expected_group(group))
    assert member_ids(group) == set()


@pytest.mark.parametrize(
    ("value", "expected_name", "expected_external"),
    [
        ({"displayName": "MSADPJJZWBUS"}, "MSADPJJZWBUS", "ext-sales"),
        ({"externalId": "new-external"}, "Opti_SCIM_Sales", "new-external"),
        ({"id": "{id}", "displayName": "Test SCIMv2"}, "Test SCIMv2", "ext-sales"),
        ({"id": "a-different-id", "displayName": "Test SCIMv2"}, "Test SCIMv2", "ext-sales"),
        ({"schemas": [GROUP_URN], "meta": {"x": 1}, "displayName": "Meta Ignored"}, "Meta Ignored", "ext-sales"),
    ],
    ids=["displayName", "externalId", "okta-id-and-name", "other-body-id", "schemas-meta"],
)
def test_patch_pathless_replace(scim, group, value, expected_name, expected_external):
    """The body id is ignored: the URL wins (docs/idp-notes.md#okta-group-patch)."""
    value = {k: (v.format(id=group.pk) if isinstance(v, str) else v) for k, v in value.items()}
    body = assert_scim(_patch(scim, group, op("replace", value=value)), 200, expected_group(group))
    assert (body["id"], body["displayName"], body["externalId"]) == (str(group.pk), expected_name, expected_external)


def test_patch_replace_display_name_path(scim, group):
    body = assert_scim(
        _patch(scim, group, op("Replace", "displayName", "Opti_SCIM_Renamed")), 200, expected_group(group)
    )
    assert body["displayName"] == "Opti_SCIM_Renamed"
    assert _events() == [("group.rename", {"name": "Opti_SCIM_Sales"}, {"name": "Opti_SCIM_Renamed"})]


def test_patch_remove_external_id(scim, group):
    body = assert_scim(_patch(scim, group, op("remove", "externalId")), 200, expected_group(group))
    assert "externalId" not in body


def test_okta_unchanged_name_rename_is_a_no_op(scim, group):
    """Okta repeats the rename with every membership PATCH (docs/idp-notes.md#okta-group-patch)."""
    before = expected_group(group)
    response = _patch(scim, group, op("replace", value={"id": str(group.pk), "displayName": "Opti_SCIM_Sales"}))
    assert_scim(response, 200, before)
    assert _events() == []


def test_okta_membership_delta(scim, group, people):
    """Okta (docs/idp-notes.md#okta-group-patch): removes through filters (one of them not a
    member), then an add with display."""
    response = _patch(
        scim,
        group,
        op("replace", value={"id": str(group.pk), "displayName": "Opti_SCIM_Sales"}),
        op("remove", f'members[value eq "{people[0].pk}"]'),
        op("remove", 'members[value eq "removeUser2"]'),
        op("add", "members", [{"value": str(people[2].pk), "display": people[2].email}]),
    )
    assert_scim(response, 200, expected_group(group))
    assert member_ids(group) == _ids(people[1], people[2])


def test_add_then_remove_of_the_same_member_apply_in_order(scim, group, people):
    """Entra Validator preview test."""
    response = _patch(
        scim,
        group,
        op("add", "members", [{"value": str(people[2].pk)}]),
        op("remove", f'members[value eq "{people[2].pk}"]'),
        op("remove", "members", [{"value": str(people[0].pk)}]),
        op("add", "members", [{"value": str(people[0].pk)}]),
    )
    assert_scim(response, 200, expected_group(group))
    assert member_ids(group) == _ids(people[0], people[1])
    assert _events() == []


def test_idempotent_repeats(scim, group, people):
    operation = op("add", "members", [{"value": str(people[3].pk)}])
    assert_scim(_patch(scim, group, operation), 200)
    assert_scim(_patch(scim, group, operation), 200, expected_group(group))
    assert member_ids(group) == _ids(people[0], people[1], people[3])
    removal = op("remove", f'members[value eq "{people[3].pk}"]')
    assert_scim(_patch(scim, group, removal), 200)
    assert_scim(_patch(scim, group, removal), 200, expected_group(group))
    assert [a for a, _, _ in _events()] == ["group.member.add", "group.member.remove"]


def test_patch_with_a_bad_member_applies_nothing(scim, group, people, other_organization):
    hank = other_organization.home_users.get(email="hank@globex.test")
    before = expected_group(group)
    response = _patch(
        scim,
        group,
        op("replace", "displayName", "Opti_SCIM_Renamed"),
        op("remove", f'members[value eq "{people[0].pk}"]'),
        op("add", "members", [{"value": str(people[2].pk)}, {"value": str(hank.pk)}]),
    )
    assert_error(response, 400, "invalidValue", _unknown_detail(str(hank.pk)))
    assert expected_group(group) == before
    assert _events() == []


@pytest.mark.parametrize(
    ("operation", "status", "scim_type", "detail"),
    [
        (op("remove", "displayName"), 400, "mutability", "displayName is required and cannot be removed."),
        (op("replace", "displayName", ""), 400, "mutability", "displayName is required and cannot be removed."),
        (op("replace", "displayName", 5), 400, "invalidSyntax", "'displayName' must be a string."),
        (op("replace", "id", "other"), 400, "mutability", "'id' is immutable."),
        (
            op("add", 'members[value eq "x"]', [{"value": "x"}]),
            400,
            "invalidPath",
            "Only 'remove' can use a members[...] filter.",
        ),
        (
            op("remove", 'members[display eq "x"]'),
            400,
            "invalidPath",
            'Only members[value eq "<id>"] filters are supported.',
        ),
        (op("remove", 'members[value eq "x"].display'), 400, "invalidPath", "Member sub-attributes cannot be changed."),
        (
            op("replace", 'displayName[value eq "x"]', "y"),
            400,
            "invalidPath",
            "'displayName[value eq \"x\"]' is not a valid group attribute path.",
        ),
        (op("remove"), 400, "noTarget", "A remove operation needs a 'path'."),
        (
            op("replace", "displayName", "Everyone"),
            409,
            "uniqueness",
            "'Everyone' is a reserved group name in the Admin Center. Rename the group on the IdP side "
            "(for example Opti_SCIM_Everyone).",
        ),
    ],
)
def test_invalid_group_patches(scim, group, operation, status, scim_type, detail):
    before = expected_group(group)
    assert_error(_patch(scim, group, operation), status, scim_type, detail)
    assert expected_group(group) == before


def test_patch_rename_to_another_scim_groups_name_is_409(scim, group, sso_connection, scim_organization):
    GroupFactory(
        organization=scim_organization, name="Opti_SCIM_Taken", kind=GroupKind.SCIM, scim_connection=sso_connection
    )
    assert_error(
        _patch(scim, group, op("replace", value={"displayName": "opti_scim_taken"})),
        409,
        "uniqueness",
        "A SCIM group named 'Opti_SCIM_Taken' already exists in this organization.",
    )


def test_patch_response_honours_excluded_attributes(scim, group, people):
    response = _patch(
        scim, group, op("add", "members", [{"value": str(people[2].pk)}]), query="?excludedAttributes=members"
    )
    assert_scim(response, 200, expected_group(group, with_members=False))


def test_patch_of_an_unknown_group_is_404(scim):
    missing = uuid.uuid4()
    assert_error(
        scim.patch(f"/Groups/{missing}", patch_body(op("remove", "members"))), 404, None, f"Group {missing} not found."
    )


# --- DELETE ------------------------------------------------------------------------------------------------------


def test_delete_removes_the_group_its_memberships_and_grants(scim, scim_organization, group, people, cms_instance):
    role = Role.objects.get(product=cms_instance.product, key="content_editors")
    services.group_grant_add(
        organization=scim_organization, group=group, instance=cms_instance, roles=[role], actor=OPERATOR
    )
    assert GroupGrant.objects.filter(group=group).count() == 1
    pk = group.pk
    assert_scim(scim.delete(f"/Groups/{pk}"), 204)
    assert not Group.objects.filter(pk=pk).exists()
    assert not GroupGrant.objects.filter(group_id=pk).exists()
    assert not GroupMembership.objects.filter(group_id=pk).exists()
    assert User.objects.filter(pk__in=[u.pk for u in people]).count() == 4  # the users stay
    assert_error(scim.get(f"/Groups/{pk}"), 404, None, f"Group {pk} not found.")
    assert_error(scim.delete(f"/Groups/{pk}"), 404, None, f"Group {pk} not found.")
    assert _events() == [("group.delete", {"name": "Opti_SCIM_Sales", "members": 2}, {})]
    # A later push of the same name creates a new group with no grants.
    again = _created(scim.post("/Groups", group_body("Opti_SCIM_Sales")))
    assert again.pk != pk and not GroupGrant.objects.filter(group=again).exists()


def test_users_groups_attribute_follows_membership(scim, group, people):
    body = assert_scim(scim.get(f"/Users/{people[0].pk}"), 200)
    assert body["groups"] == [{"value": str(group.pk), "display": group.name, "$ref": f"{BASE}/Groups/{group.pk}"}]
    assert_scim(scim.delete(f"/Groups/{group.pk}"), 204)
    assert assert_scim(scim.get(f"/Users/{people[0].pk}"), 200)["groups"] == []
