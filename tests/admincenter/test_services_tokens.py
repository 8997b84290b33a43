"""SCIM bearer tokens: issue, revoke, find, authenticate (docs/domain.md#scim-token,
docs/domain.md#scim-outside-scim-mode, docs/domain.md#tokens-are-shown-once)."""

import hashlib
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from admincenter import services
from admincenter.errors import Conflict, Forbidden, InvalidValue, NotFound, Unauthenticated
from admincenter.models import ActorType, AuditEvent, Organization, ScimToken, SsoConnection
from admincenter.services.tokens import MAX_EXPIRY_DAYS, TOKEN_PREFIX, hash_token
from tests.conftest import OPERATOR

pytestmark = pytest.mark.django_db


def assert_event_holds_no_secret(event, raw):
    payload = json.dumps(
        [event.before, event.after, event.target_label, event.actor_label, event.target_id, event.actor_id]
    )
    assert raw not in payload
    assert raw[len(TOKEN_PREFIX) + 8 :] not in payload  # the secret part beyond the displayed prefix
    assert hash_token(raw) not in payload
    assert not {"token", "token_hash", "raw", "raw_token"} & {*event.before, *event.after}


# --- scim_token_issue --------------------------------------------------------------


def test_issue_returns_the_raw_value_once_and_stores_only_its_hash(scim_organization, sso_connection, admin):
    issued = services.scim_token_issue(organization=scim_organization, label=" Okta production ", actor=admin)

    raw = issued.raw
    assert raw.startswith(TOKEN_PREFIX)
    assert len(raw) - len(TOKEN_PREFIX) >= 43  # 32 random bytes, base64url
    token = ScimToken.objects.get(pk=issued.token.pk)
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert token.token_prefix == raw[: len(TOKEN_PREFIX) + 8]
    assert (token.organization, token.sso_connection) == (scim_organization, sso_connection)
    assert token.label == "Okta production"
    assert token.created_by == "admin_user:admin@acme.test"
    assert (token.expires_at, token.revoked_at, token.last_used_at) == (None, None, None)
    stored = [str(v) for v in ScimToken.objects.filter(pk=token.pk).values().get().values()]
    assert not [v for v in stored if raw in v or raw[len(TOKEN_PREFIX) + 8 :] in v]
    assert not hasattr(token, "raw")

    [event] = AuditEvent.objects.filter(action="scim.token.create")
    assert event.actor_type == ActorType.ADMIN_USER
    assert (event.target_type, event.target_id) == ("scim_token", str(token.pk))
    assert event.target_label == f"Okta production ({token.token_prefix})"
    assert event.before == {}
    assert event.after == {"label": "Okta production", "token_prefix": token.token_prefix, "expires_at": None}
    assert_event_holds_no_secret(event, raw)


def test_every_issued_token_is_different(scim_organization):
    a = services.scim_token_issue(organization=scim_organization, label="a", actor=OPERATOR)
    b = services.scim_token_issue(organization=scim_organization, label="b", actor=OPERATOR)
    assert a.raw != b.raw
    assert a.token.token_prefix != b.token.token_prefix


def test_issue_with_expiry(scim_organization):
    issued = services.scim_token_issue(organization=scim_organization, label="x", expires_in_days=90, actor=OPERATOR)
    assert issued.token.expires_at - issued.token.created_at == timedelta(days=90)
    [event] = AuditEvent.objects.filter(action="scim.token.create")
    assert event.after["expires_at"] == issued.token.expires_at.isoformat()


def test_issue_accepts_the_longest_expiry(scim_organization):
    issued = services.scim_token_issue(
        organization=scim_organization, label="x", expires_in_days=MAX_EXPIRY_DAYS, actor=OPERATOR
    )
    assert issued.token.expires_at - issued.token.created_at == timedelta(days=MAX_EXPIRY_DAYS)


def test_issue_defaults_the_label(scim_organization):
    assert services.scim_token_issue(organization=scim_organization, label="  ", actor=OPERATOR).token.label == (
        "SCIM token"
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"expires_in_days": 0}, "expires_in_days"),
        ({"expires_in_days": -5}, "expires_in_days"),
        ({"expires_in_days": MAX_EXPIRY_DAYS + 1}, "expires_in_days"),
        ({"expires_in_days": 99_999_999}, "expires_in_days"),  # used to overflow the date
        ({"label": "x" * 101}, "label"),
    ],
)
def test_issue_validates_label_and_expiry(scim_organization, kwargs, field):
    arguments = {"label": "ok", **kwargs}
    with pytest.raises(InvalidValue) as exc:
        services.scim_token_issue(organization=scim_organization, actor=OPERATOR, **arguments)
    assert exc.value.field == field
    assert not ScimToken.objects.exists()


def test_issue_is_refused_outside_scim_mode(organization):
    with pytest.raises(Forbidden, match="not in SCIM mode"):
        services.scim_token_issue(organization=organization, label="x", actor=OPERATOR)
    assert not ScimToken.objects.exists()
    assert not AuditEvent.objects.filter(action="scim.token.create").exists()


def test_issue_is_refused_beyond_the_live_token_limit(scim_organization, revoked_scim_token, expired_scim_token):
    # Revoked and expired tokens do not count towards the limit (default 3).
    for n in range(3):
        services.scim_token_issue(organization=scim_organization, label=f"t{n}", actor=OPERATOR)
    tokens_before = ScimToken.objects.count()
    events_before = AuditEvent.objects.count()

    with pytest.raises(Conflict, match="3 live SCIM tokens"):
        services.scim_token_issue(organization=scim_organization, label="one too many", actor=OPERATOR)

    assert ScimToken.objects.count() == tokens_before
    assert AuditEvent.objects.count() == events_before


def test_the_live_token_limit_follows_the_setting(scim_organization, settings):
    settings.SCIM_MAX_LIVE_TOKENS = 1
    first = services.scim_token_issue(organization=scim_organization, label="first", actor=OPERATOR)
    with pytest.raises(Conflict):
        services.scim_token_issue(organization=scim_organization, label="second", actor=OPERATOR)
    # Rotation: revoke the old one, then a new one can be issued.
    services.scim_token_revoke(organization=scim_organization, token=first.token, actor=OPERATOR)
    services.scim_token_issue(organization=scim_organization, label="second", actor=OPERATOR)


# --- scim_token_revoke -------------------------------------------------------------


def test_revoke_kills_the_token_and_audits(scim_organization, issued_scim_token, admin):
    token = services.scim_token_revoke(organization=scim_organization, token=issued_scim_token.token, actor=admin)

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.revoked_by == "admin_user:admin@acme.test"
    assert token.state == "revoked"
    [event] = AuditEvent.objects.filter(action="scim.token.revoke")
    assert event.actor_type == ActorType.ADMIN_USER
    assert (event.target_type, event.target_id) == ("scim_token", str(token.pk))
    assert event.after == {"revoked_at": token.revoked_at.isoformat()}
    assert_event_holds_no_secret(event, issued_scim_token.raw)
    with pytest.raises(Unauthenticated):
        services.scim_token_authenticate(issued_scim_token.raw)


def test_revoke_twice_is_refused(scim_organization, issued_scim_token):
    services.scim_token_revoke(organization=scim_organization, token=issued_scim_token.token, actor=OPERATOR)
    revoked_at = ScimToken.objects.get(pk=issued_scim_token.token.pk).revoked_at
    with pytest.raises(Conflict, match="already revoked"):
        services.scim_token_revoke(organization=scim_organization, token=issued_scim_token.token, actor=OPERATOR)
    assert ScimToken.objects.get(pk=issued_scim_token.token.pk).revoked_at == revoked_at
    assert AuditEvent.objects.filter(action="scim.token.revoke").count() == 1


def test_revoking_another_organizations_token_is_not_found(scim_organization, other_organization_token):
    theirs = ScimToken.objects.get(organization__slug="globex")
    with pytest.raises(NotFound):
        services.scim_token_revoke(organization=scim_organization, token=theirs, actor=OPERATOR)
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    assert services.scim_token_authenticate(other_organization_token) == theirs


# --- scim_token_find ---------------------------------------------------------------


def test_find_by_prefix_or_id_within_the_organization(scim_organization, issued_scim_token, other_organization_token):
    token = issued_scim_token.token
    assert services.scim_token_find(organization=scim_organization, prefix_or_id=token.token_prefix) == token
    assert services.scim_token_find(organization=scim_organization, prefix_or_id=f" {token.pk} ") == token
    theirs = ScimToken.objects.get(organization__slug="globex")
    for value in (theirs.token_prefix, str(theirs.pk), "", "optiid_scim_nope"):
        with pytest.raises(NotFound):
            services.scim_token_find(organization=scim_organization, prefix_or_id=value)


# --- scim_token_authenticate ----------------------------------------------------------


def test_authenticate_returns_the_live_token_with_its_tenant(scim_organization, issued_scim_token):
    token = services.scim_token_authenticate(issued_scim_token.raw)
    assert token == issued_scim_token.token
    assert token.organization == scim_organization
    assert token.sso_connection.scim_enabled
    assert token.last_used_at is not None
    assert ScimToken.objects.get(pk=token.pk).last_used_at == token.last_used_at


@pytest.mark.parametrize("raw", ["", None, "optiid_scim_unknown", "Bearer x"])
def test_authenticate_refuses_unknown_tokens(scim_organization, scim_token, raw):
    with pytest.raises(Unauthenticated):
        services.scim_token_authenticate(raw)


def test_authenticate_refuses_a_near_miss_of_a_real_token(scim_token):
    with pytest.raises(Unauthenticated) as exc:
        services.scim_token_authenticate(scim_token[:-1])
    assert scim_token[:-1] not in exc.value.message


def test_authenticate_refuses_revoked_and_expired_tokens(revoked_scim_token, expired_scim_token):
    with pytest.raises(Unauthenticated, match="revoked"):
        services.scim_token_authenticate(revoked_scim_token)
    with pytest.raises(Unauthenticated, match="expired"):
        services.scim_token_authenticate(expired_scim_token)
    assert not ScimToken.objects.filter(last_used_at__isnull=False).exists()


def test_authenticate_is_forbidden_when_the_organization_left_scim_mode(scim_organization, scim_token):
    # An inconsistent operator edit: the token is live but the organization is in JIT mode.
    Organization.objects.filter(pk=scim_organization.pk).update(provisioning_mode="jit")
    with pytest.raises(Forbidden) as exc:
        services.scim_token_authenticate(scim_token)
    assert scim_token not in exc.value.message


def test_authenticate_is_forbidden_when_the_connection_lost_scim(scim_organization, sso_connection, scim_token):
    SsoConnection.objects.filter(pk=sso_connection.pk).update(scim_enabled=False)
    with pytest.raises(Forbidden):
        services.scim_token_authenticate(scim_token)


def test_last_used_at_is_throttled(scim_token, settings, django_assert_num_queries):
    settings.SCIM_TOKEN_LAST_USED_THROTTLE_SECONDS = 60
    with django_assert_num_queries(2):  # look-up + last_used_at write
        first = services.scim_token_authenticate(scim_token)
    with django_assert_num_queries(1):  # look-up only: inside the window
        second = services.scim_token_authenticate(scim_token)
    assert second.last_used_at == first.last_used_at
    assert ScimToken.objects.get(pk=first.pk).last_used_at == first.last_used_at

    # Once the window has passed, the next use writes again.
    stale = timezone.now() - timedelta(seconds=61)
    ScimToken.objects.filter(pk=first.pk).update(last_used_at=stale)
    with django_assert_num_queries(2):
        third = services.scim_token_authenticate(scim_token)
    assert third.last_used_at > stale


def test_last_used_at_is_written_every_time_without_throttle(scim_token, settings, django_assert_num_queries):
    settings.SCIM_TOKEN_LAST_USED_THROTTLE_SECONDS = 0
    services.scim_token_authenticate(scim_token)
    with django_assert_num_queries(2):
        services.scim_token_authenticate(scim_token)
