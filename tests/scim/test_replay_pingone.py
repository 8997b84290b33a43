"""Replay of PingOne's SCIM Outbound traffic, in order (docs/idp-notes.md#pingone):
test connection, user match / create / PUT update / PUT disable / DELETE (Remove Action =
Delete), group listing in pages of 1000, group create with members, PUT overwrite, and
group delete. Every response is checked, whole bodies against the builders."""

import pytest

from admincenter.models import AuditEvent, Group, User
from tests.factories import UserFactory
from tests.scim.helpers import (
    BASE,
    CUSTOM_URN,
    EMPTY_LIST,
    ENTERPRISE_URN,
    GROUP_URN,
    USER_URN,
    ScimClient,
    assert_error,
    assert_scim,
    expected_group,
    expected_list,
    expected_user,
    pingone_user_body,
)

ACCEPT = {"Accept": "application/scim+json"}


@pytest.fixture
def ping(scim_token):
    return ScimClient(scim_token, user_agent="PingOne", headers=ACCEPT)


def _create_body(**overrides):
    return pingone_user_body("jsmith@example.com", "p1-5f3c", **overrides)


def test_test_connection(ping, scim_organization, admin_user, revoked_scim_token):
    """Test connection: a filter probe or a plain list; bad or non-Bearer credentials get 401."""
    assert_scim(ping.get("/Users?filter=userName%20eq%20%22probe-4711%40example.com%22"), 200, EMPTY_LIST)
    assert_scim(ping.get("/Users"), 200, expected_list([expected_user(admin_user)]))
    for authorization in (
        "oauth2 " + "x" * 20,  # Ping's own example of the Auth Type Header setting
        "Basic YWRtaW46c2VjcmV0",
        f"Bearer {revoked_scim_token}",
        None,
    ):
        response = ScimClient(None, authorization=authorization).get("/Users")
        assert_error(response, 401)
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_user_provisioning_sequence(ping, scim_organization, sso_connection):
    # 1. Match: an admin-configured expression in another case, then the unquoted defaults.
    for query in (
        "filter=username%20Eq%20%22jsmith%40example.com%22",
        "filter=userName%20eq%20jsmith%40example.com",
        "filter=emails%20eq%20jsmith%40example.com",
        "filter=email.value%20Eq%20%22jsmith%40example.com%22",
        "filter=email%20Co%20%22jsmith%22",
    ):
        assert_scim(ping.get(f"/Users?{query}"), 200, EMPTY_LIST)

    # 2. Create: core, enterprise and custom-extension attributes.
    response = ping.post("/Users", _create_body())
    body = assert_scim(response, 201)
    user = User.objects.get(pk=body["id"])
    assert body == expected_user(user)
    assert response["Location"] == f"{BASE}/Users/{user.pk}" == body["meta"]["location"]
    assert body["phoneNumbers"] == [{"value": "+1-201-555-0123", "type": "work", "primary": False}]
    assert body[ENTERPRISE_URN] == {"employeeNumber": "42", "department": "R&D"}
    assert CUSTOM_URN not in body
    assert body["meta"]["created"] <= body["meta"]["lastModified"]
    assert user.source == "scim" and user.scim_connection_id == sso_connection.pk

    # The match now finds the full user, in any of the configured forms.
    for query in (
        "filter=username%20Eq%20%22JSmith%40example.com%22",
        "filter=emails%20eq%20jsmith%40example.com",
        "filter=email.value%20Eq%20%22jsmith%40example.com%22",
    ):
        assert_scim(ping.get(f"/Users?{query}"), 200, expected_list([expected_user(user)]))

    # 3. Update: a full PUT, with or without a GET first; the custom extension is echoed back.
    assert_scim(ping.get(f"/Users/{user.pk}"), 200, expected_user(user))
    put = _create_body(
        id=str(user.pk),
        name={"givenName": "Janet", "familyName": "Smith-Jones", "formatted": "Janet Smith-Jones"},
        displayName="Janet Smith-Jones",
    )
    body = assert_scim(ping.put(f"/Users/{user.pk}", put), 200, expected_user(user))
    assert body["name"] == {"givenName": "Janet", "familyName": "Smith-Jones", "formatted": "Janet Smith-Jones"}
    assert body["displayName"] == "Janet Smith-Jones"
    assert [e.action for e in AuditEvent.objects.filter(actor_type="scim_token").order_by("id")] == [
        "user.create",
        "user.update",
    ]

    # Two email attributes mapped, one empty: the same address twice, both primary.
    put["emails"] = [
        {"value": "jsmith@example.com", "type": "work", "primary": True},
        {"value": "jsmith@example.com", "type": "work", "primary": True},
    ]
    body = assert_scim(ping.put(f"/Users/{user.pk}", put, content_type="application/json"), 200, expected_user(user))
    assert body["emails"] == [{"value": "jsmith@example.com", "type": "work", "primary": True}]

    # 4. Disable (Remove Action = Disable): a reduced PUT with active false. What it leaves
    # out is kept, because PingOne can't clear attributes.
    disable = {
        "schemas": [USER_URN],
        "id": str(user.pk),
        "userName": "jsmith@example.com",
        "name": {"givenName": "Janet", "familyName": "Smith-Jones"},
        "emails": [{"value": "jsmith@example.com", "type": "work", "primary": True}],
        "active": False,
    }
    body = assert_scim(ping.put(f"/Users/{user.pk}", disable), 200, expected_user(user))
    assert body["active"] is False
    assert (body["title"], body["externalId"], body[ENTERPRISE_URN]["employeeNumber"]) == ("Engineer", "p1-5f3c", "42")
    assert body["phoneNumbers"] == [{"value": "+1-201-555-0123", "type": "work", "primary": False}]
    # Still readable by id and findable by filter.
    assert_scim(ping.get(f"/Users/{user.pk}"), 200, expected_user(user))
    assert_scim(
        ping.get("/Users?filter=username%20Eq%20%22jsmith%40example.com%22"), 200, expected_list([expected_user(user)])
    )

    # Back in scope: PUT with active true.
    body = assert_scim(ping.put(f"/Users/{user.pk}", {**disable, "active": True}), 200, expected_user(user))
    assert body["active"] is True

    # 5. Remove Action = Delete.
    assert_scim(ping.delete(f"/Users/{user.pk}"), 204)
    assert_error(ping.get(f"/Users/{user.pk}"), 404, None, f"User {user.pk} not found.")
    assert_error(ping.delete(f"/Users/{user.pk}"), 404, None, f"User {user.pk} not found.")
    assert_scim(ping.get("/Users?filter=username%20Eq%20%22jsmith%40example.com%22"), 200, EMPTY_LIST)

    # With Remove Action = Delete, coming back into scope is a new create with a new id.
    again = assert_scim(ping.post("/Users", _create_body()), 201)
    assert again["id"] != str(user.pk)


def test_provision_disabled_users(ping):
    """*Provision disabled users*: the POST carries active false (docs/domain.md#created-inactive)."""
    body = assert_scim(ping.post("/Users", _create_body(active=False)), 201)
    user = User.objects.get(pk=body["id"])
    assert body == expected_user(user) and body["active"] is False


def test_put_without_a_prior_get_and_rule_deletion(ping, scim_organization, sso_connection):
    """PUTs may arrive with no GET (docs/idp-notes.md#pingone). Deleting the rule deprovisions every
    user it provisioned with the Remove Action (here Disable)."""
    users = [
        assert_scim(ping.post("/Users", _create_body(userName=f"u{i}@example.com", emails=[])), 201)["id"]
        for i in range(3)
    ]
    for uid in users:
        email = User.objects.get(pk=uid).email
        body = assert_scim(
            ping.put(f"/Users/{uid}", {"schemas": [USER_URN], "id": uid, "userName": email, "active": False}),
            200,
            expected_user(User.objects.get(pk=uid)),
        )
        assert body["active"] is False and body["title"] == "Engineer"
    assert User.objects.filter(pk__in=users, is_active=False).count() == 3


def test_group_sequence(ping, scim_organization, sso_connection):
    people = [
        UserFactory(
            organization=scim_organization,
            email=f"member{i}@example.com",
            source="scim",
            scim_connection=sso_connection,
        )
        for i in range(3)
    ]

    # 1. Match by listing every group, in pages of 1000.
    assert_scim(ping.get("/Groups?startIndex=1&count=1000"), 200, EMPTY_LIST)

    # 2. Create with displayName and members, no externalId, no id.
    response = ping.post(
        "/Groups",
        {
            "schemas": [GROUP_URN],
            "displayName": "Accounting",
            "members": [{"value": str(people[0].pk)}, {"value": str(people[1].pk)}],
        },
    )
    body = assert_scim(response, 201)
    group = Group.objects.get(pk=body["id"])
    assert body == expected_group(group)
    assert response["Location"] == f"{BASE}/Groups/{group.pk}"
    assert {m["value"] for m in body["members"]} == {str(people[0].pk), str(people[1].pk)}
    assert "externalId" not in body

    # The listing (with members, for merge handling) now holds it.
    assert_scim(ping.get("/Groups?startIndex=1&count=1000"), 200, expected_list([expected_group(group)]))
    assert_scim(ping.get("/Groups?startIndex=1001&count=1000"), 200, expected_list([], total=1, start=1001))

    # 3. Update: PUT with the complete member list overwrites membership.
    put = {
        "schemas": [GROUP_URN],
        "id": str(group.pk),
        "displayName": "Accounting",
        "members": [{"value": str(people[0].pk)}, {"value": str(people[2].pk)}],
    }
    body = assert_scim(ping.put(f"/Groups/{group.pk}", put), 200, expected_group(group))
    assert {m["value"] for m in body["members"]} == {str(people[0].pk), str(people[2].pk)}

    # A rename is a PUT too.
    body = assert_scim(ping.put(f"/Groups/{group.pk}", {**put, "displayName": "Finance"}), 200, expected_group(group))
    assert body["displayName"] == "Finance"

    # 4. Delete.
    assert_scim(ping.delete(f"/Groups/{group.pk}"), 204)
    assert_error(ping.get(f"/Groups/{group.pk}"), 404, None, f"Group {group.pk} not found.")
    assert_scim(ping.get("/Groups?startIndex=1&count=1000"), 200, EMPTY_LIST)
    assert all(User.objects.filter(pk=p.pk).exists() for p in people)


def test_group_listing_pages_through_more_than_a_page(ping, scim_organization, sso_connection):
    """PingOne pages with startIndex += count until totalResults (docs/idp-notes.md#pages-of-1000); shown with
    count=2 so the loop runs several times."""
    for i in range(5):
        assert_scim(ping.post("/Groups", {"displayName": f"Team {i}"}), 201)
    seen, start = [], 1
    while True:
        body = assert_scim(ping.get(f"/Groups?startIndex={start}&count=2"), 200)
        assert body["totalResults"] == 5
        seen += [r["displayName"] for r in body["Resources"]]
        start += 2
        if start > body["totalResults"]:
            break
    assert seen == [f"Team {i}" for i in range(5)]
