"""The SCIM error envelope (RFC 7644 §3.12; docs/idp-notes.md#what-every-client-gets): every 4xx and 5xx
is an ``urn:ietf:params:scim:api:messages:2.0:Error`` body with ``status`` as a string,
a non-empty ``detail`` and the right ``scimType``, served as application/scim+json; no
exception text reaches the client; a list never answers 404; PATCH never answers 501."""

import json
import uuid

import pytest

from admincenter.models import AuditEvent, ScimRequestLog
from admincenter.selectors import scim as scim_selectors
from tests.scim.helpers import (
    EMPTY_LIST,
    ERROR_URN,
    SCIM_CONTENT_TYPE,
    ScimClient,
    assert_error,
    assert_scim,
    group_body,
    op,
    patch_body,
    user_body,
)

LEAK = "psycopg.errors.Boom at /srv/app/secret_module.py line 42"


def _error_cases(user, group):
    """(request, status, scimType) for each kind of error the API produces."""
    return [
        (("GET", "/Users?filter=bogus", None), 400, "invalidFilter"),
        (("POST", "/Users", user_body("not-an-email")), 400, "invalidValue"),
        (("POST", "/Users", {"userName": "a@acme.test", "active": "x"}), 400, "invalidSyntax"),
        (("PATCH", f"/Users/{user.pk}", patch_body(op("replace", "emails[type", "x"))), 400, "invalidPath"),
        (("PATCH", f"/Users/{user.pk}", patch_body(op("remove"))), 400, "noTarget"),
        (("PATCH", f"/Users/{user.pk}", patch_body(op("replace", "id", "x"))), 400, "mutability"),
        (("GET", f"/Users/{uuid.uuid4()}", None), 404, None),
        (("GET", f"/Groups/{uuid.uuid4()}", None), 404, None),
        (("GET", "/Nowhere", None), 404, None),
        (("PUT", "/Users", user_body("a@acme.test")), 405, None),
        (("POST", f"/Groups/{group.pk}", group_body("x")), 405, None),
        (("POST", "/Users", user_body("scim.user@acme.test")), 409, "uniqueness"),
        (("POST", "/Groups", group_body("Everyone")), 409, "uniqueness"),
        (("POST", "/Users", user_body("big@acme.test", nickName="x" * 1_100_000)), 413, None),
        (("POST", "/Bulk", {}), 501, None),
    ]


def test_every_error_uses_the_scim_envelope(scim, scim_managed_user, scim_group):
    for (method, path, body), status, scim_type in _error_cases(scim_managed_user, scim_group):
        response = scim.request(method, path, body)
        assert response["Content-Type"] == SCIM_CONTENT_TYPE, (method, path)
        assert "problem+json" not in response["Content-Type"]
        error = assert_error(response, status, scim_type)
        assert error["schemas"] == [ERROR_URN]
        assert error["status"] == str(status)


def test_unauthenticated_errors_use_the_envelope_too(db):
    response = ScimClient(None).get("/Users")
    assert response["Content-Type"] == SCIM_CONTENT_TYPE
    assert_error(response, 401)


@pytest.mark.parametrize("path", ["/Users", f"/Users/{uuid.UUID(int=1)}"])
def test_methods_a_resource_does_not_support_are_405_with_allow(scim, path):
    method = "PUT" if path == "/Users" else "POST"
    response = scim.request(method, path, user_body("a@acme.test"))
    assert_error(response, 405, None, f"{method} is not supported on this endpoint.")
    allowed = {m.strip() for m in response["Allow"].split(",")}
    assert "GET" in allowed and method not in allowed


def test_patch_is_never_501(scim, scim_managed_user, scim_group):
    """Okta raises a deprovisioning task instead of falling back to PUT (docs/idp-notes.md#what-every-client-gets)."""
    for path in (f"/Users/{scim_managed_user.pk}", f"/Groups/{scim_group.pk}"):
        response = scim.patch(path, patch_body(op("replace", value={"externalId": "x"})))
        assert_scim(response, 200)


def test_lists_never_answer_404(scim, scim_organization):
    for path in (
        '/Users?filter=userName eq "nobody@acme.test"',
        '/Groups?filter=displayName eq "nothing"',
        "/Groups",
        "/Users?startIndex=9999",
        '/Groups?filter=id eq "not-a-uuid"',
    ):
        body = assert_scim(scim.get(path), 200)
        assert body["Resources"] == []
    assert_scim(scim.get("/Groups"), 200, EMPTY_LIST)


@pytest.mark.parametrize(
    ("method", "path_of", "body"),
    [
        ("GET", lambda u: "/Users", None),
        ("GET", lambda u: f"/Users/{u.pk}", None),
        ("PATCH", lambda u: f"/Users/{u.pk}", patch_body(op("replace", "title", "x"))),
    ],
)
def test_unexpected_errors_are_500_without_leaking_details(scim, scim_managed_user, monkeypatch, method, path_of, body):
    def boom(*args, **kwargs):
        raise RuntimeError(LEAK)

    monkeypatch.setattr(scim_selectors, "scim_users", boom)
    monkeypatch.setattr(scim_selectors, "scim_user_get", boom)
    response = scim.request(method, path_of(scim_managed_user), body)
    assert_error(response, 500, None, "The server could not process the request. It has been logged.")
    assert LEAK not in response.content.decode() and "RuntimeError" not in response.content.decode()
    log = ScimRequestLog.objects.get()
    assert (log.status_code, log.scim_type) == (500, "")
    assert not AuditEvent.objects.filter(action="scim.request.rejected").exists()


def test_domain_error_details_are_safe_and_specific(scim, scim_managed_user):
    """A detail says what went wrong (Okta shows it to admins, PingOne logs it)."""
    response = scim.post("/Users", user_body("Scim.User@acme.test"))
    body = assert_error(response, 409, "uniqueness", "The email address scim.user@acme.test is already in use.")
    assert json.dumps(body).count("scim.user@acme.test") == 1


def test_error_responses_roll_back_everything(scim, scim_managed_user, scim_group):
    """A group PATCH with a good rename and a bad member: the rename is rolled back too."""
    response = scim.patch(
        f"/Groups/{scim_group.pk}",
        patch_body(op("replace", "displayName", "Opti_SCIM_Renamed"), op("add", "members", [{"value": "bad"}])),
    )
    assert_error(response, 400, "invalidValue")
    scim_group.refresh_from_db()
    assert scim_group.name == "Opti_SCIM_Engineering"
    assert not AuditEvent.objects.filter(action="group.rename").exists()


def test_request_size_limits(scim, scim_managed_user, scim_group):
    """docs/domain.md#limits: 1,000 operations per PATCH, 10,000 members per request."""
    operations = [op("replace", "title", f"t{i}") for i in range(1001)]
    assert_error(
        scim.patch(f"/Users/{scim_managed_user.pk}", patch_body(*operations)),
        400,
        "invalidValue",
        "At most 1000 operations per request.",
    )
    members = [{"value": str(uuid.uuid4())} for _ in range(10_001)]
    assert_error(
        scim.patch(f"/Groups/{scim_group.pk}", patch_body(op("add", "members", members))),
        400,
        "invalidValue",
        "At most 10000 members per request.",
    )
    assert_error(scim.post("/Groups", {"displayName": "Huge", "members": members}), 400, "invalidValue")
    scim_managed_user.refresh_from_db()
    assert scim_managed_user.title == ""
