"""Who did a change (``Actor``) and the one function that writes ``AuditEvent`` rows.

Services call ``audit_record`` inside their own transaction, so a change and its record
commit or roll back together. The action must be registered in ``admincenter.audit.actions``.
Values in ``before``/``after`` must never be secrets; ``scrub`` removes known secret-bearing
keys as a second line of defence.

The boundary: one synchronous INSERT and one processing request per transaction
(``admincenter.audit.enqueue``); summaries and roll-ups are written later by
``admincenter.audit.processing``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from admincenter.audit.actions import AuditAction, action_get
from admincenter.audit.enqueue import schedule_audit_processing
from admincenter.hotsql import RowInsert
from admincenter.models import ActorType, AuditEvent, Organization, Outcome

SECRET_KEYS = frozenset({"password", "token", "secret", "token_hash", "raw_token", "client_secret"})


@dataclass(frozen=True)
class Actor:
    """The author of a change, plus the request it came from (for correlation)."""

    type: str
    id: str = ""
    label: str = ""
    request_id: str = ""
    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def admin(cls, user) -> Actor:
        return cls(type=ActorType.ADMIN_USER, id=str(user.pk), label=user.email)

    @classmethod
    def scim(cls, token) -> Actor:
        return cls(
            type=ActorType.SCIM_TOKEN,
            id=str(token.pk),
            label=f"{token.label} ({token.token_prefix})",
        )

    @classmethod
    def operator(cls, label: str = "manage.py") -> Actor:
        return cls(type=ActorType.OPERATOR, label=label)

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(type=ActorType.SYSTEM, label=label)

    @classmethod
    def jit(cls, email: str) -> Actor:
        return cls(type=ActorType.JIT_LOGIN, label=email)

    def with_request(self, *, request_id: str = "", ip: str | None = None, user_agent: str = "") -> Actor:
        return replace(
            self,
            request_id=request_id[:64],
            ip=ip or None,
            user_agent=(user_agent or "")[:512],
        )

    @property
    def display(self) -> str:
        """A short label stored on rows such as ``GroupMembership.added_by``."""
        return f"{self.type}:{self.label}"[:255]


def scrub(values: dict[str, Any] | None) -> dict[str, Any]:
    if not values:
        return {}
    return {k: v for k, v in values.items() if k.lower() not in SECRET_KEYS}


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keep only the keys whose values differ, for compact before/after records."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


_EVENT_INSERT = RowInsert(AuditEvent)


def audit_record(
    *,
    organization: Organization | None,
    actor: Actor,
    action: AuditAction | str,
    target_type: str = "",
    target_id: Any = "",
    target_label: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    outcome: str = Outcome.SUCCESS,
    status_code: int | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction. The returned row has no primary key
    (one precompiled INSERT: every change writes one, SCIM pushes by the thousand); in a
    SCIM write it is written with the request-log row at commit (``deferred_inserts``).

    ``action`` is a registered ``AuditAction`` or its name; anything else raises
    ``UnknownAuditAction`` before a row is written."""
    registered = action_get(action)
    event = _EVENT_INSERT.append(
        organization=organization,
        actor_type=actor.type,
        actor_id=actor.id[:64],
        actor_label=actor.label[:255],
        action=registered.name,
        target_type=target_type,
        target_id=str(target_id or "")[:64],
        target_label=(target_label or "")[:255],
        before=scrub(before),
        after=scrub(after),
        outcome=outcome,
        status_code=status_code,
        request_id=actor.request_id,
        ip=actor.ip,
        user_agent=actor.user_agent,
    )
    # Enrichment and roll-ups run after commit in Celery (one enqueue per transaction).
    schedule_audit_processing()
    return event
