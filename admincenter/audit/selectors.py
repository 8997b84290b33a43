"""Reads of the audit log: the filters of the Admin Center and ``manage.py audit``, and the
queries behind the audit pages.

The boundary: querysets and rows only, always filtered by the organization; no writes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet

from admincenter.models import AuditEvent, AuditExport, Organization, ScimRequestLog


@dataclass(frozen=True)
class AuditFilters:
    """The Admin Center's audit-log filters; also stored on export jobs and used by the command.

    ``since``/``until`` are whole UTC days, both inclusive. ``action`` matches exactly, or as a
    prefix when it ends with "." (``group.`` finds every group action).
    """

    since: date | None = None
    until: date | None = None
    actor_type: str = ""
    actor: str = ""
    action: str = ""
    target: str = ""
    outcome: str = ""
    q: str = ""
    request_id: str = ""

    def to_dict(self) -> dict[str, str]:
        data = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value:
                data[f.name] = value.isoformat() if isinstance(value, date) else value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditFilters:
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = data.get(f.name)
            if not value:
                continue
            if f.name in ("since", "until") and not isinstance(value, date):
                value = date.fromisoformat(str(value))
            values[f.name] = value if isinstance(value, date) else str(value).strip()
        return cls(**values)


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def audit_events_search(*, organization: Organization, filters: AuditFilters) -> QuerySet:
    """The organization's events matching ``filters``, newest first (all in SQL)."""
    events = AuditEvent.objects.filter(organization=organization)
    if filters.since:
        events = events.filter(occurred_at__gte=_day_start(filters.since))
    if filters.until:
        events = events.filter(occurred_at__lt=_day_start(filters.until) + timedelta(days=1))
    if filters.actor_type:
        events = events.filter(actor_type=filters.actor_type)
    if filters.actor:
        events = events.filter(Q(actor_label__icontains=filters.actor) | Q(actor_id=filters.actor))
    if filters.action:
        if filters.action.endswith("."):
            events = events.filter(action__startswith=filters.action)
        else:
            events = events.filter(action=filters.action)
    if filters.target:
        events = events.filter(Q(target_label__icontains=filters.target) | Q(target_id=filters.target))
    if filters.outcome:
        events = events.filter(outcome=filters.outcome)
    if filters.request_id:
        events = events.filter(request_id=filters.request_id)
    if filters.q:
        text = filters.q
        events = events.filter(
            Q(actor_label__icontains=text)
            | Q(target_label__icontains=text)
            | Q(action__icontains=text)
            | Q(summary__icontains=text)
            | Q(request_id=text)
            | Q(target_id=text)
        )
    return events.order_by("-occurred_at", "-id")


def scim_requests_search(
    *,
    organization: Organization,
    since: date | None = None,
    until: date | None = None,
    idp: str = "",
    errors_only: bool = False,
    request_id: str = "",
) -> QuerySet:
    """The organization's SCIM request-log rows, newest first (all in SQL)."""
    rows = ScimRequestLog.objects.filter(organization=organization)
    if since:
        rows = rows.filter(occurred_at__gte=_day_start(since))
    if until:
        rows = rows.filter(occurred_at__lt=_day_start(until) + timedelta(days=1))
    if idp:
        rows = rows.filter(idp=idp)
    if errors_only:
        rows = rows.filter(status_code__gte=400)
    if request_id:
        rows = rows.filter(request_id=request_id)
    return rows.order_by("-occurred_at", "-id")


def audit_event_get(*, organization: Organization, pk: int) -> AuditEvent | None:
    return AuditEvent.objects.filter(pk=pk, organization=organization).first()


def scim_request_for_event(*, organization: Organization, event: AuditEvent) -> ScimRequestLog | None:
    """The SCIM request that caused ``event`` (none for changes made in the Admin Center)."""
    if not event.request_id:
        return None
    return ScimRequestLog.objects.filter(organization=organization, request_id=event.request_id).order_by("id").first()


def related_event_count(*, organization: Organization, event: AuditEvent) -> int:
    """How many other events the same request caused."""
    if not event.request_id:
        return 0
    return (
        AuditEvent.objects.filter(organization=organization, request_id=event.request_id).exclude(pk=event.pk).count()
    )


def audit_exports_recent(*, organization: Organization, limit: int = 5) -> QuerySet:
    return AuditExport.objects.filter(organization=organization)[:limit]


def audit_export_get(*, organization: Organization, pk: int, status: str = "") -> AuditExport | None:
    exports = AuditExport.objects.filter(pk=pk, organization=organization)
    if status:
        exports = exports.filter(status=status)
    return exports.first()
