"""Reads of the dashboard that come from the SCIM request log and the audit trail.

The organization is a required keyword. These are the dashboard's own summaries; the
audit log's search and filters belong to the audit package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from admincenter.models import AuditEvent, AuditHourlyRollup, Organization, ScimRequestLog


def last_scim_request(*, organization: Organization) -> ScimRequestLog | None:
    return ScimRequestLog.objects.filter(organization=organization).order_by("-occurred_at", "-id").first()


def last_scim_error(*, organization: Organization) -> ScimRequestLog | None:
    return (
        ScimRequestLog.objects.filter(organization=organization, status_code__gte=400)
        .order_by("-occurred_at", "-id")
        .first()
    )


@dataclass(frozen=True)
class HourCount:
    hour: datetime
    requests: int
    errors: int


def hourly_scim_requests(*, organization: Organization, hours: int = 168, now: datetime | None = None):
    """SCIM requests per hour over the last ``hours`` hours, oldest first, one entry per
    hour (zeros included). Returns ``(counts, source)``.

    Two queries, whatever the traffic: the audit pipeline's ``AuditHourlyRollup`` for
    the period, plus ``ScimRequestLog`` rows the pipeline has not processed yet,
    aggregated by hour in the database. The pipeline marks a row processed in the same
    transaction that adds it to the roll-up, so nothing is counted twice; and when the
    pipeline has not run at all (or the roll-up is empty for the period) the chart is
    simply the request log's. Roll-ups outlive the raw rows, which are purged sooner."""
    now = now or timezone.now()
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    rollups = list(
        AuditHourlyRollup.objects.filter(
            organization=organization, hour__gte=start, hour__lt=end, requests__gt=0
        ).values_list("hour", "requests", "errors")
    )
    pending = list(
        ScimRequestLog.objects.filter(
            organization=organization, occurred_at__gte=start, occurred_at__lt=end, processed_at__isnull=True
        )
        .annotate(hour=TruncHour("occurred_at"))
        .values("hour")
        .annotate(requests=Count("pk"), errors=Count("pk", filter=Q(status_code__gte=400)))
        .order_by("hour")
        .values_list("hour", "requests", "errors")
    )
    source = "rollup" if rollups else "request_log"
    rollups += pending
    by_hour: dict[datetime, tuple[int, int]] = {}
    for hour, requests, errors in rollups:
        key = hour.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        old = by_hour.get(key, (0, 0))
        by_hour[key] = (old[0] + (requests or 0), old[1] + (errors or 0))
    counts = []
    for i in range(hours):
        hour = (start + timedelta(hours=i)).astimezone(UTC)
        requests, errors = by_hour.get(hour, (0, 0))
        counts.append(HourCount(hour=hour, requests=requests, errors=min(errors, requests)))
    return counts, source


def recent_audit_events(*, organization: Organization, limit: int = 8):
    return AuditEvent.objects.filter(organization=organization).order_by("-occurred_at", "-id")[:limit]
