"""The SCIM request log (``ScimRequestLog``) and the audit events SCIM requests write
(docs/domain.md#audit-event, docs/domain.md#scim-outside-scim-mode,
docs/architecture.md#the-audit-pipeline): one log row per request,
rejected ones included; ``scim.request.rejected`` for refusals whose organization is
known; change events only for requests that succeeded, correlated by request id; and
never a token or a password in any row."""

import json
import uuid

import pytest
from django.forms.models import model_to_dict

from admincenter.models import AuditEvent, Organization, ScimRequestLog
from tests.scim.helpers import (
    OKTA_UA,
    ScimClient,
    assert_error,
    assert_scim,
    group_body,
    op,
    patch_body,
    user_body,
)

PASSWORD = "Tr0ub4dor&3-never-logged"


@pytest.fixture
def scim(scim_token):
    return ScimClient(scim_token, user_agent=OKTA_UA)


def _log(response) -> ScimRequestLog:
    return ScimRequestLog.objects.get(request_id=response["X-Request-Id"])


def _row(log: ScimRequestLog) -> dict:
    return {
        "organization": log.organization_id,
        "token_prefix": log.token_prefix,
        "method": log.method,
        "path": log.path,
        "status_code": log.status_code,
        "scim_type": log.scim_type,
        "ip": log.ip,
        "user_agent": log.user_agent,
        "idp": log.idp,
    }


def _changes(request_id=None) -> list[str]:
    events = AuditEvent.objects.filter(actor_type="scim_token").exclude(action="scim.request.rejected")
    if request_id is not None:
        events = events.filter(request_id=request_id)
    return list(events.order_by("id").values_list("action", flat=True))


def _rejections() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="scim.request.rejected").order_by("id"))


# --- one row per request ---------------------------------------------------------------------------


def test_a_successful_request_writes_one_log_row(scim, scim_organization, issued_scim_token):
    response = scim.get("/Users?filter=userName%20eq%20%22x%40acme.test%22&startIndex=1&count=100")
    assert_scim(response, 200)
    log = ScimRequestLog.objects.get()
    assert _row(log) == {
        "organization": scim_organization.pk,
        "token_prefix": issued_scim_token.token.token_prefix,
        "method": "GET",
        "path": "/api/scim/v2/Users?filter=userName%20eq%20%22x%40acme.test%22&startIndex=1&count=100",
        "status_code": 200,
        "scim_type": "",
        "ip": "127.0.0.1",
        "user_agent": OKTA_UA,
        "idp": "Okta",
    }
    assert isinstance(log.duration_ms, int) and 0 <= log.duration_ms < 60_000
    assert len(log.request_id) == 32 and log.request_id == response["X-Request-Id"]
    assert _rejections() == []


def test_every_request_gets_its_own_row(scim, scim_managed_user):
    responses = [scim.get("/Users"), scim.get(f"/Users/{scim_managed_user.pk}"), scim.get("/ServiceProviderConfig")]
    assert ScimRequestLog.objects.count() == 3
    assert len({r["X-Request-Id"] for r in responses}) == 3
    assert [_log(r).path for r in responses] == [
        "/api/scim/v2/Users",
        f"/api/scim/v2/Users/{scim_managed_user.pk}",
        "/api/scim/v2/ServiceProviderConfig",
    ]


def test_a_client_request_id_is_kept(scim):
    response = scim.get("/Users", headers={"X-Request-Id": "entra-correlation-1234"})
    assert response["X-Request-Id"] == "entra-correlation-1234"
    assert _log(response).request_id == "entra-correlation-1234"


@pytest.mark.parametrize(
    ("user_agent", "idp"),
    [
        ("Okta SCIM Client 1.0.0", "Okta"),
        ("OKTA SCIM Integration", "Okta"),
        ("Microsoft.AAD.Provisioning/1.0", "Microsoft Entra ID"),
        ("PingOne-Provisioning/1.0", "PingOne"),
        ("curl/8.0", "unknown"),
        (None, "unknown"),
    ],
)
def test_idp_is_derived_from_the_user_agent(scim_token, user_agent, idp):
    response = ScimClient(scim_token, user_agent=user_agent).get("/Users")
    assert (_log(response).idp, _log(response).user_agent) == (idp, user_agent or "")


# --- rejected requests --------------------------------------------------------------------------------


def test_unknown_token_is_logged_without_organization_or_audit(scim_organization):
    response = ScimClient("optiid_scim_unknown-token", user_agent=OKTA_UA).get("/Users")
    assert_error(response, 401)
    assert _row(_log(response)) == {
        "organization": None,
        "token_prefix": "",
        "method": "GET",
        "path": "/api/scim/v2/Users",
        "status_code": 401,
        "scim_type": "",
        "ip": "127.0.0.1",
        "user_agent": OKTA_UA,
        "idp": "Okta",
    }
    assert _rejections() == []


@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwYXNz", "Bearer"])
def test_missing_or_malformed_credentials_are_logged(scim_organization, authorization):
    response = ScimClient(None, authorization=authorization).delete(f"/Users/{uuid.uuid4()}")
    assert_error(response, 401)
    row = _row(_log(response))
    assert (row["organization"], row["token_prefix"], row["method"], row["status_code"]) == (None, "", "DELETE", 401)
    assert _rejections() == []


@pytest.mark.parametrize("fixture", ["revoked_scim_token", "expired_scim_token"])
def test_revoked_or_expired_token_is_logged_and_audited_in_its_organization(request, scim_organization, fixture):
    raw = request.getfixturevalue(fixture)
    label = "old" if fixture == "revoked_scim_token" else "expired"
    prefix = raw[:20]
    response = ScimClient(raw, user_agent=OKTA_UA).post("/Users", user_body("blocked@acme.test"))
    detail = assert_error(response, 401)["detail"]
    log = _log(response)
    assert (log.organization_id, log.token_prefix, log.status_code) == (scim_organization.pk, prefix, 401)
    [event] = _rejections()
    assert model_to_dict(
        event,
        fields=[
            "organization",
            "actor_type",
            "actor_label",
            "action",
            "target_type",
            "target_label",
            "before",
            "after",
            "outcome",
            "status_code",
            "request_id",
            "ip",
            "user_agent",
        ],
    ) == {
        "organization": scim_organization.pk,
        "actor_type": "scim_token",
        "actor_label": f"{label} ({prefix})",
        "action": "scim.request.rejected",
        "target_type": "scim_request",
        "target_label": "POST /api/scim/v2/Users",
        "before": {},
        "after": {"detail": detail, "scimType": ""},
        "outcome": "denied",
        "status_code": 401,
        "request_id": log.request_id,
        "ip": "127.0.0.1",
        "user_agent": OKTA_UA,
    }
    assert _changes() == []


def test_forbidden_is_logged_and_audited_as_denied(scim, scim_organization):
    Organization.objects.filter(pk=scim_organization.pk).update(provisioning_mode="jit")
    response = scim.get("/Groups")
    assert_error(response, 403)
    assert _log(response).status_code == 403
    [event] = _rejections()
    assert (event.outcome, event.status_code, event.request_id) == ("denied", 403, _log(response).request_id)


@pytest.mark.parametrize(
    ("make_request", "status", "scim_type"),
    [
        (lambda c, u, g: c.get("/Users?filter=nonsense"), 400, "invalidFilter"),
        (lambda c, u, g: c.post("/Users", user_body("no-at-sign")), 400, "invalidValue"),
        (lambda c, u, g: c.post("/Users", raw="{"), 400, "invalidSyntax"),
        (lambda c, u, g: c.patch(f"/Users/{u.pk}", patch_body(op("remove"))), 400, "noTarget"),
        (lambda c, u, g: c.get(f"/Users/{uuid.UUID(int=7)}"), 404, ""),
        (lambda c, u, g: c.delete(f"/Groups/{uuid.UUID(int=7)}"), 404, ""),
        (lambda c, u, g: c.post("/Users", user_body("scim.user@acme.test")), 409, "uniqueness"),
        (lambda c, u, g: c.post("/Groups", group_body("opti_scim_engineering")), 409, "uniqueness"),
        (lambda c, u, g: c.post("/ServiceProviderConfig", raw="test"), 405, ""),
    ],
    ids=[
        "400-filter",
        "400-value",
        "400-syntax",
        "400-notarget",
        "404-user",
        "404-group",
        "409-user",
        "409-group",
        "405",
    ],
)
def test_failed_requests_are_logged_and_audited_as_failed(
    scim, scim_organization, issued_scim_token, scim_managed_user, scim_group, make_request, status, scim_type
):
    response = make_request(scim, scim_managed_user, scim_group)
    detail = assert_error(response, status, scim_type or None)["detail"]
    log = _log(response)
    assert (log.organization_id, log.token_prefix, log.status_code, log.scim_type, log.idp) == (
        scim_organization.pk,
        issued_scim_token.token.token_prefix,
        status,
        scim_type,
        "Okta",
    )
    [event] = _rejections()
    assert (event.outcome, event.status_code, event.request_id, event.after) == (
        "failed",
        status,
        log.request_id,
        {"detail": detail, "scimType": scim_type},
    )
    assert event.actor_label == f"PingOne prod ({issued_scim_token.token.token_prefix})"
    assert _changes() == []


def test_a_rejected_write_leaves_no_change_event(scim, scim_managed_user, scim_group):
    """Rolled back together with the change: a rename that would have succeeded, then a
    bad member."""
    response = scim.patch(
        f"/Groups/{scim_group.pk}",
        patch_body(
            op("replace", "displayName", "Opti_SCIM_Renamed"),
            op("remove", "members"),
            op("add", "members", [{"value": "unknown"}]),
        ),
    )
    assert_error(response, 400, "invalidValue")
    assert _changes() == []
    assert [e.action for e in _rejections()] == ["scim.request.rejected"]
    scim_group.refresh_from_db()
    assert scim_group.name == "Opti_SCIM_Engineering"


def test_a_failure_as_the_write_commits_is_a_scim_500_rolled_back_and_logged(scim, monkeypatch):
    """The rows written as the transaction ends (and deferred foreign keys) fail after the
    view answered: the client still gets a SCIM error, nothing stays, the request is logged."""
    from django.db import IntegrityError

    from admincenter import hotsql
    from admincenter.models import User

    real_write, calls = hotsql._write, []

    def fail_once(connection, pending):
        calls.append(len(pending))
        if len(calls) == 1:
            raise IntegrityError("simulated failure at commit")
        real_write(connection, pending)

    monkeypatch.setattr(hotsql, "_write", fail_once)
    response = scim.post("/Users", user_body("late.failure@acme.test"))

    assert_error(response, 500)
    assert "simulated" not in response.content.decode()
    assert not User.objects.filter(email="late.failure@acme.test").exists()
    assert _changes() == []
    log = _log(response)
    assert (log.method, log.status_code) == ("POST", 500)


def test_when_not_even_the_log_row_can_be_written_the_client_still_gets_a_scim_500(scim, monkeypatch, caplog):
    """The database refuses every write (down, locked): the read fails as it logs, the
    rejection's log fails too; the answer is still a SCIM error body, and the application
    log names the request that went unrecorded."""
    from django.db import OperationalError

    from admincenter.services import scim as scim_services

    def refuse(**row):
        raise OperationalError("simulated: database is locked")

    monkeypatch.setattr(scim_services, "scim_request_log_record", refuse)
    with caplog.at_level("ERROR", logger="scim"):
        response = scim.get("/Users")

    assert_error(response, 500)
    assert "simulated" not in response.content.decode()
    assert not ScimRequestLog.objects.exists()
    unrecorded = [r for r in caplog.records if r.getMessage().startswith("Could not write the request log")]
    assert [r.getMessage() for r in unrecorded] == [
        "Could not write the request log of SCIM GET /api/scim/v2/Users "
        f"(status 500, request id {response['X-Request-Id']})"
    ]


def test_user_update_rejected_after_adoption_rolls_back_the_adoption(scim, manual_user):
    response = scim.put(f"/Users/{manual_user.pk}", {"userName": "admin@acme.test"})
    assert_error(response, 409, "uniqueness")
    manual_user.refresh_from_db()
    assert manual_user.scim_connection_id is None
    assert _changes() == []


# --- change events ---------------------------------------------------------------------------------------


def _assert_events(response, issued, expected_actions):
    log = _log(response)
    events = list(AuditEvent.objects.filter(request_id=log.request_id).order_by("id"))
    assert [e.action for e in events] == expected_actions
    for event in events:
        assert (event.actor_type, event.actor_id, event.outcome, event.organization_id) == (
            "scim_token",
            str(issued.token.pk),
            "success",
            log.organization_id,
        )
        assert event.actor_label == f"PingOne prod ({issued.token.token_prefix})"
        assert issued.token.label in event.actor_label and issued.token.token_prefix in event.actor_label
        assert (event.ip, event.user_agent) == ("127.0.0.1", OKTA_UA)
    return events


def test_user_lifecycle_events(scim, issued_scim_token, scim_group):
    response = scim.post("/Users", user_body("life@acme.test", name={"givenName": "Li"}, password=PASSWORD))
    user_id = assert_scim(response, 201)["id"]
    [create] = _assert_events(response, issued_scim_token, ["user.create"])
    assert (create.target_type, create.target_id, create.target_label) == ("user", user_id, "life@acme.test")
    assert create.after["email"] == "life@acme.test" and create.after["source"] == "scim"
    assert "password" not in create.after

    response = scim.put(f"/Users/{user_id}", {"userName": "life@acme.test", "title": "Lead"})
    [update] = _assert_events(response, issued_scim_token, ["user.update"])
    assert (update.before, update.after) == ({"title": ""}, {"title": "Lead"})

    response = scim.patch(f"/Users/{user_id}", patch_body(op("replace", value={"active": False})))
    [deactivate] = _assert_events(response, issued_scim_token, ["user.deactivate"])
    assert (deactivate.before, deactivate.after) == ({"active": True}, {"active": False})

    response = scim.patch(
        f"/Users/{user_id}", patch_body(op("replace", "active", True), op("replace", "userName", "Life2@acme.test"))
    )
    _assert_events(response, issued_scim_token, ["user.email.change", "user.activate"])

    response = scim.patch(f"/Groups/{scim_group.pk}", patch_body(op("add", "members", [{"value": user_id}])))
    [add] = _assert_events(response, issued_scim_token, ["group.member.add"])
    assert (add.target_id, add.after) == (str(scim_group.pk), {"members": ["life2@acme.test"], "count": 1})

    response = scim.delete(f"/Users/{user_id}")
    [delete] = _assert_events(response, issued_scim_token, ["user.delete"])
    assert (delete.target_id, delete.before, delete.after) == (
        user_id,
        {"email": "life2@acme.test"},
        {"deprovisioned_by": "DELETE"},
    )
    assert _rejections() == []


def test_adoption_events(scim, issued_scim_token, manual_user):
    response = scim.patch(f"/Users/{manual_user.pk}", patch_body(op("replace", "title", "Adopted")))
    _assert_events(response, issued_scim_token, ["user.scim_adopt", "user.update"])


def test_group_lifecycle_events(scim, issued_scim_token, scim_managed_user, manual_user):
    response = scim.post("/Groups", group_body("Opti_SCIM_Audit", members=[scim_managed_user]))
    group_id = assert_scim(response, 201)["id"]
    create, add = _assert_events(response, issued_scim_token, ["group.create", "group.member.add"])
    assert (create.target_id, create.after) == (group_id, {"name": "Opti_SCIM_Audit", "external_id": ""})
    assert add.after == {"members": ["scim.user@acme.test"], "count": 1}

    response = scim.patch(
        f"/Groups/{group_id}",
        patch_body(
            op("replace", value={"displayName": "Opti_SCIM_Audited", "externalId": "x1"}),
            op("remove", "members", [{"value": str(scim_managed_user.pk)}]),
            op("add", "members", [{"value": str(manual_user.pk)}]),
        ),
    )
    rename, added, removed = _assert_events(
        response, issued_scim_token, ["group.rename", "group.member.add", "group.member.remove"]
    )
    assert (rename.before, rename.after) == (
        {"name": "Opti_SCIM_Audit", "external_id": ""},
        {"name": "Opti_SCIM_Audited", "external_id": "x1"},
    )
    assert (added.after, removed.before) == (
        {"members": ["manual@acme.test"], "count": 1},
        {"members": ["scim.user@acme.test"], "count": 1},
    )

    response = scim.patch(f"/Groups/{group_id}", patch_body(op("replace", "externalId", "x2")))
    _assert_events(response, issued_scim_token, ["group.update"])

    response = scim.delete(f"/Groups/{group_id}")
    [delete] = _assert_events(response, issued_scim_token, ["group.delete"])
    assert delete.before == {"name": "Opti_SCIM_Audited", "members": 1}


def test_reads_write_no_events(scim, scim_managed_user, scim_group):
    for path in ("/Users", f"/Users/{scim_managed_user.pk}", "/Groups", f"/Groups/{scim_group.pk}", "/Schemas"):
        assert_scim(scim.get(path), 200)
    assert AuditEvent.objects.filter(actor_type="scim_token").count() == 0
    assert ScimRequestLog.objects.count() == 5


# --- secrets -----------------------------------------------------------------------------------------------


def test_no_token_or_password_is_ever_stored(
    scim_token, revoked_scim_token, expired_scim_token, scim_managed_user, scim_group, other_organization_token
):
    """Search every field of every log and audit row for the raw tokens and the password."""
    live = ScimClient(scim_token, user_agent=OKTA_UA)
    created = assert_scim(live.post("/Users", user_body("secret@acme.test", password=PASSWORD)), 201)
    live.put(f"/Users/{created['id']}", {"userName": "secret@acme.test", "password": PASSWORD})
    live.patch(f"/Users/{created['id']}", patch_body(op("replace", value={"password": PASSWORD})))
    live.patch(f"/Users/{created['id']}", patch_body(op("replace", "password", PASSWORD), op("remove")))
    live.post("/Users", {**user_body("secret@acme.test"), "password": PASSWORD})  # 409
    live.post("/Users", {**user_body("other@acme.test"), "password": PASSWORD, "active": "x"})  # 400
    live.post("/Groups", group_body("Opti_SCIM_S", members=[scim_managed_user]))
    live.delete(f"/Users/{created['id']}")
    for raw in (revoked_scim_token, expired_scim_token, "optiid_scim_guessed", other_organization_token):
        ScimClient(raw).get("/Users")
    ScimClient(None, authorization=f"Basic {scim_token}").get("/Users")
    ScimClient(None, authorization=f"Token {scim_token}").get("/Groups")

    secrets = [scim_token, revoked_scim_token, expired_scim_token, other_organization_token]
    rows = [model_to_dict(r) for r in ScimRequestLog.objects.all()] + [
        model_to_dict(e) for e in AuditEvent.objects.all()
    ]
    assert len(rows) > 20
    dump = json.dumps(rows, default=str)
    for secret in secrets:
        assert secret not in dump
        assert secret[20:] not in dump  # not even the secret part after the displayed prefix
    assert PASSWORD not in dump
