"""Replay of Microsoft Entra ID provisioning traffic, in order
(docs/idp-notes.md#microsoft-entra-id):
Test Connection probes with ``+``-encoded filters, match lookups, create, GET then PATCH
in the default (capitalised) shape and in the aadOptscim062020 shape, Validator PATCH
traffic, manager and roles, disable with "False", groups (lookup without members, create
without members, add and remove members in both forms, path-less renames, duplicates),
and DELETE twice. Every response is checked."""

import pytest

from admincenter.models import AuditEvent, Group, User
from tests.scim.helpers import (
    BASE,
    EMPTY_LIST,
    ENTERPRISE_URN,
    ENTRA_GROUP_URN,
    GROUP_URN,
    PATCH_URN,
    USER_URN,
    ScimClient,
    assert_error,
    assert_scim,
    expected_group,
    expected_list,
    expected_user,
    member_ids,
)

GUID = "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"
UPN = f"Test_User_{GUID}@contoso.com"
MANAGER = f"{ENTERPRISE_URN}:manager"
WRITE = "application/scim+json"


@pytest.fixture
def entra(scim_token):
    # Entra's Test Connection has been seen without a User-Agent (docs/idp-notes.md#microsoft-entra-id): send none.
    return ScimClient(scim_token)


def _patch(client, path, *operations, query=""):
    return client.patch(f"{path}{query}", {"schemas": [PATCH_URN], "Operations": list(operations)}, content_type=WRITE)


def _create(entra, user_name=UPN, **extra) -> User:
    body = {
        "schemas": [USER_URN, ENTERPRISE_URN],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": user_name,
        "active": True,
        "displayName": "Joy Young",
        "emails": [{"primary": True, "type": "work", "value": f"Test_User_11bb11bb@{user_name.split('@')[1]}"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
        ENTERPRISE_URN: {"employeeNumber": "701984", "department": "Tour Operations"},
        "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User": {"tag": "701984"},
        **extra,
    }
    response = entra.post("/Users", body, content_type="application/scim+json; charset=utf-8")
    created = assert_scim(response, 201)
    user = User.objects.get(pk=created["id"])
    assert created == expected_user(user)
    assert response["Location"] == f"{BASE}/Users/{user.pk}"
    return user


def test_test_connection(entra, scim_organization, revoked_scim_token):
    """Test Connection: a user probe and a group probe, both with random GUIDs: 200 and empty."""
    assert_scim(entra.get(f"/Users?filter=userName+eq+%22{GUID}%22"), 200, EMPTY_LIST)
    assert_scim(entra.get(f"/Groups?excludedAttributes=members&filter=displayName+eq+%22{GUID}%22"), 200, EMPTY_LIST)
    # A bad token is "invalid credentials" (401), with a SCIM body, never HTML.
    assert_error(ScimClient(revoked_scim_token).get(f"/Users?filter=userName+eq+%22{GUID}%22"), 401)
    # Gallery apps read the schemas (docs/idp-notes.md#microsoft-entra-id).
    schemas = assert_scim(entra.get("/Schemas"), 200)
    assert [s["id"] for s in schemas["Resources"]][:2] == [USER_URN, ENTERPRISE_URN]


def test_user_sequence(entra, scim_organization):
    # 1. Match lookups, one attribute at a time: nothing found, always 200.
    for query in (
        f"filter=userName+eq+%22{UPN}%22",
        "filter=externalId+eq+%22johnwong%22",
        "filter=externalId+eq+jyoung",
        "filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22user%40contoso.com%22",
    ):
        assert_scim(entra.get(f"/Users?{query}"), 200, EMPTY_LIST)

    # 2. Create (meta, roles [], a custom extension missing from schemas).
    user = _create(entra)
    assert user.email == UPN.lower() and user.external_id == "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"

    # The same lookups now match, in any letter case, with the full resource.
    for query in (
        f"filter=userName+eq+%22{UPN.upper()}%22",
        "filter=externalId+eq+%220a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef%22",
        f"filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22{UPN}%22",
    ):
        assert_scim(entra.get(f"/Users?{query}"), 200, expected_list([expected_user(user)]))

    # 3. A create that conflicts (the Validator's duplicate) is 409 uniqueness.
    response = entra.post("/Users", {"schemas": [USER_URN], "userName": UPN.lower(), "active": True})
    assert_error(response, 409, "uniqueness", f"The email address {UPN.lower()} is already in use.")

    # 4. GET, then the default PATCH shape: capitalised ops, one per changed attribute.
    assert_scim(entra.get(f"/Users/{user.pk}"), 200, expected_user(user))
    response = _patch(
        entra,
        f"/Users/{user.pk}",
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "updatedEmail@contoso.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        {"op": "Replace", "path": "displayName", "value": "Pvlo"},
        {"op": "Replace", "path": "externalId", "value": "Eqpj"},
        {"op": "Replace", "path": f"{ENTERPRISE_URN}:employeeNumber", "value": "Eqpj"},
        {"op": "Replace", "path": 'addresses[type eq "work"].formatted', "value": "18/2111"},
        {"op": "Add", "path": f"{ENTERPRISE_URN}:department", "value": "Retail"},
        {"op": "Add", "path": "nickName", "value": "Babs"},
    )
    body = assert_scim(response, 200, expected_user(user))
    assert (body["displayName"], body["externalId"], body["nickName"]) == ("Pvlo", "Eqpj", "Babs")
    assert body["name"] == {
        "formatted": "givenName familyName",
        "givenName": "givenName",
        "familyName": "updatedFamilyName",
    }
    assert body[ENTERPRISE_URN] == {"employeeNumber": "Eqpj", "department": "Retail"}
    assert body["addresses"] == [{"type": "work", "formatted": "18/2111", "primary": False}]
    # userName wins over the work email (docs/domain.md#what-scim-may-do).
    assert body["emails"] == [{"value": UPN.lower(), "type": "work", "primary": True}]

    # A userName rename is one operation.
    renamed = f"renamed_{GUID}@contoso.com"
    body = assert_scim(
        _patch(entra, f"/Users/{user.pk}", {"op": "Replace", "path": "userName", "value": renamed}),
        200,
        expected_user(user),
    )
    assert body["userName"] == renamed
    assert AuditEvent.objects.filter(action="user.email.change").count() == 1

    # 5. With ?aadOptscim062020: lower-case ops, one path-less replace with dotted and URN keys.
    response = _patch(
        entra,
        f"/Users/{user.pk}",
        {"op": "replace", "path": 'emails[type eq "home"].value', "value": "TestMhvaes@example.com"},
        {
            "op": "replace",
            "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                f"{ENTERPRISE_URN}:employeeNumber": "Aklq",
            },
        },
        query="?aadOptscim062020",
    )
    body = assert_scim(response, 200, expected_user(user))
    assert (body["displayName"], body["name"]["givenName"], body["name"]["familyName"]) == ("Bjfe", "Kkom", "Unua")
    assert body[ENTERPRISE_URN]["employeeNumber"] == "Aklq"
    assert body["emails"][1] == {"type": "home", "value": "TestMhvaes@example.com", "primary": False}
    assert not any("." in key for key in body if key not in (ENTERPRISE_URN, USER_URN))
    user.refresh_from_db()
    assert "name.givenName" not in str(user.scim_attributes)

    # A path-less add with dotted keys (observed in production).
    response = _patch(
        entra,
        f"/Users/{user.pk}",
        {
            "op": "add",
            "value": {
                "displayName": "Foo Bar",
                "title": "Bar Foo",
                "name.givenName": "Foo",
                "name.familyName": "Bar",
                "name.formatted": "Foo Bar",
            },
        },
        query="?aadOptscim062020",
    )
    body = assert_scim(response, 200, expected_user(user))
    assert (body["title"], body["name"]) == (
        "Bar Foo",
        {"formatted": "Foo Bar", "givenName": "Foo", "familyName": "Bar"},
    )

    # 6. Validator PATCH traffic (docs/idp-notes.md#entra-patch-forms).
    validator_name = f"emilio_{GUID}@hermann.uk"
    body = assert_scim(
        _patch(entra, f"/Users/{user.pk}", {"op": "replace", "value": {"userName": validator_name}}),
        200,
        expected_user(user),
    )
    assert body["userName"] == validator_name
    response = _patch(
        entra,
        f"/Users/{user.pk}",
        {"op": "replace", "path": 'phoneNumbers[type eq "work"].value', "value": "+1 425 555 0100"},
        {"op": "replace", "path": 'addresses[type eq "work"].streetAddress', "value": "1 Microsoft Way"},
        {"op": "replace", "path": 'addresses[type eq "work"].locality', "value": "Redmond"},
        {"op": "replace", "value": {"name.formatted": "Foo M. Bar", "displayName": "Foo M.", "externalId": "Xtrn"}},
    )
    body = assert_scim(response, 200, expected_user(user))
    assert body["phoneNumbers"] == [{"type": "work", "value": "+1 425 555 0100", "primary": False}]
    assert body["addresses"] == [
        {
            "type": "work",
            "formatted": "18/2111",
            "streetAddress": "1 Microsoft Way",
            "locality": "Redmond",
            "primary": False,
        }
    ]
    response = _patch(
        entra,
        f"/Users/{user.pk}",
        {"op": "add", "path": 'emails[type eq "other"].value', "value": "other@example.com"},
        {"op": "add", "path": 'emails[type eq "work"].display', "value": "Foo"},
        {"op": "add", "path": 'emails[type eq "work"].primary', "value": True},
    )
    body = assert_scim(response, 200, expected_user(user))
    assert [e["type"] for e in body["emails"]] == ["work", "home", "other"]
    assert [e["primary"] for e in body["emails"]] == [True, False, False]

    # Several operations on the same attribute: the last one wins (preview test).
    body = assert_scim(
        _patch(
            entra,
            f"/Users/{user.pk}",
            {"op": "replace", "path": "title", "value": "One"},
            {"op": "replace", "path": "title", "value": "Two"},
        ),
        200,
        expected_user(user),
    )
    assert body["title"] == "Two"

    # 7. Disable without the flag: "False" as a string. The user stays readable.
    body = assert_scim(
        _patch(entra, f"/Users/{user.pk}", {"op": "Replace", "path": "active", "value": "False"}),
        200,
        expected_user(user),
    )
    assert body["active"] is False
    assert_scim(entra.get(f"/Users/{user.pk}"), 200, expected_user(user))
    assert_scim(
        entra.get(f"/Users?filter=userName+eq+%22{validator_name}%22"), 200, expected_list([expected_user(user)])
    )
    # Re-enable ("True"), then the flag's boolean and the path-less forms.
    for operation, active in (
        ({"op": "Replace", "path": "active", "value": "True"}, True),
        ({"op": "replace", "path": "active", "value": False}, False),
        ({"op": "Replace", "path": "active", "value": True}, True),
        ({"op": "replace", "value": {"active": "false"}}, False),
    ):
        body = assert_scim(_patch(entra, f"/Users/{user.pk}", operation), 200, expected_user(user))
        assert body["active"] is active

    # 8. Hard delete: 204, then 404 for GET and for the second DELETE (Validator preview).
    assert_scim(entra.delete(f"/Users/{user.pk}"), 204)
    assert_error(entra.get(f"/Users/{user.pk}"), 404, None, f"User {user.pk} not found.")
    assert_error(entra.delete(f"/Users/{user.pk}"), 404, None, f"User {user.pk} not found.")


def test_manager_and_roles(entra, scim_organization):
    user = _create(entra)
    manager = _create(entra, user_name=f"manager_{GUID}@contoso.com", externalId="mgr")
    as_ref = {"value": str(manager.pk), "$ref": f"{BASE}/Users/{manager.pk}"}

    # Manager as a bare string on the enterprise URN path: Add, then Replace.
    for name in ("Add", "Replace"):
        body = assert_scim(
            _patch(entra, f"/Users/{user.pk}", {"op": name, "path": MANAGER, "value": str(manager.pk)}),
            200,
            expected_user(user),
        )
        assert body[ENTERPRISE_URN]["manager"] == as_ref

    # The legacy manager check (docs/idp-notes.md#entra-manager).
    query = f"?attributes=id&filter=id+eq+%22{user.pk}%22+and+manager+eq+%22{manager.pk}%22"
    listed = assert_scim(entra.get(f"/Users{query}"), 200)
    assert [r["id"] for r in listed["Resources"]] == [str(user.pk)] and set(listed["Resources"][0]) == {
        "schemas",
        "id",
        "meta",
    }

    # Removal: "" on replace, then the remove operation; then the legacy array shape.
    body = assert_scim(
        _patch(entra, f"/Users/{user.pk}", {"op": "Replace", "path": MANAGER, "value": ""}), 200, expected_user(user)
    )
    assert "manager" not in body[ENTERPRISE_URN]
    legacy = [{"$ref": f"{BASE}/Users/{manager.pk}", "value": str(manager.pk)}]
    body = assert_scim(
        _patch(entra, f"/Users/{user.pk}", {"op": "Add", "path": "manager", "value": legacy}), 200, expected_user(user)
    )
    assert body[ENTERPRISE_URN]["manager"] == as_ref
    body = assert_scim(_patch(entra, f"/Users/{user.pk}", {"op": "remove", "path": MANAGER}), 200, expected_user(user))
    assert "manager" not in body[ENTERPRISE_URN]

    # Roles: JSON-string values and the assertive replace are accepted and ignored.
    before = expected_user(user)
    for operation in (
        {"op": "Add", "path": "roles", "value": [{"value": '{"id":"7e6c1a5b","value":"25","displayName":"Role1234"}'}]},
        {"op": "replace", "path": "roles", "value": [{"value": '{"id":"7e6c1a5b"}', "primary": "True"}]},
        {"op": "Replace", "path": 'roles[primary eq "True"].value', "value": "Reader"},
    ):
        body = assert_scim(_patch(entra, f"/Users/{user.pk}", operation), 200)
        assert {k: v for k, v in body.items() if k != "meta"} == {k: v for k, v in before.items() if k != "meta"}


def test_group_sequence(entra, scim_organization):
    people = [_create(entra, user_name=f"member{i}_{GUID}@contoso.com", externalId=f"m{i}") for i in range(3)]

    # 1. Lookup by displayName, without members: nothing yet.
    lookup = "/Groups?excludedAttributes=members&filter=displayName+eq+%22displayName%22"
    assert_scim(entra.get(lookup), 200, EMPTY_LIST)

    # 2. Create: never with members, with the Microsoft schema URI and meta.
    response = entra.post(
        "/Groups",
        {
            "schemas": [GROUP_URN, ENTRA_GROUP_URN],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"},
        },
    )
    body = assert_scim(response, 201)
    group = Group.objects.get(pk=body["id"])
    assert body == expected_group(group) and body["members"] == []

    # The lookup matches now, also in another letter case, and without members.
    without = expected_list([expected_group(group, with_members=False)])
    assert_scim(entra.get(lookup), 200, without)
    assert_scim(entra.get("/Groups?excludedAttributes=members&filter=displayName+eq+%22DISPLAYNAME%22"), 200, without)
    assert_scim(
        entra.get("/Groups?excludedAttributes=members&filter=externalId+eq+%228aa1a0c0-c4c3-4bc0-b4a5-2ef676900159%22"),
        200,
        without,
    )

    # 3. Read by id without members.
    assert_scim(
        entra.get(f"/Groups/{group.pk}?excludedAttributes=members"), 200, expected_group(group, with_members=False)
    )

    # The Validator's duplicate create.
    assert_error(
        entra.post("/Groups", {"schemas": [GROUP_URN], "displayName": "displayName"}),
        409,
        "uniqueness",
        "A SCIM group named 'displayName' already exists in this organization.",
    )

    # 4. Renames: path-less displayName and externalId (Validator), then the path form.
    for operation, name, external in (
        ({"op": "replace", "value": {"displayName": "MSADPJJZWBUS"}}, "MSADPJJZWBUS", None),
        ({"op": "replace", "value": {"externalId": "5a1c8c4f"}}, "MSADPJJZWBUS", "5a1c8c4f"),
        ({"op": "Replace", "path": "displayName", "value": "Renamed Group"}, "Renamed Group", "5a1c8c4f"),
    ):
        body = assert_scim(_patch(entra, f"/Groups/{group.pk}", operation), 200, expected_group(group))
        assert body["displayName"] == name
        if external:
            assert body["externalId"] == external

    # 5. Add members: one operation, several values, $ref null.
    response = _patch(
        entra,
        f"/Groups/{group.pk}",
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": str(p.pk)} for p in people]},
    )
    assert_scim(response, 200, expected_group(group))
    assert member_ids(group) == {str(p.pk) for p in people}

    # 6. Remove without the flag: the listed members only.
    response = _patch(
        entra, f"/Groups/{group.pk}", {"op": "Remove", "path": "members", "value": [{"value": str(people[0].pk)}]}
    )
    assert_scim(response, 200, expected_group(group))
    assert member_ids(group) == {str(people[1].pk), str(people[2].pk)}
    # With the flag, the RFC form; a repeat is a no-op (Entra may remove a member twice).
    for _ in range(2):
        response = _patch(
            entra,
            f"/Groups/{group.pk}",
            {"op": "remove", "path": f'members[value eq "{people[1].pk}"]'},
            query="?aadOptscim062020",
        )
        assert_scim(response, 200, expected_group(group))
    assert member_ids(group) == {str(people[2].pk)}

    # Add and remove of the same member in one request apply in order (preview test).
    response = _patch(
        entra,
        f"/Groups/{group.pk}",
        {"op": "add", "path": "members", "value": [{"value": str(people[0].pk)}]},
        {"op": "remove", "path": "members", "value": [{"value": str(people[0].pk)}]},
    )
    assert_scim(response, 200, expected_group(group))
    assert member_ids(group) == {str(people[2].pk)}

    # 7. A gallery app's replace on members sets the full list.
    response = _patch(
        entra, f"/Groups/{group.pk}", {"op": "replace", "path": "members", "value": [{"value": str(people[1].pk)}]}
    )
    assert_scim(response, 200, expected_group(group))
    assert member_ids(group) == {str(people[1].pk)}

    # A nested group (first level) is refused: groups hold only users (docs/idp-notes.md#entra-nested-groups).
    other = assert_scim(entra.post("/Groups", {"displayName": "Nested"}), 201)
    assert_error(
        _patch(entra, f"/Groups/{group.pk}", {"op": "Add", "path": "members", "value": [{"value": other["id"]}]}),
        400,
        "invalidValue",
        f"Groups cannot be members of groups (nested groups are not supported): {other['id']}",
    )

    # 10. Delete: 204, then 404 for the second delete and for any later PATCH.
    assert_scim(entra.delete(f"/Groups/{group.pk}"), 204)
    assert_error(entra.delete(f"/Groups/{group.pk}"), 404, None, f"Group {group.pk} not found.")
    assert_error(
        _patch(entra, f"/Groups/{group.pk}", {"op": "remove", "path": "members", "value": [{"value": "x"}]}),
        404,
        None,
        f"Group {group.pk} not found.",
    )
    assert_scim(entra.get(lookup.replace("displayName%22", "Renamed+Group%22")), 200, EMPTY_LIST)
