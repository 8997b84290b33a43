"""/Users: create, read, list and page, replace, delete (docs/domain.md#what-scim-may-do and the
product decisions; docs/idp-notes.md#what-every-client-gets). PATCH has its own module
(test_users_patch.py).

Bodies are compared whole against tests/scim/helpers.py builders, which read the model.
"""

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from admincenter.models import (
    AuditEvent,
    Group,
    GroupKind,
    GroupMembership,
    Organization,
    OrgMembership,
    SystemGroupKey,
    User,
    UserSource,
)
from tests.factories import GroupFactory, UserFactory
from tests.scim.helpers import (
    BASE,
    EMPTY_LIST,
    ENTERPRISE_URN,
    USER_URN,
    assert_error,
    assert_scim,
    expected_deleted_user,
    expected_list,
    expected_user,
    op,
    patch_body,
    pingone_user_body,
    scim_users_bulk_create,
    user_body,
)

PASSWORD = "Pa55-w0rd-never-returned"


def _created(response) -> User:
    body = assert_scim(response, 201)
    return User.objects.get(pk=body["id"])


def _actions() -> list[str]:
    """The change events written by SCIM requests (rejections are test_request_log.py's)."""
    events = AuditEvent.objects.filter(actor_type="scim_token").exclude(action="scim.request.rejected")
    return list(events.order_by("id").values_list("action", flat=True))


def _bulk_users(organization, connection, count, *, created_at=None):
    return scim_users_bulk_create(organization, connection, count, email="bulk{i:04d}@acme.test", created_at=created_at)


def _listed_ids(body) -> list[str]:
    return [r["id"] for r in body["Resources"]]


def _ordered(organization) -> list[str]:
    return [
        str(pk)
        for pk in User.objects.filter(home_organization=organization)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    ]


# --- POST ---------------------------------------------------------------------------------------

PINGONE_CREATE = pingone_user_body("jsmith@acme.test", "p1-user-42")


def test_post_creates_a_scim_managed_user_with_the_whole_resource(scim, scim_organization, sso_connection):
    response = scim.post("/Users", PINGONE_CREATE)
    user = _created(response)
    body = json.loads(response.content)
    assert body == expected_user(user)
    # What the builder computed, spelled out once (docs/idp-notes.md#pingone, the create).
    assert body == {
        "schemas": [USER_URN, ENTERPRISE_URN],
        "id": str(user.pk),
        "userName": "jsmith@acme.test",
        "active": True,
        "displayName": "Janet Smith",
        "externalId": "p1-user-42",
        "title": "Engineer",
        "name": {"formatted": "Janet Smith", "givenName": "Janet", "familyName": "Smith"},
        "emails": [{"value": "jsmith@acme.test", "type": "work", "primary": True}],
        "phoneNumbers": [{"value": "+1-201-555-0123", "type": "work", "primary": False}],
        "groups": [],
        ENTERPRISE_URN: {"employeeNumber": "42", "department": "R&D"},
        "meta": {
            "resourceType": "User",
            "created": body["meta"]["created"],
            "lastModified": body["meta"]["lastModified"],
            "location": f"{BASE}/Users/{user.pk}",
        },
    }
    assert response["Location"] == f"{BASE}/Users/{user.pk}"
    assert (user.source, user.scim_connection_id, user.home_organization_id) == (
        UserSource.SCIM,
        sso_connection.pk,
        scim_organization.pk,
    )
    assert not user.has_usable_password()
    # The custom extension is accepted and not stored.
    assert "costCode" not in json.dumps(user.scim_attributes)


def test_locations_use_the_configured_public_base_url(scim, settings, scim_group, scim_managed_user):
    settings.SCIM_BASE_URL = "https://id.example.com/api/scim/v2"
    response = scim.post("/Users", user_body("public@acme.test"))
    user = _created(response)
    assert response["Location"] == f"https://id.example.com/api/scim/v2/Users/{user.pk}"
    assert json.loads(response.content) == expected_user(user, "https://id.example.com/api/scim/v2")
    body = assert_scim(scim.get(f"/Users/{scim_managed_user.pk}"), 200)
    assert body == expected_user(scim_managed_user, "https://id.example.com/api/scim/v2")
    assert body["groups"][0]["$ref"] == f"https://id.example.com/api/scim/v2/Groups/{scim_group.pk}"


def test_created_users_join_everyone_and_get_no_access(scim, scim_organization):
    user = _created(scim.post("/Users", user_body("new@acme.test")))
    groups = list(GroupMembership.objects.filter(user=user).values_list("group__system_key", "managed_by"))
    assert groups == [(SystemGroupKey.EVERYONE, "system")]


def test_minimal_create(scim):
    response = scim.post("/Users", user_body("min@acme.test"))
    user = _created(response)
    assert json.loads(response.content) == expected_user(user)
    assert json.loads(response.content)["emails"] == [{"value": "min@acme.test", "type": "work", "primary": True}]


def test_password_is_accepted_and_never_returned_or_stored(scim):
    """Okta sends a random password with every create (docs/idp-notes.md#okta)."""
    body = {**user_body("okta.user@acme.test"), "password": PASSWORD, "groups": []}
    response = scim.post("/Users", body)
    user = _created(response)
    assert PASSWORD not in response.content.decode()
    assert "password" not in json.loads(response.content)
    assert not user.has_usable_password()
    assert not user.check_password(PASSWORD)
    assert PASSWORD not in json.dumps(user.scim_attributes)
    assert PASSWORD not in scim.get(f"/Users/{user.pk}").content.decode()


def test_user_name_is_stored_lower_case_and_found_in_any_case(scim):
    user = _created(scim.post("/Users", user_body("Mixed.Case@Acme.TEST")))
    assert user.email == "mixed.case@acme.test"
    found = assert_scim(scim.get('/Users?filter=userName eq "MIXED.case@acme.test"'), 200)
    assert _listed_ids(found) == [str(user.pk)]


@pytest.mark.parametrize("second", ["dup@acme.test", "DUP@acme.test", "Dup@Acme.Test", " dup@acme.test "])
def test_duplicate_user_name_in_any_case_is_409(scim, second):
    _created(scim.post("/Users", user_body("dup@acme.test")))
    response = scim.post("/Users", user_body(second))
    assert_error(response, 409, "uniqueness", "The email address dup@acme.test is already in use.")
    assert User.objects.filter(email="dup@acme.test").count() == 1


def test_email_of_an_existing_local_user_of_the_organization_is_409(scim, manual_user):
    """The IdP is expected to match by userName first, then update (docs/domain.md#adoption)."""
    assert_error(
        scim.post("/Users", user_body("Manual@acme.test")),
        409,
        "uniqueness",
        "The email address manual@acme.test is already in use.",
    )
    manual_user.refresh_from_db()
    assert manual_user.scim_connection_id is None


def test_email_of_a_user_of_another_organization_is_409_without_naming_it(scim, other_organization):
    UserFactory(organization=other_organization, email="shared.person@example.com")
    response = scim.post("/Users", user_body("shared.person@example.com"))
    body = assert_error(response, 409, "uniqueness", "The email address shared.person@example.com is already in use.")
    for hint in (other_organization.name, other_organization.slug):
        assert hint.lower() not in json.dumps(body).lower()


def test_email_of_a_collaborator_is_409(scim, scim_organization, other_organization):
    hank = other_organization.home_users.get(email="hank@globex.test")
    OrgMembership.objects.create(user=hank, organization=scim_organization)
    assert_error(
        scim.post("/Users", user_body("hank@globex.test")),
        409,
        "uniqueness",
        "The email address hank@globex.test is already in use.",
    )
    hank.refresh_from_db()
    assert (hank.home_organization_id, hank.scim_connection_id) == (
        other_organization.pk,
        other_organization.sso_connections.get().pk,
    )


def test_external_id_is_not_unique(scim):
    """docs/domain.md#externalid-is-not-unique: stored as sent, never enforced unique."""
    first = _created(scim.post("/Users", user_body("one@acme.test", externalId="same")))
    second = _created(scim.post("/Users", user_body("two@acme.test", externalId="same")))
    found = assert_scim(scim.get('/Users?filter=externalId eq "same"&attributes=id'), 200)
    assert sorted(r["id"] for r in found["Resources"]) == sorted([str(first.pk), str(second.pk)])


def test_active_false_on_post_creates_a_deactivated_user(scim):
    response = scim.post("/Users", user_body("disabled@acme.test", active=False))
    user = _created(response)
    assert json.loads(response.content) == expected_user(user)
    assert json.loads(response.content)["active"] is False
    assert user.deactivated_at is not None


def test_active_false_on_post_creates_a_deactivated_user_also_in_delete_mode(scim, scim_organization):
    """on_scim_deactivate=delete applies only when an active user turns inactive
    (docs/domain.md#created-inactive)."""
    Organization.objects.filter(pk=scim_organization.pk).update(on_scim_deactivate="delete")
    user = _created(scim.post("/Users", user_body("disabled@acme.test", active=False)))
    assert user.is_active is False
    assert_scim(scim.get(f"/Users/{user.pk}"), 200, expected_user(user))


def test_entra_create_body_is_tolerated(scim):
    """Entra (docs/idp-notes.md#microsoft-entra-id): meta, roles: [], nulls, a custom extension
    missing from schemas and a misspelled enterprise URN in schemas."""
    body = {
        "schemas": [USER_URN, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_00aa00aa@acme.test",
        "active": True,
        "displayName": "Joy Young",
        "emails": [{"primary": "true", "type": "work", "value": "Test_User_11bb11bb@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
        "addresses": None,
        "title": None,
        "manager": None,
        ENTERPRISE_URN: {"employeeNumber": "701984", "department": "Tour Operations"},
        "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User": {"tag": "701984"},
    }
    response = scim.post("/Users", body)
    user = _created(response)
    assert json.loads(response.content) == expected_user(user)
    assert json.loads(response.content)[ENTERPRISE_URN] == {"employeeNumber": "701984", "department": "Tour Operations"}
    assert user.email == "test_user_00aa00aa@acme.test"
    assert user.external_id == "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"  # stored exactly as sent
    assert (user.title, user.manager_id) == ("", None)
    stored = json.dumps(user.scim_attributes)
    assert "701984" not in stored.replace(user.employee_number, "") and "tag" not in stored
    assert "roles" not in json.loads(response.content)


def test_validator_attributes_are_stored_as_sent_and_returned(scim):
    """The Entra Validator's many-attribute create, primary sent as strings."""
    body = {
        "schemas": [USER_URN, ENTERPRISE_URN],
        "userName": "validator@acme.test",
        "active": True,
        "displayName": "Val Idator",
        "nickName": "Val",
        "title": "Tester",
        "userType": "Employee",
        "preferredLanguage": "en-GB",
        "locale": "en_US",
        "timezone": "Europe/London",
        "profileUrl": "https://example.com/val",
        "name": {"givenName": "Val", "familyName": "Idator", "middleName": "M", "honorificPrefix": "Dr"},
        "emails": [{"primary": "true", "type": "work", "value": "validator@acme.test"}],
        "phoneNumbers": [
            {"type": "work", "value": "+1 (201) 555-0123", "primary": "True"},
            {"type": "mobile", "value": "0044 7700 900123"},
            {"type": "fax", "value": "+44-20-7946-0958"},
        ],
        "addresses": [
            {
                "type": "work",
                "formatted": "1 Main St, Springfield",
                "streetAddress": "1 Main St",
                "locality": "Springfield",
                "region": "IL",
                "postalCode": "62701",
                "country": "US",
                "primary": "false",
            }
        ],
        "roles": [{"primary": "True", "value": "Admin", "display": "Admin", "type": "WindowsAzureActiveDirectoryRole"}],
        ENTERPRISE_URN: {"employeeNumber": "7", "department": "QA", "costCenter": "CC1", "division": "D"},
    }
    response = scim.post("/Users", body)
    user = _created(response)
    returned = json.loads(response.content)
    assert returned == expected_user(user)
    assert returned["phoneNumbers"] == [
        {"type": "work", "value": "+1 (201) 555-0123", "primary": True},
        {"type": "mobile", "value": "0044 7700 900123", "primary": False},
        {"type": "fax", "value": "+44-20-7946-0958", "primary": False},
    ]
    assert returned["addresses"][0]["primary"] is False and returned["addresses"][0]["postalCode"] == "62701"
    assert returned["emails"] == [{"value": "validator@acme.test", "type": "work", "primary": True}]
    assert (returned["locale"], returned["timezone"], returned["nickName"]) == ("en_US", "Europe/London", "Val")
    assert returned["name"]["middleName"] == "M"
    assert returned[ENTERPRISE_URN] == {"employeeNumber": "7", "department": "QA", "costCenter": "CC1", "division": "D"}
    assert "roles" not in returned


@pytest.mark.parametrize("locale", ["en_US", "en-US"])
def test_locale_in_either_form_is_kept_as_sent(scim, locale):
    user = _created(scim.post("/Users", user_body("loc@acme.test", locale=locale)))
    assert assert_scim(scim.get(f"/Users/{user.pk}"), 200)["locale"] == locale


def test_unknown_attributes_are_ignored(scim):
    body = user_body(
        "unknown.attrs@acme.test",
        favouriteColour="blue",
        entitlements=[{"value": "x"}],
        x509Certificates=[{"value": "MIIB"}],
        id="client-chosen-id",
        **{"urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:tag": "t"},
    )
    response = scim.post("/Users", body)
    user = _created(response)
    assert json.loads(response.content) == expected_user(user)
    assert str(user.pk) != "client-chosen-id"
    assert user.scim_attributes == {}


def test_two_identical_primary_emails_are_normalised(scim):
    """PingOne fills two mapped emails with the same address, both primary
    (docs/idp-notes.md#duplicate-primary-emails)."""
    body = user_body(
        "twice@acme.test",
        emails=[
            {"value": "twice@acme.test", "type": "work", "primary": True},
            {"value": "twice@acme.test", "type": "work", "primary": True},
        ],
    )
    user = _created(scim.post("/Users", body))
    assert assert_scim(scim.get(f"/Users/{user.pk}"), 200)["emails"] == [
        {"value": "twice@acme.test", "type": "work", "primary": True}
    ]


def test_at_most_one_element_per_type_and_one_primary(scim):
    body = user_body(
        "types.once@acme.test",
        phoneNumbers=[
            {"type": "work", "value": "1"},
            {"type": "Work", "value": "2"},
            {"type": "mobile", "value": "3", "primary": True},
            {"type": "home", "value": "4", "primary": "true"},
        ],
    )
    user = _created(scim.post("/Users", body))
    assert assert_scim(scim.get(f"/Users/{user.pk}"), 200)["phoneNumbers"] == [
        {"type": "Work", "value": "2", "primary": False},
        {"type": "mobile", "value": "3", "primary": True},
        {"type": "home", "value": "4", "primary": False},
    ]


def test_other_emails_are_kept_next_to_the_work_email(scim):
    body = user_body(
        "multi@acme.test",
        emails=[
            {"value": "multi@acme.test", "type": "work", "primary": True},
            {"value": "Private@Example.com", "type": "home"},
        ],
    )
    user = _created(scim.post("/Users", body))
    assert assert_scim(scim.get(f"/Users/{user.pk}"), 200)["emails"] == [
        {"value": "multi@acme.test", "type": "work", "primary": True},
        {"value": "Private@Example.com", "type": "home", "primary": False},
    ]


@pytest.mark.parametrize("user_name", ["jsmith", "jsmith@", "@example.com", "j smith@example.com", ""])
def test_user_name_that_is_not_an_email_is_400_invalid_value(scim, user_name):
    response = scim.post("/Users", user_body(user_name))
    assert_error(response, 400, "invalidValue", f"'{user_name}' is not a valid email address.")


def test_missing_user_name_is_400(scim):
    assert_error(scim.post("/Users", {"schemas": [USER_URN]}), 400, "invalidValue", "userName is required.")


def test_user_name_falls_back_to_the_primary_email(scim):
    user = _created(scim.post("/Users", {"emails": [{"value": "only.email@acme.test", "primary": True}]}))
    assert user.email == "only.email@acme.test"


@pytest.mark.parametrize(
    ("attributes", "detail"),
    [
        ({"active": "maybe"}, "'active' must be a boolean (true or false)."),
        ({"active": 1}, "'active' must be a boolean (true or false)."),
        ({"name": "Janet Smith"}, "'name' must be an object."),
        ({"name": {"givenName": {"x": 1}}}, "'name.givenName' must be a string."),
        ({"emails": "a@acme.test"}, "'emails' must be an array."),
        ({"phoneNumbers": [5]}, "Each element of 'phoneNumbers' must be an object."),
        ({"externalId": True}, "'externalId' must be a string."),
        ({"displayName": ["x"]}, "'displayName' must be a string."),
        ({ENTERPRISE_URN: "R&D"}, "The enterprise extension must be an object."),
        (
            {"emails": [{"value": "a@acme.test", "primary": "yes"}]},
            "'emails.primary' must be a boolean (true or false).",
        ),
    ],
)
def test_wrong_json_types_are_400_invalid_syntax(scim, attributes, detail):
    response = scim.post("/Users", user_body("types@acme.test", **attributes))
    assert_error(response, 400, "invalidSyntax", detail)
    assert not User.objects.filter(email="types@acme.test").exists()


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        ("{not json", "The request body is not valid JSON."),
        ('{"userName": "a@acme.test",}', "The request body is not valid JSON."),
        ("", "The request body is not valid JSON."),
        (b"\xff\xfe{}", "The request body is not valid JSON."),
        ("[" * 200_000 + "]" * 200_000, "The request body is not valid JSON."),
        ("[]", "The request body must be a JSON object."),
        ('"a@acme.test"', "The request body must be a JSON object."),
    ],
    ids=["truncated", "trailing-comma", "empty", "not-utf8", "deeply-nested", "array", "string"],
)
def test_malformed_bodies_are_400_invalid_syntax(scim, raw, detail):
    assert_error(scim.post("/Users", raw=raw), 400, "invalidSyntax", detail)


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "application/scim+json", "application/scim+json; charset=utf-8", "text/plain"],
)
def test_json_bodies_are_parsed_whatever_the_content_type(scim, content_type):
    """Okta's Spec Test POSTs without Content-Type; PingOne sent application/json
    (docs/idp-notes.md#what-every-client-gets)."""
    response = scim.post("/Users", user_body("ct@acme.test"), content_type=content_type)
    user = _created(response)
    assert json.loads(response.content) == expected_user(user)


def test_body_over_one_mebibyte_is_413(scim):
    body = user_body("big@acme.test", nickName="x" * (1024 * 1024))
    response = scim.post("/Users", body)
    assert_error(response, 413, None, "The request body is larger than 1048576 bytes.")
    assert not User.objects.filter(email="big@acme.test").exists()


def test_too_long_values_are_400(scim):
    assert_error(
        scim.post("/Users", user_body("long@acme.test", externalId="x" * 256)),
        400,
        "invalidValue",
        "'externalId' is longer than 255 characters.",
    )


def test_post_honours_attributes(scim):
    response = scim.post("/Users?attributes=userName", user_body("attr@acme.test", title="T"))
    user = _created(response)
    assert json.loads(response.content) == {
        k: v for k, v in expected_user(user).items() if k in ("schemas", "id", "userName", "meta")
    }


# --- GET by id ----------------------------------------------------------------------------------


def test_get_by_id_returns_the_whole_user(scim, scim_managed_user):
    body = assert_scim(scim.get(f"/Users/{scim_managed_user.pk}"), 200, expected_user(scim_managed_user))
    assert body["externalId"] == "ext-1"


def test_get_by_id_of_an_inactive_user(scim, scim_organization, sso_connection):
    user = UserFactory(
        organization=scim_organization,
        email="gone@acme.test",
        source="scim",
        scim_connection=sso_connection,
        is_active=False,
    )
    body = assert_scim(scim.get(f"/Users/{user.pk}"), 200, expected_user(user))
    assert body["active"] is False


@pytest.mark.parametrize("user_id", [str(uuid.uuid4()), "010101001010101011001010101011", "00919288221112222", "x y"])
def test_unknown_id_in_any_format_is_404(scim, user_id):
    assert_error(scim.get(f"/Users/{user_id}"), 404, None, f"User {user_id} not found.")


def test_groups_lists_only_scim_groups(scim, scim_organization, scim_managed_user, scim_group, custom_group):
    GroupMembership.objects.create(group=custom_group, user=scim_managed_user, managed_by="admin")
    admins = Group.objects.get(organization=scim_organization, system_key=SystemGroupKey.ADMIN_CENTER_ADMINS)
    GroupMembership.objects.create(group=admins, user=scim_managed_user, managed_by="admin")
    body = assert_scim(scim.get(f"/Users/{scim_managed_user.pk}"), 200, expected_user(scim_managed_user))
    assert body["groups"] == [
        {"value": str(scim_group.pk), "display": scim_group.name, "$ref": f"{BASE}/Groups/{scim_group.pk}"}
    ]


def test_groups_are_listed_in_membership_order(scim, scim_organization, sso_connection, scim_managed_user):
    groups = [
        GroupFactory(
            organization=scim_organization, name=f"Opti_SCIM_{n}", kind=GroupKind.SCIM, scim_connection=sso_connection
        )
        for n in ("First", "Second", "Third")
    ]
    base = timezone.now()
    for offset, group in zip((2, 0, 1), groups, strict=True):
        GroupMembership.objects.create(
            group=group, user=scim_managed_user, managed_by="scim", added_at=base + timedelta(seconds=offset)
        )
    order = [groups[1], groups[2], groups[0]]
    expected = [{"value": str(g.pk), "display": g.name, "$ref": f"{BASE}/Groups/{g.pk}"} for g in order]
    assert assert_scim(scim.get(f"/Users/{scim_managed_user.pk}"), 200)["groups"] == expected
    listed = assert_scim(scim.get('/Users?filter=userName eq "scim.user@acme.test"'), 200)
    assert listed["Resources"][0]["groups"] == expected


def test_local_users_are_visible_but_collaborators_are_not(scim, scim_organization, manual_user, other_organization):
    jit = UserFactory(organization=scim_organization, email="jit@acme.test", source=UserSource.JIT)
    hank = other_organization.home_users.get(email="hank@globex.test")
    OrgMembership.objects.create(user=hank, organization=scim_organization)
    listed = assert_scim(scim.get("/Users"), 200)
    assert str(manual_user.pk) in _listed_ids(listed) and str(jit.pk) in _listed_ids(listed)
    assert str(hank.pk) not in _listed_ids(listed)
    assert_scim(scim.get(f"/Users/{manual_user.pk}"), 200, expected_user(manual_user))
    assert_error(scim.get(f"/Users/{hank.pk}"), 404, None, f"User {hank.pk} not found.")
    assert_scim(scim.get('/Users?filter=userName eq "hank@globex.test"'), 200, EMPTY_LIST)
    for method, body in (("PUT", user_body("hank@globex.test")), ("PATCH", patch_body(op("replace", "active", False)))):
        assert_error(scim.request(method, f"/Users/{hank.pk}", body), 404, None, f"User {hank.pk} not found.")
    assert_error(scim.delete(f"/Users/{hank.pk}"), 404, None, f"User {hank.pk} not found.")
    hank.refresh_from_db()
    assert hank.is_active


# --- list and pagination -------------------------------------------------------------------------


def test_list_returns_full_resources_in_a_stable_order(scim, scim_organization, scim_managed_user, manual_user):
    expected = [expected_user(User.objects.get(pk=pk)) for pk in _ordered(scim_organization)]
    assert_scim(scim.get("/Users"), 200, expected_list(expected))


def test_default_count_is_100_with_the_true_total(scim, scim_organization, sso_connection):
    _bulk_users(scim_organization, sso_connection, 120)
    body = assert_scim(scim.get("/Users?attributes=userName"), 200)
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"], len(body["Resources"])) == (
        121,
        1,
        100,
        100,
    )


def test_count_is_capped_at_1000(scim, scim_organization, sso_connection):
    _bulk_users(scim_organization, sso_connection, 1001)
    body = assert_scim(scim.get("/Users?count=5000&attributes=id"), 200)
    assert (body["totalResults"], body["itemsPerPage"], len(body["Resources"])) == (1002, 1000, 1000)
    assert _listed_ids(body) == _ordered(scim_organization)[:1000]
    rest = assert_scim(scim.get("/Users?startIndex=1001&count=1000&attributes=id"), 200)
    assert _listed_ids(rest) == _ordered(scim_organization)[1000:]


@pytest.mark.parametrize("count", ["0", "-1", "-100"])
def test_count_zero_or_negative_returns_only_the_total(scim, scim_managed_user, count):
    assert_scim(scim.get(f"/Users?count={count}"), 200, expected_list([], total=2))


def test_start_index_past_the_end_is_empty_with_the_true_total(scim, scim_managed_user):
    assert_scim(scim.get("/Users?startIndex=50&count=10"), 200, expected_list([], total=2, start=50))


@pytest.mark.parametrize("start", ["0", "-5"])
def test_start_index_below_one_reads_as_one(scim, scim_organization, scim_managed_user, start):
    body = assert_scim(scim.get(f"/Users?startIndex={start}&count=1&attributes=id"), 200)
    assert (body["startIndex"], _listed_ids(body)) == (1, _ordered(scim_organization)[:1])


@pytest.mark.parametrize("count", [1, 3, 7])
def test_ordering_is_stable_across_pages(scim, scim_organization, sso_connection, count):
    """Okta import and PingOne group listing page through everything (docs/idp-notes.md#okta): users created
    in the same instant still come back once each, in the same order."""
    _bulk_users(scim_organization, sso_connection, 14, created_at=timezone.now())
    everything = _listed_ids(assert_scim(scim.get("/Users?count=1000&attributes=id"), 200))
    assert everything == _ordered(scim_organization)
    paged, start = [], 1
    while start <= len(everything):
        body = assert_scim(scim.get(f"/Users?startIndex={start}&count={count}&attributes=id"), 200)
        assert body["totalResults"] == len(everything)
        assert body["itemsPerPage"] == len(body["Resources"]) <= count
        paged += _listed_ids(body)
        start += count
    assert paged == everything


def test_filter_and_paging_combine(scim, scim_organization, sso_connection, scim_managed_user):
    _bulk_users(scim_organization, sso_connection, 5)
    ordered = [pk for pk in _ordered(scim_organization) if User.objects.get(pk=pk).email.startswith("bulk")]
    body = assert_scim(scim.get('/Users?filter=userName sw "bulk"&startIndex=2&count=2&attributes=id'), 200)
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (5, 2, 2)
    assert _listed_ids(body) == ordered[1:3]


@pytest.mark.parametrize("param", ["count=abc", "startIndex=1.5", "count=1e3"])
def test_non_integer_paging_parameters_are_400(scim, param):
    name = param.split("=")[0]
    assert_error(scim.get(f"/Users?{param}"), 400, "invalidValue", f"'{name}' must be an integer.")


def test_unknown_query_parameters_are_ignored(scim, scim_managed_user):
    body = assert_scim(scim.get(f"/Users/{scim_managed_user.pk}?aadOptscim062020&foo=bar"), 200)
    assert body == expected_user(scim_managed_user)


# --- attributes / excludedAttributes ---------------------------------------------------------------


@pytest.fixture
def rich_user(scim_organization, sso_connection):
    user = UserFactory(
        organization=scim_organization,
        email="rich@acme.test",
        source="scim",
        scim_connection=sso_connection,
        given_name="Rich",
        family_name="User",
        external_id="r-1",
        title="CTO",
    )
    User.objects.filter(pk=user.pk).update(department="Engineering", employee_number="9")
    return user


def _only(body, *keys):
    return {k: v for k, v in body.items() if k in {"schemas", "id", "meta", *keys}}


@pytest.mark.parametrize(
    ("query", "shape"),
    [
        ("attributes=userName", lambda b: _only(b, "userName")),
        ("attributes=USERNAME,externalId", lambda b: _only(b, "userName", "externalId")),
        (
            "attributes=name.givenName",
            lambda b: {**_only(b), "name": {"givenName": "Rich"}},
        ),
        (
            f"attributes={USER_URN}:userName,{USER_URN}:name.familyName",
            lambda b: {**_only(b, "userName"), "name": {"familyName": "User"}},
        ),
        (
            f"attributes={ENTERPRISE_URN}:department",
            lambda b: {**_only(b), ENTERPRISE_URN: {"department": "Engineering"}},
        ),
        (f"attributes={ENTERPRISE_URN}", lambda b: _only(b, ENTERPRISE_URN)),
        ("attributes=id,meta,schemas", lambda b: _only(b)),
        ("excludedAttributes=emails,groups", lambda b: {k: v for k, v in b.items() if k not in ("emails", "groups")}),
        (
            "excludedAttributes=name.familyName,name.formatted",
            lambda b: {**b, "name": {"givenName": "Rich"}},
        ),
        (
            f"excludedAttributes={ENTERPRISE_URN}:employeeNumber",
            lambda b: {**b, ENTERPRISE_URN: {"department": "Engineering"}},
        ),
        ("excludedAttributes=id,schemas,meta", lambda b: b),
        ("attributes=emails.value", lambda b: {**_only(b), "emails": [{"value": "rich@acme.test"}]}),
        (
            "excludedAttributes=emails.type,emails.primary",
            lambda b: {**b, "emails": [{"value": "rich@acme.test"}]},
        ),
    ],
)
def test_attributes_and_excluded_attributes(scim, rich_user, query, shape):
    full = expected_user(rich_user)
    expected = shape(full)
    assert_scim(scim.get(f"/Users/{rich_user.pk}?{query}"), 200, expected)
    listed = assert_scim(scim.get(f'/Users?filter=userName eq "rich@acme.test"&{query}'), 200)
    assert listed["Resources"] == [expected]


# --- PUT -----------------------------------------------------------------------------------------


def test_put_keeps_attributes_it_leaves_out(scim, rich_user):
    """PingOne can't clear attributes, so an omission is not a deletion
    (docs/idp-notes.md#put-keeps-what-it-leaves-out)."""
    before = expected_user(rich_user)
    response = scim.put(
        f"/Users/{rich_user.pk}",
        {"schemas": [USER_URN], "userName": "rich@acme.test", "name": {"givenName": "Richard", "familyName": "User"}},
    )
    body = assert_scim(response, 200, expected_user(rich_user))
    assert body["name"] == {"givenName": "Richard", "familyName": "User", "formatted": "Richard User"}
    for key in ("externalId", "title", ENTERPRISE_URN, "active", "emails"):
        assert body[key] == before[key], key


def test_put_with_explicit_null_clears(scim, rich_user):
    response = scim.put(
        f"/Users/{rich_user.pk}",
        {"userName": "rich@acme.test", "externalId": None, "title": None, ENTERPRISE_URN: None},
    )
    body = assert_scim(response, 200, expected_user(rich_user))
    assert "externalId" not in body and "title" not in body and ENTERPRISE_URN not in body
    rich_user.refresh_from_db()
    assert (rich_user.external_id, rich_user.title, rich_user.department, rich_user.employee_number) == ("", "", "", "")


def test_put_with_an_empty_value_clears(scim, rich_user):
    body = assert_scim(scim.put(f"/Users/{rich_user.pk}", {"userName": "rich@acme.test", "title": ""}), 200)
    assert "title" not in body


@pytest.mark.parametrize("active", [True, False])
def test_put_without_active_keeps_it(scim, scim_organization, sso_connection, active):
    """Okta AIW PUTs may leave out active (docs/idp-notes.md#put-keeps-what-it-leaves-out)."""
    user = UserFactory(
        organization=scim_organization,
        email="keep@acme.test",
        source="scim",
        scim_connection=sso_connection,
        is_active=active,
    )
    body = assert_scim(scim.put(f"/Users/{user.pk}", {"userName": "keep@acme.test", "title": "New"}), 200)
    assert body == expected_user(user)
    assert body["active"] is active


def test_put_active_false_deactivates_and_true_reactivates(scim, scim_managed_user, scim_group):
    response = scim.put(f"/Users/{scim_managed_user.pk}", {"userName": "scim.user@acme.test", "active": False})
    body = assert_scim(response, 200, expected_user(scim_managed_user))
    assert body["active"] is False
    scim_managed_user.refresh_from_db()
    assert scim_managed_user.deactivated_at is not None
    assert body["groups"] == [
        {"value": str(scim_group.pk), "display": scim_group.name, "$ref": f"{BASE}/Groups/{scim_group.pk}"}
    ]
    # Readable by id and filter while inactive (docs/domain.md#deactivation-keeps-the-user).
    assert_scim(scim.get(f"/Users/{scim_managed_user.pk}"), 200, expected_user(scim_managed_user))
    found = assert_scim(scim.get('/Users?filter=userName eq "scim.user@acme.test"'), 200)
    assert found == expected_list([expected_user(scim_managed_user)])
    response = scim.put(f"/Users/{scim_managed_user.pk}", {"userName": "scim.user@acme.test", "active": True})
    assert assert_scim(response, 200, expected_user(scim_managed_user))["active"] is True
    scim_managed_user.refresh_from_db()
    assert scim_managed_user.deactivated_at is None
    assert _actions() == ["user.deactivate", "user.activate"]


def test_okta_put_echoing_the_get_output_is_tolerated(scim, scim_managed_user):
    """Okta builds its PUT from our GET: id, meta with non-ISO dates, groups, schemas,
    password, display on emails (docs/idp-notes.md#okta)."""
    echoed = assert_scim(scim.get(f"/Users/{scim_managed_user.pk}"), 200)
    echoed["meta"] = {
        "resourceType": "User",
        "created": "04-12-2018 00:00:00",
        "lastModified": "04-12-2018 00:00:00",
        "version": "v1.0",
    }
    echoed["password"] = PASSWORD
    echoed["name"]["middleName"] = "Excited"
    echoed["emails"][0]["display"] = "scim.user@acme.test"
    echoed["groups"] = [{"value": str(uuid.uuid4()), "display": "made up"}]
    response = scim.put(f"/Users/{scim_managed_user.pk}", echoed)
    body = assert_scim(response, 200, expected_user(scim_managed_user))
    assert body["name"]["middleName"] == "Excited"
    assert PASSWORD not in response.content.decode()


def test_put_id_mismatch_is_400_mutability(scim, scim_managed_user, manual_user):
    response = scim.put(f"/Users/{scim_managed_user.pk}", {"id": str(manual_user.pk), "userName": "x@acme.test"})
    assert_error(response, 400, "mutability", "'id' is immutable and must match the URL.")
    scim_managed_user.refresh_from_db()
    assert scim_managed_user.email == "scim.user@acme.test"


def test_put_user_name_change_to_a_free_email_is_audited(scim, scim_managed_user):
    """The IdP may change the email if nobody has it (docs/domain.md#the-idp-may-change-the-email)."""
    response = scim.put(f"/Users/{scim_managed_user.pk}", {"userName": "Renamed@Acme.test"})
    body = assert_scim(response, 200, expected_user(scim_managed_user))
    assert body["userName"] == "renamed@acme.test"
    assert body["emails"] == [{"value": "renamed@acme.test", "type": "work", "primary": True}]
    event = AuditEvent.objects.get(action="user.email.change")
    assert (event.before, event.after, event.target_id) == (
        {"email": "scim.user@acme.test"},
        {"email": "renamed@acme.test"},
        str(scim_managed_user.pk),
    )


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_user_name_change_to_a_non_email_is_400(scim, scim_managed_user, method):
    body = {"userName": "jsmith"} if method == "PUT" else patch_body(op("replace", "userName", "jsmith"))
    before = expected_user(scim_managed_user)
    assert_error(
        scim.request(method, f"/Users/{scim_managed_user.pk}", body),
        400,
        "invalidValue",
        "'jsmith' is not a valid email address.",
    )
    assert expected_user(scim_managed_user) == before


@pytest.mark.parametrize("taken", ["manual@acme.test", "MANUAL@acme.test", "hank@globex.test"])
def test_put_user_name_change_to_a_taken_email_is_409(scim, scim_managed_user, manual_user, other_organization, taken):
    before = expected_user(scim_managed_user)
    response = scim.put(f"/Users/{scim_managed_user.pk}", {"userName": taken, "title": "Changed"})
    assert_error(response, 409, "uniqueness", f"The email address {taken.lower()} is already in use.")
    assert expected_user(scim_managed_user) == before


def test_put_user_name_change_in_case_only_is_no_change(scim, scim_managed_user):
    before = expected_user(scim_managed_user)
    assert_scim(scim.put(f"/Users/{scim_managed_user.pk}", {"userName": "SCIM.User@acme.test"}), 200, before)
    assert _actions() == []


def test_put_to_an_unknown_id_is_404(scim):
    missing = uuid.uuid4()
    assert_error(scim.put(f"/Users/{missing}", user_body("x@acme.test")), 404, None, f"User {missing} not found.")


def test_get_put_round_trip_loses_nothing_and_settles(scim, rich_user):
    """Okta's GET-then-PUT cycle: the first echo may store the derived displayName; after
    that an echoed PUT changes nothing and writes no event."""
    first = assert_scim(scim.get(f"/Users/{rich_user.pk}"), 200)
    second = assert_scim(scim.put(f"/Users/{rich_user.pk}", first), 200, expected_user(rich_user))
    assert {k: v for k, v in second.items() if k != "meta"} == {k: v for k, v in first.items() if k != "meta"}
    events = _actions()
    assert_scim(scim.put(f"/Users/{rich_user.pk}", second), 200, expected_user(rich_user))
    assert _actions() == events


# --- DELETE --------------------------------------------------------------------------------------


def test_delete_deprovisions_then_404(scim, scim_managed_user, scim_group):
    pk = scim_managed_user.pk
    assert_scim(scim.delete(f"/Users/{pk}"), 204)
    assert not User.objects.filter(pk=pk).exists()
    assert not GroupMembership.objects.filter(user_id=pk).exists()
    assert_error(scim.get(f"/Users/{pk}"), 404, None, f"User {pk} not found.")
    assert_error(scim.delete(f"/Users/{pk}"), 404, None, f"User {pk} not found.")
    event = AuditEvent.objects.get(action="user.delete")
    assert (event.target_id, event.target_label) == (str(pk), "scim.user@acme.test")
    # The email is free again: a new create makes a new user with a new id (docs/domain.md#delete-deprovisions).
    again = _created(scim.post("/Users", user_body("scim.user@acme.test")))
    assert again.pk != pk


def test_delete_of_an_unknown_id_is_404(scim):
    assert_error(scim.delete("/Users/not-a-uuid"), 404, None, "User not-a-uuid not found.")


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("PATCH", patch_body(op("replace", value={"active": False}))),
        ("PATCH", patch_body(op("Replace", "active", "False"))),
        ("PUT", {"userName": "scim.user@acme.test", "active": False}),
    ],
)
def test_deactivation_deletes_when_the_organization_says_so(scim, scim_organization, scim_managed_user, method, body):
    """on_scim_deactivate=delete (docs/domain.md#deactivation-can-delete): the response shows the
    final state, later reads 404."""
    Organization.objects.filter(pk=scim_organization.pk).update(on_scim_deactivate="delete")
    snapshot = expected_user(scim_managed_user)
    pk = scim_managed_user.pk
    response = scim.request(method, f"/Users/{pk}", body)
    assert_scim(response, 200, expected_deleted_user(snapshot))
    assert not User.objects.filter(pk=pk).exists()
    assert_error(scim.get(f"/Users/{pk}"), 404, None, f"User {pk} not found.")
    assert _actions() == ["user.delete"]


def test_delete_mode_keeps_inactive_users_that_stay_inactive(scim, scim_organization, sso_connection):
    Organization.objects.filter(pk=scim_organization.pk).update(on_scim_deactivate="delete")
    user = UserFactory(
        organization=scim_organization,
        email="idle@acme.test",
        source="scim",
        scim_connection=sso_connection,
        is_active=False,
    )
    assert_scim(scim.put(f"/Users/{user.pk}", {"userName": "idle@acme.test", "active": False}), 200)
    assert User.objects.filter(pk=user.pk).exists()


# --- adoption (docs/domain.md#adoption) -----------------------------------------------------------


@pytest.fixture(params=[UserSource.MANUAL, UserSource.JIT, UserSource.INVITED])
def local_user(request, scim_organization):
    return UserFactory(organization=scim_organization, email="local@acme.test", source=request.param)


def test_local_users_are_found_by_filter_and_get_never_adopts(scim, local_user):
    found = assert_scim(scim.get('/Users?filter=userName eq "local@acme.test"'), 200)
    assert found == expected_list([expected_user(local_user)])
    assert_scim(scim.get(f"/Users/{local_user.pk}"), 200, expected_user(local_user))
    local_user.refresh_from_db()
    assert local_user.scim_connection_id is None
    assert _actions() == []


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("PUT", {"userName": "local@acme.test", "title": "Adopted"}),
        ("PATCH", patch_body(op("replace", "title", "Adopted"))),
        ("PUT", {"userName": "local@acme.test"}),
    ],
)
def test_first_write_adopts_the_user(scim, local_user, sso_connection, method, body):
    source = local_user.source
    response = scim.request(method, f"/Users/{local_user.pk}", body)
    assert_scim(response, 200, expected_user(local_user))
    local_user.refresh_from_db()
    assert (local_user.scim_connection_id, local_user.source) == (sso_connection.pk, source)
    actions = _actions()
    assert actions[0] == "user.scim_adopt"
    assert actions.count("user.scim_adopt") == 1
    adopt = AuditEvent.objects.get(action="user.scim_adopt")
    assert adopt.after == {"scim_connection": sso_connection.name, "source": source}
    # A second write does not adopt again.
    assert_scim(scim.request(method, f"/Users/{local_user.pk}", body), 200)
    assert _actions().count("user.scim_adopt") == 1


def test_delete_of_a_local_user_adopts_then_deprovisions(scim, local_user):
    assert_scim(scim.delete(f"/Users/{local_user.pk}"), 204)
    assert _actions() == ["user.scim_adopt", "user.delete"]


def test_delete_of_an_operator_who_is_a_home_user_goes_through_the_full_deletion(scim, scim_organization):
    """Operators may have rows Django admin owns (its log, permissions): their deletion is
    Django's own, not the one-statement path people take."""
    user = UserFactory(organization=scim_organization, email="ops@acme.test", source=UserSource.SCIM)
    User.objects.filter(pk=user.pk).update(is_staff=True)
    assert_scim(scim.delete(f"/Users/{user.pk}"), 204)
    assert not User.objects.filter(pk=user.pk).exists()
    assert _actions()[-1] == "user.delete"
    assert_scim(scim.delete(f"/Users/{user.pk}"), 404)


def test_formerly_scim_users_are_adopted_again(scim, scim_organization, sso_connection):
    user = UserFactory(organization=scim_organization, email="former@acme.test", source=UserSource.SCIM)
    User.objects.filter(pk=user.pk).update(scim_released_at=timezone.now())
    assert_scim(scim.patch(f"/Users/{user.pk}", patch_body(op("replace", "title", "Back"))), 200)
    user.refresh_from_db()
    assert (user.scim_connection_id, user.scim_released_at) == (sso_connection.pk, None)
