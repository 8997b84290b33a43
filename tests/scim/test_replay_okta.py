"""Replay of Okta's SCIM 2.0 traffic, in order (docs/idp-notes.md#okta): test connection,
existence check, create with password and groups [], GET then full PUT echoing meta with
non-ISO dates, OIN (de)activation and password PATCHes, AIW PUTs, import paging, Group
Push (create, rename with id, membership delta, Push Now, AIW PUT, delete), and the Okta
SCIM 2.0 Spec Test steps 1-18 with its headers. Every response is checked."""

import uuid

import pytest
from django.utils import timezone

from admincenter.models import Group, User, UserSource
from tests.factories import UserFactory
from tests.scim.helpers import (
    BASE,
    EMPTY_LIST,
    ERROR_URN,
    GROUP_URN,
    LIST_URN,
    PATCH_URN,
    SPC_URN,
    USER_URN,
    ScimClient,
    assert_error,
    assert_scim,
    assert_service_provider_config_complete,
    expected_group,
    expected_list,
    expected_user,
    member_ids,
)

OKTA_HEADERS = {"Accept": "application/scim+json", "Accept-Charset": "utf-8", "Accept-Encoding": "gzip,deflate"}
WRITE = "application/scim+json; charset=utf-8"
PASSWORD = "1mz050nq"


@pytest.fixture
def okta(scim_token):
    return ScimClient(scim_token, user_agent="Okta SCIM Client 1.0.0", headers=OKTA_HEADERS)


def _patch(client, path, *operations):
    return client.patch(path, {"schemas": [PATCH_URN], "Operations": list(operations)}, content_type=WRITE)


def _assert_list_counters_are_integers(body):
    for key in ("totalResults", "startIndex", "itemsPerPage"):
        assert type(body[key]) is int, key


def test_test_connection(okta, scim_organization, admin_user, scim_group, revoked_scim_token):
    body = assert_scim(okta.get("/Users?startIndex=1&count=2"), 200)
    _assert_list_counters_are_integers(body)
    users = User.objects.filter(home_organization=scim_organization).order_by("created_at", "id")
    assert body == expected_list([expected_user(u) for u in users[:2]], total=users.count())
    body = assert_scim(okta.get("/Groups?startIndex=1&count=100"), 200, expected_list([expected_group(scim_group)]))
    _assert_list_counters_are_integers(body)
    assert_error(ScimClient(revoked_scim_token).get("/Users?startIndex=1&count=2"), 401)


def test_user_sequence(okta, scim_organization, sso_connection):
    # 1. Existence check: no match is 200 with totalResults 0, in both encodings.
    for query in (
        "filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100",
        "filter=userName+eq+%22test.user%40okta.local%22&startIndex=1&count=100",
    ):
        assert_scim(okta.get(f"/Users?{query}"), 200, EMPTY_LIST)

    # 2. Create: a random password, groups [], locale en-US.
    create = {
        "schemas": [USER_URN],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": PASSWORD,
        "active": True,
    }
    response = okta.post("/Users", create, content_type=WRITE)
    body = assert_scim(response, 201)
    user = User.objects.get(pk=body["id"])
    assert body == expected_user(user)
    assert USER_URN in body["schemas"] and body["id"] and "password" not in body
    assert PASSWORD not in response.content.decode()
    assert (body["locale"], body["externalId"], body["groups"]) == ("en-US", "00ujl29u0le5T6Aj10h7", [])
    assert (user.source, user.scim_connection_id) == (UserSource.SCIM, sso_connection.pk)

    # A match now: Okta links and PUTs.
    found = assert_scim(
        okta.get("/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100"), 200
    )
    assert found == expected_list([expected_user(user)])

    # 3. Profile update: GET, then a full PUT built from it, with non-ISO meta dates.
    assert_scim(okta.get(f"/Users/{user.pk}"), 200, expected_user(user))
    put = {
        "schemas": [USER_URN],
        "id": str(user.pk),
        "externalId": "00uq2kqg7YTkFo3cY0g3",
        "userName": "test.user@okta.local",
        "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
        "emails": [
            {"primary": True, "value": "test.user@okta.local", "type": "work", "display": "test.user@okta.local"}
        ],
        "active": True,
        "groups": [],
        "password": "TkdFNVdIVkxhM2c9",
        "meta": {
            "resourceType": "User",
            "created": "04-12-2018 00:00:00",
            "lastModified": "04-12-2018 00:00:00",
            "version": "v1.0",
        },
    }
    response = okta.put(f"/Users/{user.pk}", put, content_type=WRITE)
    body = assert_scim(response, 200, expected_user(user))
    assert body["name"] == {
        "givenName": "Another",
        "middleName": "Excited",
        "familyName": "User",
        "formatted": "Another User",
    }
    assert body["externalId"] == "00uq2kqg7YTkFo3cY0g3"
    assert body["locale"] == "en-US"  # kept: the PUT left it out
    assert "TkdFNVdIVkxhM2c9" not in response.content.decode()

    # 4. OIN deactivate: path-less replace with a lower-case op.
    body = assert_scim(
        _patch(okta, f"/Users/{user.pk}", {"op": "replace", "value": {"active": False}}), 200, expected_user(user)
    )
    assert body["active"] is False
    assert_scim(okta.get(f"/Users/{user.pk}"), 200, expected_user(user))

    # 5. Reactivate.
    body = assert_scim(
        _patch(okta, f"/Users/{user.pk}", {"op": "replace", "value": {"active": True}}), 200, expected_user(user)
    )
    assert body["active"] is True

    # Some value objects carry id and schemas next to active.
    body = assert_scim(
        _patch(
            okta,
            f"/Users/{user.pk}",
            {"op": "replace", "value": {"id": str(user.pk), "schemas": [USER_URN], "active": False}},
        ),
        200,
        expected_user(user),
    )
    assert body["active"] is False
    assert_scim(_patch(okta, f"/Users/{user.pk}", {"op": "replace", "value": {"active": True}}), 200)

    # 6. Password sync: a path-less replace, and the path form. Never returned.
    for operation in (
        {"op": "replace", "value": {"password": "n3w-Pa55"}},
        {"op": "replace", "path": "password", "value": "n3w-Pa55"},
    ):
        response = _patch(okta, f"/Users/{user.pk}", operation)
        assert_scim(response, 200, expected_user(user))
        assert "n3w-Pa55" not in response.content.decode()
    user.refresh_from_db()
    assert not user.has_usable_password()

    # 7. AIW: PUT for everything. active false deactivates; a PUT without active keeps it.
    aiw = {k: v for k, v in put.items() if k not in ("meta", "password")}
    body = assert_scim(
        okta.put(f"/Users/{user.pk}", {**aiw, "active": False}, content_type=WRITE), 200, expected_user(user)
    )
    assert body["active"] is False
    without_active = {k: v for k, v in aiw.items() if k != "active"}
    body = assert_scim(
        okta.put(f"/Users/{user.pk}", {**without_active, "title": "Dev"}, content_type=WRITE), 200, expected_user(user)
    )
    assert (body["active"], body["title"]) == (False, "Dev")
    body = assert_scim(
        okta.put(f"/Users/{user.pk}", {**aiw, "active": True}, content_type=WRITE), 200, expected_user(user)
    )
    assert body["active"] is True

    # A duplicate create stops provisioning for that user: 409.
    assert_error(okta.post("/Users", create, content_type=WRITE), 409, "uniqueness")


def test_import_pages_through_everything(okta, scim_organization, sso_connection):
    """Import (docs/idp-notes.md#okta): pages of 100 until startIndex passes totalResults; stable order."""
    now = timezone.now()
    User.objects.bulk_create(
        [
            User(
                id=uuid.uuid4(),
                email=f"import{i:03d}@acme.test",
                home_organization=scim_organization,
                given_name="Im",
                family_name=f"Port{i}",
                source="scim",
                scim_connection=sso_connection,
                password="!",
                created_at=now,
                updated_at=now,
            )
            for i in range(150)
        ]
    )
    expected = [
        str(pk)
        for pk in User.objects.filter(home_organization=scim_organization)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    ]
    seen, start = [], 1
    while True:
        body = assert_scim(okta.get(f"/Users?startIndex={start}&count=100"), 200)
        _assert_list_counters_are_integers(body)
        assert (body["totalResults"], body["startIndex"]) == (151, start)
        seen += [r["id"] for r in body["Resources"]]
        for resource in body["Resources"]:
            assert all(isinstance(e["primary"], bool) for e in resource["emails"])
        start += 100
        if start > body["totalResults"]:
            break
    assert seen == expected
    assert_scim(okta.get("/Groups?startIndex=1&count=100"), 200, EMPTY_LIST)


def test_group_push(okta, scim_organization, sso_connection):
    people = [
        UserFactory(
            organization=scim_organization, email=f"push{i}@okta.local", source="scim", scim_connection=sso_connection
        )
        for i in range(4)
    ]

    # 2. Create with members [].
    response = okta.post(
        "/Groups", {"schemas": [GROUP_URN], "displayName": "Test SCIMv2", "members": []}, content_type=WRITE
    )
    body = assert_scim(response, 201)
    group = Group.objects.get(pk=body["id"])
    assert body == expected_group(group) and body["members"] == []
    assert response["Location"] == f"{BASE}/Groups/{group.pk}"
    # Older pushes carry already-provisioned members with display.
    older = assert_scim(
        okta.post(
            "/Groups",
            {
                "schemas": [GROUP_URN],
                "displayName": "Older Push",
                "members": [{"value": str(people[0].pk), "display": people[0].email}],
            },
            content_type=WRITE,
        ),
        201,
    )
    assert [m["value"] for m in older["members"]] == [str(people[0].pk)]

    # 3. Read.
    assert_scim(okta.get(f"/Groups/{group.pk}"), 200, expected_group(group))

    # 4. Rename: the value carries id as well as displayName; the URL wins.
    body = assert_scim(
        _patch(
            okta, f"/Groups/{group.pk}", {"op": "replace", "value": {"id": str(group.pk), "displayName": "Test SCIMv3"}}
        ),
        200,
        expected_group(group),
    )
    assert body["displayName"] == "Test SCIMv3"

    # 5. Membership delta, with the unchanged-name rename Okta sends every time.
    assert_scim(
        _patch(
            okta,
            f"/Groups/{group.pk}",
            {"op": "add", "path": "members", "value": [{"value": str(p.pk), "display": p.email} for p in people[:2]]},
        ),
        200,
        expected_group(group),
    )
    response = _patch(
        okta,
        f"/Groups/{group.pk}",
        {"op": "replace", "value": {"id": str(group.pk), "displayName": "Test SCIMv3"}},
        {"op": "remove", "path": f'members[value eq "{people[0].pk}"]'},
        {"op": "remove", "path": 'members[value eq "removeUser2"]'},
        {
            "op": "add",
            "path": "members",
            "value": [
                {"value": str(people[2].pk), "display": people[2].email},
                {"value": str(people[3].pk), "display": people[3].email},
            ],
        },
    )
    body = assert_scim(response, 200, expected_group(group))
    assert body["displayName"] == "Test SCIMv3"
    assert member_ids(group) == {str(people[1].pk), str(people[2].pk), str(people[3].pk)}

    # 6. Push Now: replace all members.
    response = _patch(
        okta,
        f"/Groups/{group.pk}",
        {
            "op": "replace",
            "path": "members",
            "value": [
                {"value": str(people[0].pk), "display": people[0].email},
                {"value": str(people[3].pk), "display": people[3].email},
            ],
        },
    )
    assert_scim(response, 200, expected_group(group))
    assert member_ids(group) == {str(people[0].pk), str(people[3].pk)}

    # 7. AIW: GET, then a full PUT.
    current = assert_scim(okta.get(f"/Groups/{group.pk}"), 200, expected_group(group))
    put = {
        "schemas": [GROUP_URN],
        "id": str(group.pk),
        "displayName": "SCIM_test1",
        "members": [{"value": str(people[1].pk), "display": people[1].email}],
    }
    body = assert_scim(okta.put(f"/Groups/{group.pk}", put, content_type=WRITE), 200, expected_group(group))
    assert (body["displayName"], [m["value"] for m in body["members"]]) == ("SCIM_test1", [str(people[1].pk)])
    assert current["displayName"] == "Test SCIMv3"

    # A push of a group whose name an admin already uses is a 409 with a hint.
    assert_error(
        okta.post("/Groups", {"schemas": [GROUP_URN], "displayName": "Everyone", "members": []}, content_type=WRITE),
        409,
        "uniqueness",
        "'Everyone' is a reserved group name in the Admin Center. Rename the group on the IdP side "
        "(for example Opti_SCIM_Everyone).",
    )

    # 8. Unlink with "Delete the group in the target app".
    assert_scim(okta.delete(f"/Groups/{group.pk}"), 204)
    assert_error(okta.get(f"/Groups/{group.pk}"), 404, None, f"Group {group.pk} not found.")
    assert all(User.objects.filter(pk=p.pk).exists() for p in people)


# --- Okta SCIM 2.0 Spec Test ---------------------------------------------------------------------------

SPEC_HEADERS = {"Accept-Charset": "utf-8", "Accept": "application/scim+json"}
SPEC_UA = "OKTA SCIM Integration"
RANDOM_EMAIL = "Runscope300Hfluaklab151@example.com"
INVALID_USER_EMAIL = "abcdefgh@example.com"
USER_ID_THAT_DOES_NOT_EXIST = "010101001010101011001010101011"


def _spec_get(client, path):
    # Content-Type is sent on GETs too.
    return client.request("GET", path, raw=b"", headers={"Content-Type": WRITE})


def _spec_user_fields(resource):
    assert resource["id"]
    assert resource["name"]["familyName"] and resource["name"]["givenName"]
    assert resource["userName"]
    assert resource["active"] is not None
    assert resource["emails"][0]["value"]


def test_spec_test_steps_in_order(scim_token, scim_organization, admin_user, scim_managed_user):
    # Precondition: the first user of the stable order has givenName, familyName,
    # userName, active and an email (step 7 reads the first user of an unfiltered list).
    User.objects.filter(pk=admin_user.pk).update(given_name="Ada", family_name="Admin")
    auth = f"Bearer {scim_token}"
    client = ScimClient(None, authorization=auth, user_agent=SPEC_UA, headers=SPEC_HEADERS)

    # 1. ServiceProviderConfig.
    body = assert_scim(_spec_get(client, "/ServiceProviderConfig"), 200)
    assert SPC_URN in body["schemas"]
    assert_service_provider_config_complete(body)
    # 2. POST with the body "test".
    assert_error(client.post("/ServiceProviderConfig", raw="test", content_type=WRITE), 405)
    # 3. ResourceTypes.
    body = assert_scim(_spec_get(client, "/ResourceTypes"), 200)
    assert LIST_URN in body["schemas"]
    first = body["Resources"][0]
    assert first["name"] and first["endpoint"] and first["schema"]
    # 4.
    assert_error(client.post("/ResourceTypes", raw="test", content_type=WRITE), 405)
    # 5. Schemas.
    body = assert_scim(_spec_get(client, "/Schemas"), 200)
    assert LIST_URN in body["schemas"]
    assert body["Resources"][0]["id"] and body["Resources"][0]["attributes"]
    # 6.
    assert_error(client.post("/Schemas", raw="test", content_type=WRITE), 405)

    # 7. The first user.
    body = assert_scim(_spec_get(client, "/Users?count=1&startIndex=1"), 200)
    assert LIST_URN in body["schemas"]
    _assert_list_counters_are_integers(body)
    _spec_user_fields(body["Resources"][0])
    isv_user_id = body["Resources"][0]["id"]
    assert isv_user_id == str(admin_user.pk)
    assert body == expected_list([expected_user(admin_user)], total=2)
    # 8. That user by id.
    body = assert_scim(_spec_get(client, f"/Users/{isv_user_id}"), 200, expected_user(admin_user))
    _spec_user_fields(body)
    assert body["id"] == isv_user_id
    # 9. A filter that matches nothing.
    body = assert_scim(_spec_get(client, f'/Users?filter=userName eq "{INVALID_USER_EMAIL}"'), 200, EMPTY_LIST)
    assert LIST_URN in body["schemas"] and body["totalResults"] == 0
    # 10. An id that does not exist.
    body = assert_error(_spec_get(client, f"/Users/{USER_ID_THAT_DOES_NOT_EXIST}"), 404)
    assert ERROR_URN in body["schemas"] and body["detail"]
    # 11. The random user does not exist yet.
    assert_scim(_spec_get(client, f'/Users?filter=userName eq "{RANDOM_EMAIL}"'), 200, EMPTY_LIST)

    # 12. Create, with only Authorization and Accept headers and no Content-Type.
    create = {
        "schemas": [USER_URN],
        "userName": RANDOM_EMAIL,
        "name": {"givenName": "Hfluaklab", "familyName": "Runscope"},
        "emails": [{"primary": True, "value": RANDOM_EMAIL, "type": "work"}],
        "displayName": "Hfluaklab Runscope",
        "active": True,
    }
    bare = ScimClient(None, authorization=auth)
    bare.headers["Accept"] = "application/scim+json; charset=utf-8"
    response = bare.post("/Users", create, content_type=None)
    body = assert_scim(response, 201)
    created = User.objects.get(pk=body["id"])
    assert body == expected_user(created)
    assert body["active"] is True and body["id"]
    assert body["name"] == {**create["name"], "formatted": "Hfluaklab Runscope"}
    assert body["userName"] == RANDOM_EMAIL.lower()
    assert USER_URN in body["schemas"]
    id_user_one = body["id"]
    # 13. Read it back.
    body = assert_scim(_spec_get(client, f"/Users/{id_user_one}"), 200, expected_user(created))
    assert body["userName"].lower() == RANDOM_EMAIL.lower()
    assert (body["name"]["givenName"], body["name"]["familyName"]) == ("Hfluaklab", "Runscope")
    # 14. The same POST again.
    assert_error(bare.post("/Users", create, content_type=None), 409, "uniqueness")

    # 15 (2016). A bare value is not a filter.
    assert_error(_spec_get(client, f"/Users?filter={RANDOM_EMAIL.upper()}"), 400, "invalidFilter")
    # 15' (newer). A proper filter in upper case is 200, and matches (Entra needs it too).
    body = assert_scim(_spec_get(client, f'/Users?filter=userName eq "{RANDOM_EMAIL.upper()}"'), 200)
    assert body == expected_list([expected_user(created)])

    # 16. Groups.
    body = assert_scim(_spec_get(client, "/Groups"), 200)
    if body["totalResults"] >= 1:
        assert isinstance(body["Resources"], list)

    # 17 (newer). A wrong token.
    wrong = ScimClient(None, authorization="Bearer optiid_scim_wrong", user_agent=SPEC_UA)
    body = assert_error(wrong.get(f'/Users?filter=userName eq "{RANDOM_EMAIL}"'), 401)
    assert ERROR_URN in body["schemas"] and body["detail"] and body["status"] == "401"

    # 18 (newer). An arbitrary digit string as id.
    body = assert_error(_spec_get(client, "/Users/00919288221112222"), 404)
    assert ERROR_URN in body["schemas"] and body["detail"] and body["status"] == "404"
