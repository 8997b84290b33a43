"""SCIM bearer tokens: issue (raw value returned once), revoke, authenticate (docs/domain.md#scim-token).

A token is ``TOKEN_PREFIX`` followed by 32 random bytes (base64url). Only its SHA-256 is
stored; the first characters are kept as ``token_prefix`` to recognise it in lists.
Because the secret is random, an unsalted hash is enough and lookup is by hash.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from admincenter.audit import actions
from admincenter.audit.record import Actor, audit_record
from admincenter.errors import (
    Conflict,
    Forbidden,
    InvalidValue,
    NotFound,
    Unauthenticated,
)
from admincenter.hotsql import scim_token_row
from admincenter.models import Organization, ProvisioningMode, ScimToken
from admincenter.selectors.tokens import live_token_count
from admincenter.transactions import atomic

TOKEN_PREFIX = "optiid_scim_"
_PREFIX_RANDOM_CHARS = 8
# Ten years. Without a bound a huge value overflowed the date (OverflowError); a token
# that should outlive that is what "never expires" (None) is for.
MAX_EXPIRY_DAYS = 3650


@dataclass(frozen=True)
class IssuedToken:
    token: ScimToken
    raw: str  # shown once, never stored


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@atomic
def scim_token_issue(
    *,
    organization: Organization,
    label: str,
    actor: Actor,
    expires_in_days: int | None = None,
) -> IssuedToken:
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    if organization.provisioning_mode != ProvisioningMode.SCIM:
        raise Forbidden(
            f"Organization '{organization.slug}' is not in SCIM mode: enable SCIM on an SSO connection first."
        )
    connection = organization.sso_connections.get(scim_enabled=True)
    label = (label or "").strip() or "SCIM token"
    if len(label) > 100:
        raise InvalidValue("The label can be at most 100 characters.", field="label")
    if expires_in_days is not None and expires_in_days < 1:
        raise InvalidValue("Expiry must be at least one day, or none.", field="expires_in_days")
    if expires_in_days is not None and expires_in_days > MAX_EXPIRY_DAYS:
        raise InvalidValue(f"Expiry can be at most {MAX_EXPIRY_DAYS} days, or none.", field="expires_in_days")
    limit = settings.SCIM_MAX_LIVE_TOKENS
    if live_token_count(organization=organization) >= limit:
        raise Conflict(
            f"This organization already has {limit} live SCIM tokens. Revoke one before generating another.",
            field="label",
        )
    secret = secrets.token_urlsafe(32)
    raw = f"{TOKEN_PREFIX}{secret}"
    now = timezone.now()
    token = ScimToken.objects.create(
        organization=organization,
        sso_connection=connection,
        label=label,
        token_prefix=raw[: len(TOKEN_PREFIX) + _PREFIX_RANDOM_CHARS],
        token_hash=hash_token(raw),
        created_by=actor.display,
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    audit_record(
        organization=organization,
        actor=actor,
        action=actions.SCIM_TOKEN_CREATE,
        target_type="scim_token",
        target_id=token.pk,
        target_label=f"{label} ({token.token_prefix})",
        after={
            "label": label,
            "token_prefix": token.token_prefix,
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        },
    )
    return IssuedToken(token=token, raw=raw)


def scim_token_find(*, organization: Organization, prefix_or_id: str) -> ScimToken:
    value = (prefix_or_id or "").strip()
    tokens = ScimToken.objects.filter(organization=organization)
    query = Q(token_prefix=value)
    if value.isdigit():
        query |= Q(pk=int(value))
    token = tokens.filter(query).first()
    if token is None:
        raise NotFound(f"No SCIM token '{value}' in organization '{organization.slug}'.")
    return token


@atomic
def scim_token_revoke(*, organization: Organization, token: ScimToken, actor: Actor) -> ScimToken:
    try:
        token = ScimToken.objects.select_for_update().get(pk=token.pk, organization=organization)
    except ScimToken.DoesNotExist:
        raise NotFound("No such SCIM token in this organization.") from None
    if token.revoked_at is not None:
        raise Conflict(f"Token {token.token_prefix} is already revoked.")
    token.revoked_at = timezone.now()
    token.revoked_by = actor.display
    token.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(
        organization=organization,
        actor=actor,
        action=actions.SCIM_TOKEN_REVOKE,
        target_type="scim_token",
        target_id=token.pk,
        target_label=f"{token.label} ({token.token_prefix})",
        after={"revoked_at": token.revoked_at.isoformat()},
    )
    return token


def scim_token_lookup(raw: str) -> ScimToken | None:
    """The token row whose hash matches ``raw`` (with organization and connection), or None.
    Every SCIM request runs it, so its SQL is hand-built (``hotsql.scim_token_row``)."""
    if not raw:
        return None
    return scim_token_row(hash_token(raw))


def scim_token_check(token: ScimToken | None) -> ScimToken:
    """Accept a looked-up token or raise why not.

    Raises ``Unauthenticated`` for unknown, revoked or expired tokens (401), and
    ``Forbidden`` for a live token whose organization is no longer in SCIM mode or
    whose connection lost SCIM (403, docs/domain.md#scim-outside-scim-mode). ``last_used_at`` is written
    at most once per ``SCIM_TOKEN_LAST_USED_THROTTLE_SECONDS``.
    """
    if token is None:
        raise Unauthenticated("The bearer token is not valid.")
    now = timezone.now()
    if token.revoked_at is not None:
        raise Unauthenticated("The bearer token has been revoked.")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthenticated("The bearer token has expired.")
    if token.organization.provisioning_mode != ProvisioningMode.SCIM or not token.sso_connection.scim_enabled:
        raise Forbidden(
            "SCIM provisioning is not enabled for this organization. An administrator must enable SCIM "
            "in the Admin Center (Settings > Provisioning)."
        )
    throttle = timedelta(seconds=settings.SCIM_TOKEN_LAST_USED_THROTTLE_SECONDS)
    if token.last_used_at is None or now - token.last_used_at >= throttle:
        ScimToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def scim_token_authenticate(raw: str) -> ScimToken:
    """Return the live token for ``raw``; see ``scim_token_check`` for the refusals."""
    if not raw:
        raise Unauthenticated("Missing bearer token.")
    return scim_token_check(scim_token_lookup(raw))
