"""The one-line summaries of the audit log: who did what, in words.

``event_summary`` reads "PingOne added 3 members to Sales" from a stored event, with the
phrases of ``admincenter.audit.actions``; ``request_summary`` describes a SCIM request-log row.
``admincenter.audit.processing`` stores both when it processes a batch.

The boundary: pure functions of stored values; no database access.
"""

from __future__ import annotations

from admincenter.audit.actions import action_find, plural
from admincenter.idp import KNOWN_IDPS, idp_from_user_agent
from admincenter.models import ActorType, Outcome


def actor_display(*, actor_type: str, actor_label: str, user_agent: str = "") -> str:
    """Who to name in a summary: the IdP for SCIM tokens when the User-Agent says which."""
    if actor_type == ActorType.SCIM_TOKEN:
        idp = idp_from_user_agent(user_agent)
        return idp if idp in KNOWN_IDPS else (actor_label or "A SCIM client")
    if actor_type == ActorType.OPERATOR:
        return f"Operator ({actor_label})" if actor_label else "Operator"
    if actor_type == ActorType.SYSTEM:
        return "System" if actor_label in ("", "system") else f"System ({actor_label})"
    return actor_label or actor_type


def event_summary(
    *,
    actor_type: str,
    actor_label: str,
    user_agent: str,
    action: str,
    target_label: str,
    before: dict | None,
    after: dict | None,
    outcome: str,
    status_code: int | None = None,
) -> str:
    """One line such as "PingOne added 3 members to Sales" (at most 500 characters)."""
    who = actor_display(actor_type=actor_type, actor_label=actor_label, user_agent=user_agent)
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    target = target_label or "?"
    registered = action_find(action)
    past, attempt = (registered.done, registered.attempted) if registered else (None, None)
    try:
        if outcome == Outcome.SUCCESS:
            text = f"{who} {past(target, before, after)}" if past else f"{who}: {action} {target_label}".strip()
        else:
            what = attempt(target, before, after) if attempt else f"{action} {target_label}".strip()
            code = f", {status_code}" if status_code else ""
            text = f"{who} tried to {what} ({outcome}{code})"
    except (TypeError, ValueError, AttributeError):  # an unexpected before/after shape
        text = f"{who}: {action} {target_label}".strip()
    return text[:500]


def request_summary(
    *, idp: str, token_prefix: str, method: str, path: str, status_code: int, scim_type: str, event_count: int
) -> str:
    """One line for a SCIM request-log row, e.g. "PingOne PATCH /Groups/… → 200, 1 change"."""
    who = idp if idp in KNOWN_IDPS else (token_prefix or "Unknown client")
    text = f"{who} {method} {path} → {status_code}"
    if scim_type:
        text += f" {scim_type}"
    if event_count:
        text += f", {plural(event_count, 'change')}"
    return text[:500]
