"""PATCH /Users/{id} (RFC 7644 §3.5.2) in every form the IdPs send
(docs/idp-notes.md#entra-patch-forms, docs/idp-notes.md#okta).

Each test compares the whole response with the stored user (``expected_user``) and the
whole difference with the resource before the request, so an operation that touched
more or less than it should fails.
"""

import json
import uuid

import pytest

from admincenter.models import AuditEvent, User
from tests.factories import UserFactory
from tests.scim.helpers import (
    BASE,
    ENTERPRISE_URN,
    PATCH_URN,
    USER_URN,
    assert_error,
    assert_scim,
    expected_user,
    op,
    patch_body,
)

ABSENT = "<absent>"
MANAGER = f"{ENTERPRISE_URN}:manager"
PASSWORD = "Okta-synced-Pa55word"


@pytest.fixture
def user(scim_organization, sso_connection):
    user = UserFactory(
        organization=scim_organization,
        email="pat@acme.test",
        source="scim",
        scim_connection=sso_connection,
        given_name="Pat",
        family_name="Lee",
        external_id="ext-pat",
        title="Engineer",
    )
    User.objects.filter(pk=user.pk).update(
        display_name="Pat Lee",
        department="R&D",
        employee_number="42",
        scim_attributes={
            "phoneNumbers": [
                {"type": "work", "value": "+1-201-555-0100", "primary": True},
                {"type": "mobile", "value": "+1-201-555-0199", "primary": False},
            ]
        },
    )
    user.refresh_from_db()
    return user


@pytest.fixture
def boss(scim_organization):
    return UserFactory(organization=scim_organization, email="boss@acme.test", source="manual")


def _diff(before: dict, after: dict) -> dict:
    keys = (set(before) | set(after)) - {"meta"}
    return {k: after.get(k, ABSENT) for k in keys if before.get(k, ABSENT) != after.get(k, ABSENT)}


def _patch(scim, user, *operations, query=""):
    before = expected_user(user)
    response = scim.patch(f"/Users/{user.pk}{query}", patch_body(*operations))
    body = assert_scim(response, 200, expected_user(user) if not query else None)
    return before, body


def _changes(scim, user, *operations) -> dict:
    before, body = _patch(scim, user, *operations)
    return _diff(before, body)


def _unchanged(scim, user, response_check, *operations):
    """A rejected PATCH leaves the user exactly as it was and writes no change event."""
    before = expected_user(user)
    events = AuditEvent.objects.exclude(action="scim.request.rejected").count()
    response_check(scim.patch(f"/Users/{user.pk}", patch_body(*operations)))
    assert expected_user(user) == before
    assert AuditEvent.objects.exclude(action="scim.request.rejected").count() == events


def _enterprise(user, **changes):
    current = expected_user(user)[ENTERPRISE_URN]
    return {**current, **changes}


# --- op and simple paths --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["add", "Add", "ADD", "replace", "Replace", "REPLACE", "rEpLaCe"])
def test_op_is_case_insensitive(scim, user, name):
    assert _changes(scim, user, op(name, "displayName", "Patricia")) == {"displayName": "Patricia"}


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("displayName", "Patricia", {"displayName": "Patricia"}),
        ("DISPLAYNAME", "Patricia", {"displayName": "Patricia"}),
        (f"{USER_URN}:displayName", "Patricia", {"displayName": "Patricia"}),
        ("active", False, {"active": False}),
        ("externalId", "EXT-2", {"externalId": "EXT-2"}),
        ("nickName", "Babs", {"nickName": "Babs"}),
        ("title", "CTO", {"title": "CTO"}),
        ("locale", "en_US", {"locale": "en_US"}),
        (
            "name.givenName",
            "Patricia",
            {"name": {"givenName": "Patricia", "familyName": "Lee", "formatted": "Patricia Lee"}},
        ),
        (
            f"{USER_URN}:name.familyName",
            "Smith-Lee",
            {"name": {"givenName": "Pat", "familyName": "Smith-Lee", "formatted": "Pat Smith-Lee"}},
        ),
        (
            "name",
            {"middleName": "Q"},
            {"name": {"givenName": "Pat", "familyName": "Lee", "middleName": "Q", "formatted": "Pat Lee"}},
        ),
    ],
)
def test_simple_and_sub_attribute_paths(scim, user, path, value, expected):
    for name in ("replace", "add"):
        user.refresh_from_db()
        before = expected_user(user)
        response = scim.patch(f"/Users/{user.pk}", patch_body(op(name, path, value)))
        body = assert_scim(response, 200, expected_user(user))
        if name == "replace":
            assert _diff(before, body) == expected
        else:  # the same add again is a no-op
            assert _diff(before, body) == {}


def test_user_name_rename_is_one_operation(scim, user):
    """Entra: {"op":"Replace","path":"userName","value":"<new>"} (docs/idp-notes.md#entra-patch-forms)."""
    changes = _changes(scim, user, op("Replace", "userName", "Patricia.Lee@Acme.test"))
    assert changes == {
        "userName": "patricia.lee@acme.test",
        "emails": [{"value": "patricia.lee@acme.test", "type": "work", "primary": True}],
    }
    assert AuditEvent.objects.get(action="user.email.change").after == {"email": "patricia.lee@acme.test"}


@pytest.mark.parametrize(
    ("attribute", "value"),
    [("department", "Retail"), ("employeeNumber", "Eqpj"), ("costCenter", "CC-9"), ("division", "EMEA")],
)
def test_enterprise_urn_paths(scim, user, attribute, value):
    changes = _changes(scim, user, op("Add", f"{ENTERPRISE_URN}:{attribute}", value))
    assert changes == {ENTERPRISE_URN: _enterprise(user, **{attribute: value})}


def test_enterprise_extension_object_path(scim, user):
    changes = _changes(scim, user, op("replace", ENTERPRISE_URN, {"department": "Ops", "employeeNumber": 7}))
    assert changes == {ENTERPRISE_URN: {"department": "Ops", "employeeNumber": "7"}}


def test_enterprise_remove(scim, user):
    assert _changes(scim, user, op("remove", f"{ENTERPRISE_URN}:department")) == {
        ENTERPRISE_URN: {"employeeNumber": "42"}
    }


@pytest.mark.parametrize(
    "operation",
    [
        op("add", "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:tag", "701984"),
        op("replace", "unknownAttribute", "x"),
        op("Add", "roles", [{"value": '{"id":"role-1","value":"25","displayName":"Role1234"}'}]),
        op("replace", "roles", [{"value": '{"id":"role-2"}', "primary": "True"}]),
        op("Replace", 'roles[primary eq "True"].value', "Admin"),
        op("add", "entitlements", [{"value": "x"}]),
        op("replace", "groups", [{"value": str(uuid.uuid4())}]),
        op("replace", "meta", {"created": "04-12-2018 00:00:00"}),
        op("replace", "schemas", [USER_URN]),
        op("replace", "password", PASSWORD),
    ],
    ids=[
        "custom-extension",
        "unknown",
        "roles-json-string",
        "roles-replace",
        "roles-filter",
        "entitlements",
        "groups",
        "meta",
        "schemas",
        "password",
    ],
)
def test_ignored_attributes_change_nothing(scim, user, operation):
    before, body = _patch(scim, user, operation)
    assert _diff(before, body) == {}
    assert "roles" not in body and "password" not in body
    assert AuditEvent.objects.filter(action="user.update").count() == 0


# --- filtered value paths -------------------------------------------------------------------------


def test_filtered_path_updates_in_place(scim, user):
    changes = _changes(scim, user, op("Replace", 'phoneNumbers[type eq "mobile"].value', "+44 7700 900123"))
    assert changes == {
        "phoneNumbers": [
            {"type": "work", "value": "+1-201-555-0100", "primary": True},
            {"type": "mobile", "value": "+44 7700 900123", "primary": False},
        ]
    }


def test_primary_filter(scim, user):
    changes = _changes(scim, user, op("replace", "phoneNumbers[primary eq true].value", "+1-201-555-0111"))
    assert changes["phoneNumbers"][0] == {"type": "work", "value": "+1-201-555-0111", "primary": True}
    assert changes["phoneNumbers"][1]["value"] == "+1-201-555-0199"


@pytest.mark.parametrize(
    ("path", "value", "attribute", "created"),
    [
        (
            'emails[type eq "home"].value',
            "home@example.com",
            "emails",
            {"type": "home", "value": "home@example.com", "primary": False},
        ),
        (
            'emails[type eq "other"].value',
            "other@example.com",
            "emails",
            {"type": "other", "value": "other@example.com", "primary": False},
        ),
        (
            'addresses[type eq "work"].formatted',
            "18/2111",
            "addresses",
            {"type": "work", "formatted": "18/2111", "primary": False},
        ),
        (
            'addresses[type eq "work"].streetAddress',
            "1 Main St",
            "addresses",
            {"type": "work", "streetAddress": "1 Main St", "primary": False},
        ),
        (
            'phoneNumbers[type eq "fax"].value',
            "+1-201-555-0177",
            "phoneNumbers",
            {"type": "fax", "value": "+1-201-555-0177", "primary": False},
        ),
    ],
)
def test_add_to_a_filtered_path_creates_the_missing_element(scim, user, path, value, attribute, created):
    """The Entra Validator checks this (docs/idp-notes.md#entra-patch-forms)."""
    before = expected_user(user)
    changes = _changes(scim, user, op("Add", path, value))
    assert changes == {attribute: [*before.get(attribute, []), created]}


def test_several_filtered_operations_then_a_pathless_replace(scim, user):
    """Validator "Patch User - Replace Attributes" (docs/idp-notes.md#entra-patch-forms)."""
    changes = _changes(
        scim,
        user,
        op("replace", 'phoneNumbers[type eq "work"].value', "+1-201-555-0122"),
        op("replace", 'addresses[type eq "work"].streetAddress', "2 High St"),
        op("replace", 'addresses[type eq "work"].locality', "Leeds"),
        op("replace", value={"name.formatted": "Dr Pat Lee", "displayName": "Dr Pat", "externalId": "E-3"}),
    )
    assert changes == {
        "phoneNumbers": [
            {"type": "work", "value": "+1-201-555-0122", "primary": True},
            {"type": "mobile", "value": "+1-201-555-0199", "primary": False},
        ],
        "addresses": [{"type": "work", "streetAddress": "2 High St", "locality": "Leeds", "primary": False}],
        "name": {"givenName": "Pat", "familyName": "Lee", "formatted": "Dr Pat Lee"},
        "displayName": "Dr Pat",
        "externalId": "E-3",
    }


def test_remove_with_a_filter_removes_the_element(scim, user):
    assert _changes(scim, user, op("remove", 'phoneNumbers[type eq "mobile"]')) == {
        "phoneNumbers": [{"type": "work", "value": "+1-201-555-0100", "primary": True}]
    }


def test_work_email_follows_user_name(scim, user):
    """One primary work email, and userName wins if the two differ (docs/domain.md#what-scim-may-do): a
    change of the work email alone (Entra's default PATCH shape) changes nothing."""
    before, body = _patch(
        scim,
        user,
        op("Replace", 'emails[type eq "work"].value', "updatedEmail@acme.test"),
        op("add", 'emails[type eq "work"].primary', True),
        op("add", 'emails[type eq "work"].display', "Pat"),
    )
    assert _diff(before, body) == {}
    assert body["emails"] == [{"value": "pat@acme.test", "type": "work", "primary": True}]


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        (
            op("add", "phoneNumbers", [{"type": "home", "value": "+1-201-555-0133"}]),
            [
                {"type": "work", "value": "+1-201-555-0100", "primary": True},
                {"type": "mobile", "value": "+1-201-555-0199", "primary": False},
                {"type": "home", "value": "+1-201-555-0133", "primary": False},
            ],
        ),
        (
            op("replace", "phoneNumbers", [{"type": "home", "value": "+1-201-555-0133", "primary": "True"}]),
            [{"type": "home", "value": "+1-201-555-0133", "primary": True}],
        ),
        (
            op("remove", "phoneNumbers", [{"value": "+1-201-555-0199"}]),
            [{"type": "work", "value": "+1-201-555-0100", "primary": True}],
        ),
        (op("remove", "phoneNumbers"), ABSENT),
    ],
    ids=["add-appends", "replace-all", "remove-listed", "remove-all"],
)
def test_multi_valued_without_filter(scim, user, operation, expected):
    assert _changes(scim, user, operation) == {"phoneNumbers": expected}


def test_remove_sub_attribute(scim, user):
    assert _changes(scim, user, op("remove", "name.givenName")) == {"name": {"familyName": "Lee", "formatted": "Lee"}}


@pytest.mark.parametrize("path", ["title", "externalId", "nickName", "displayName"])
def test_remove_simple_attribute(scim, user, path):
    changes = _changes(scim, user, op("remove", path))
    if path == "nickName":
        assert changes == {}
    else:
        assert changes == {path: ABSENT}


# --- path-less operations ---------------------------------------------------------------------------


def test_pathless_replace_with_dotted_and_urn_keys(scim, user):
    """Entra with aadOptscim062020 (docs/idp-notes.md#entra-patch-forms). Keys are expanded, never stored literally."""
    changes = _changes(
        scim,
        user,
        op("replace", 'emails[type eq "home"].value', "TestMhvaes@example.com"),
        op(
            "replace",
            value={
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                f"{ENTERPRISE_URN}:employeeNumber": "Aklq",
                f"{USER_URN}:title": "Lead",
            },
        ),
    )
    assert changes == {
        "emails": [
            {"value": "pat@acme.test", "type": "work", "primary": True},
            {"type": "home", "value": "TestMhvaes@example.com", "primary": False},
        ],
        "displayName": "Bjfe",
        "name": {"givenName": "Kkom", "familyName": "Unua", "formatted": "Kkom Unua"},
        ENTERPRISE_URN: {"department": "R&D", "employeeNumber": "Aklq"},
        "title": "Lead",
    }
    user.refresh_from_db()
    stored = json.dumps(user.scim_attributes)
    assert "name.givenName" not in stored and "urn:" not in stored


def test_pathless_add_with_dotted_keys(scim, user):
    """Observed in production (docs/idp-notes.md#entra-patch-forms)."""
    changes = _changes(
        scim,
        user,
        op(
            "add",
            value={
                "displayName": "Foo Bar",
                "title": "Bar Foo",
                "name.givenName": "Foo",
                "name.familyName": "Bar",
                "name.formatted": "Foo Bar",
            },
        ),
    )
    assert changes == {
        "displayName": "Foo Bar",
        "title": "Bar Foo",
        "name": {"givenName": "Foo", "familyName": "Bar", "formatted": "Foo Bar"},
    }


def test_pathless_value_with_nested_objects(scim, user):
    changes = _changes(
        scim, user, op("replace", value={"name": {"givenName": "Paula"}, ENTERPRISE_URN: {"department": "HR"}})
    )
    assert changes == {
        "name": {"givenName": "Paula", "familyName": "Lee", "formatted": "Paula Lee"},
        ENTERPRISE_URN: {"department": "HR", "employeeNumber": "42"},
    }


def test_pathless_user_name_update(scim, user):
    """Validator "Update User userName" (docs/idp-notes.md#entra-patch-forms)."""
    changes = _changes(scim, user, op("replace", value={"userName": "emilio@hermann.uk"}))
    assert changes["userName"] == "emilio@hermann.uk"


def test_okta_deactivation_value_with_id_and_schemas(scim, user):
    """Okta's path-less value may carry id, schemas or meta next to active (docs/idp-notes.md#okta)."""
    value = {"id": str(user.pk), "schemas": [USER_URN], "meta": {"resourceType": "User"}, "active": False}
    assert _changes(scim, user, op("replace", value=value)) == {"active": False}


def test_password_in_a_pathless_replace_is_ignored(scim, user):
    """Okta password sync (docs/idp-notes.md#okta)."""
    response = scim.patch(f"/Users/{user.pk}", patch_body(op("replace", value={"password": PASSWORD})))
    body = assert_scim(response, 200, expected_user(user))
    assert PASSWORD not in response.content.decode() and "password" not in body
    user.refresh_from_db()
    assert not user.has_usable_password()
    assert PASSWORD not in json.dumps(user.scim_attributes)


# --- booleans -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [False, "False", "false", "FALSE", " false "])
@pytest.mark.parametrize("pathless", [False, True])
def test_active_false_in_any_spelling(scim, user, value, pathless):
    operation = op("Replace", value={"active": value}) if pathless else op("Replace", "active", value)
    assert _changes(scim, user, operation) == {"active": False}
    assert AuditEvent.objects.filter(action="user.deactivate").count() == 1


@pytest.mark.parametrize("value", [True, "True", "true"])
def test_active_true_reactivates(scim, user, value):
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert _changes(scim, user, op("replace", "active", value)) == {"active": True}
    assert AuditEvent.objects.filter(action="user.activate").count() == 1


@pytest.mark.parametrize("value", ["no", 0, "", None, "Treu"])
def test_active_that_is_not_a_boolean_is_400(scim, user, value):
    operation = {"op": "replace", "path": "active", "value": value}
    if value is None:  # null means "remove", which is not allowed to deactivate silently
        before = expected_user(user)
        body = assert_scim(scim.patch(f"/Users/{user.pk}", patch_body(operation)), 200)
        assert _diff(before, body) == {}
        return
    _unchanged(
        scim,
        user,
        lambda r: assert_error(r, 400, "invalidSyntax", "'active' must be a boolean (true or false)."),
        operation,
    )


def test_primary_strings_come_back_as_booleans(scim, user):
    changes = _changes(scim, user, op("add", "phoneNumbers", [{"type": "pager", "value": "123", "primary": "False"}]))
    assert changes["phoneNumbers"][-1] == {"type": "pager", "value": "123", "primary": False}
    assert all(isinstance(p["primary"], bool) for p in changes["phoneNumbers"])


# --- manager --------------------------------------------------------------------------------------


def _manager(boss):
    return {"value": str(boss.pk), "$ref": f"{BASE}/Users/{boss.pk}"}


@pytest.mark.parametrize(
    "make",
    [
        lambda b: op("Add", MANAGER, str(b.pk)),  # Entra and the Validator: a bare string
        lambda b: op("Replace", MANAGER, str(b.pk)),
        lambda b: op("replace", MANAGER, {"value": str(b.pk)}),
        lambda b: op("Add", "manager", [{"$ref": f"{BASE}/Users/{b.pk}", "value": str(b.pk)}]),  # legacy
        lambda b: op("add", "manager", str(b.pk)),
        lambda b: op("replace", f"{MANAGER}.value", str(b.pk)),
        lambda b: op("replace", value={MANAGER: str(b.pk)}),
        lambda b: op("replace", value={ENTERPRISE_URN: {"manager": {"value": str(b.pk)}}}),
    ],
    ids=[
        "urn-string-add",
        "urn-string-replace",
        "urn-object",
        "legacy-array",
        "unqualified-string",
        "manager.value",
        "pathless-urn-key",
        "pathless-extension-object",
    ],
)
def test_manager_in_every_form(scim, user, boss, make):
    changes = _changes(scim, user, make(boss))
    assert changes == {ENTERPRISE_URN: _enterprise(user, manager=_manager(boss))}
    user.refresh_from_db()
    assert user.manager_id == boss.pk
    found = assert_scim(scim.get(f'/Users?attributes=id&filter=id eq "{user.pk}" and manager eq "{boss.pk}"'), 200)
    assert [r["id"] for r in found["Resources"]] == [str(user.pk)]


@pytest.mark.parametrize(
    "operation",
    [
        op("Replace", MANAGER, ""),
        op("Add", MANAGER, ""),
        {"op": "replace", "path": MANAGER, "value": None},
        op("remove", MANAGER),
        op("remove", "manager"),
        op("replace", "manager", []),
        op("replace", value={MANAGER: ""}),
    ],
    ids=["replace-empty", "add-empty", "replace-null", "remove-urn", "remove-unqualified", "empty-array", "pathless"],
)
def test_manager_removal(scim, user, boss, operation):
    User.objects.filter(pk=user.pk).update(manager=boss)
    assert _changes(scim, user, operation) == {ENTERPRISE_URN: {"department": "R&D", "employeeNumber": "42"}}
    user.refresh_from_db()
    assert user.manager_id is None


def test_manager_must_be_a_user_of_the_organization(scim, user, other_organization):
    hank = other_organization.home_users.get(email="hank@globex.test")
    for manager_id in (str(uuid.uuid4()), str(hank.pk)):
        _unchanged(
            scim,
            user,
            lambda r, m=manager_id: assert_error(
                r, 400, "invalidValue", f"manager {m} is not a user of this organization."
            ),
            op("replace", MANAGER, manager_id),
        )


def test_a_user_cannot_be_their_own_manager(scim, user):
    _unchanged(
        scim,
        user,
        lambda r: assert_error(r, 400, "invalidValue", "A user cannot be their own manager."),
        op("Add", MANAGER, str(user.pk)),
    )


# --- several operations, atomicity ------------------------------------------------------------------


def test_several_operations_on_one_attribute_apply_in_order(scim, user):
    changes = _changes(
        scim,
        user,
        op("replace", "displayName", "First"),
        op("replace", "displayName", "Second"),
        op("add", "nickName", "Temp"),
        op("remove", "nickName"),
        op("replace", "active", False),
        op("replace", "active", "True"),
        op("Replace", "title", "A"),
        op("Replace", value={"title": "B"}),
    )
    assert changes == {"displayName": "Second", "title": "B"}
    assert not AuditEvent.objects.filter(action__in=["user.deactivate", "user.activate"]).exists()


@pytest.mark.parametrize(
    ("operations", "status", "scim_type", "detail"),
    [
        (
            [op("replace", "displayName", "Changed"), op("replace", "active", "maybe")],
            400,
            "invalidSyntax",
            "'active' must be a boolean (true or false).",
        ),
        ([op("replace", "title", "Changed"), op("remove")], 400, "noTarget", "A remove operation needs a 'path'."),
        (
            [op("replace", "title", "Changed"), op("replace", "emails[type eq", "x")],
            400,
            "invalidPath",
            "'emails[type eq' is not a valid attribute path.",
        ),
        ([op("replace", "title", "Changed"), op("replace", "id", "other")], 400, "mutability", "'id' is immutable."),
        (
            [op("replace", "active", False), op("replace", "userName", "manual@acme.test")],
            409,
            "uniqueness",
            "The email address manual@acme.test is already in use.",
        ),
        (
            [op("replace", "title", "Changed"), op("replace", MANAGER, "00000000-0000-0000-0000-000000000000")],
            400,
            "invalidValue",
            "manager 00000000-0000-0000-0000-000000000000 is not a user of this organization.",
        ),
    ],
    ids=["bad-boolean", "no-target", "bad-path", "id", "taken-email", "bad-manager"],
)
def test_a_bad_operation_rejects_the_whole_request(scim, user, manual_user, operations, status, scim_type, detail):
    _unchanged(scim, user, lambda r: assert_error(r, status, scim_type, detail), *operations)


# --- invalid requests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ('emails[type eq "work"', "'emails[type eq \"work\"' is not a valid attribute path."),
        ('emails[type eq "work"]]', "The filter in 'emails[type eq \"work\"]]' could not be parsed."),
        ('[type eq "work"].value', "'[type eq \"work\"].value' is not a valid attribute path."),
        ('emails[type eqq "work"].value', "The filter in 'emails[type eqq \"work\"].value' could not be parsed."),
        ("emails[].value", "The filter in 'emails[].value' could not be parsed."),
        ('displayName[value eq "x"]', "'displayName' is not multi-valued; it cannot be filtered."),
    ],
)
def test_malformed_paths_are_400_invalid_path(scim, user, path, detail):
    _unchanged(scim, user, lambda r: assert_error(r, 400, "invalidPath", detail), op("replace", path, "x"))


def test_path_that_is_not_a_string_is_400(scim, user):
    _unchanged(
        scim, user, lambda r: assert_error(r, 400, "invalidPath", "'path' must be a string."), op("replace", 5, "x")
    )


def test_remove_without_path_is_400_no_target(scim, user):
    for operation in (op("remove"), op("Remove", value={"title": "Engineer"})):
        _unchanged(
            scim, user, lambda r: assert_error(r, 400, "noTarget", "A remove operation needs a 'path'."), operation
        )


@pytest.mark.parametrize(
    "operation",
    [op("replace", "id", "other-id"), op("remove", "id"), op("add", "id", str(uuid.uuid4()))],
)
def test_changing_id_is_400_mutability(scim, user, operation):
    _unchanged(scim, user, lambda r: assert_error(r, 400, "mutability", "'id' is immutable."), operation)


def test_replacing_id_with_itself_is_allowed(scim, user):
    assert _changes(scim, user, op("replace", "id", str(user.pk)), op("replace", "title", "T")) == {"title": "T"}


def test_removing_user_name_is_400_mutability(scim, user):
    _unchanged(
        scim,
        user,
        lambda r: assert_error(r, 400, "mutability", "userName is required and cannot be removed."),
        op("remove", "userName"),
    )


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ([], "The PATCH body must be a JSON object."),
        ({"schemas": [PATCH_URN]}, "'Operations' must be a non-empty array."),
        ({"schemas": [PATCH_URN], "Operations": []}, "'Operations' must be a non-empty array."),
        ({"schemas": [PATCH_URN], "Operations": {"op": "replace"}}, "'Operations' must be a non-empty array."),
        ({"schemas": [PATCH_URN], "Operations": ["replace"]}, "Each operation must be a JSON object."),
        (
            {"schemas": [PATCH_URN], "Operations": [{"path": "title", "value": "x"}]},
            "Each operation needs 'op': add, replace or remove.",
        ),
        (
            {"schemas": [PATCH_URN], "Operations": [{"op": "move", "path": "title", "value": "x"}]},
            "Each operation needs 'op': add, replace or remove.",
        ),
        (
            {"schemas": [USER_URN], "Operations": [{"op": "replace", "path": "title", "value": "x"}]},
            f"A PATCH body declares the schema {PATCH_URN}.",
        ),
        (
            {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "value": "x"}]},
            "An operation without 'path' needs an object 'value'.",
        ),
    ],
)
def test_malformed_patch_bodies_are_400_invalid_syntax(scim, user, body, detail):
    before = expected_user(user)
    assert_error(scim.patch(f"/Users/{user.pk}", body), 400, "invalidSyntax", detail)
    assert expected_user(user) == before


def test_lenient_envelope(scim, user):
    """Keys of the envelope and of operations are matched case-insensitively; schemas may
    be left out."""
    body = {"operations": [{"OP": "replace", "Path": "title", "Value": "Lead"}]}
    before = expected_user(user)
    assert _diff(before, assert_scim(scim.patch(f"/Users/{user.pk}", body), 200, expected_user(user))) == {
        "title": "Lead"
    }


def test_patch_of_an_unknown_user_is_404(scim):
    missing = uuid.uuid4()
    assert_error(
        scim.patch(f"/Users/{missing}", patch_body(op("replace", "active", False))),
        404,
        None,
        f"User {missing} not found.",
    )


# --- response ----------------------------------------------------------------------------------------


def test_response_honours_attributes(scim, user):
    response = scim.patch(
        f"/Users/{user.pk}?attributes=active,name.givenName", patch_body(op("replace", "active", False))
    )
    full = expected_user(user)
    assert_scim(
        response,
        200,
        {
            "schemas": full["schemas"],
            "id": full["id"],
            "active": False,
            "name": {"givenName": "Pat"},
            "meta": full["meta"],
        },
    )


def test_response_honours_excluded_attributes(scim, user):
    response = scim.patch(
        f"/Users/{user.pk}?excludedAttributes=groups,emails,{ENTERPRISE_URN}", patch_body(op("replace", "title", "X"))
    )
    full = expected_user(user)
    assert_scim(response, 200, {k: v for k, v in full.items() if k not in ("groups", "emails", ENTERPRISE_URN)})


def test_unknown_query_parameters_are_ignored(scim, user):
    """Entra's ?aadOptscim062020 flag may reach the server (docs/idp-notes.md#what-every-client-gets)."""
    before = expected_user(user)
    response = scim.patch(f"/Users/{user.pk}?aadOptscim062020", patch_body(op("replace", "title", "Lead")))
    assert _diff(before, assert_scim(response, 200, expected_user(user))) == {"title": "Lead"}


def test_update_event_records_before_and_after(scim, user):
    _changes(scim, user, op("replace", "title", "Lead"), op("replace", "name.givenName", "Patricia"))
    event = AuditEvent.objects.get(action="user.update")
    assert (event.before, event.after) == (
        {"given_name": "Pat", "title": "Engineer"},
        {"given_name": "Patricia", "title": "Lead"},
    )
