"""Retention of the audit log: deleting raw rows past ``AUDIT_REQUEST_LOG_RETENTION_DAYS`` /
``AUDIT_EVENT_RETENTION_DAYS``, and export files past ``EXPORT_RETENTION_DAYS``.

Roll-ups are kept. The boundary: called by the daily task and ``manage.py audit purge``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from admincenter.audit import actions
from admincenter.audit.export import export_file_remove
from admincenter.audit.record import audit_record
from admincenter.models import AuditEvent, AuditExport, ScimRequestLog

PURGE_CHUNK = 5000
EXPORT_RETENTION_DAYS = 7


@dataclass
class PurgeResult:
    requests: int = 0
    events: int = 0
    exports: int = 0
    # Rows past retention that are not processed yet are kept until the sweep has counted them.
    pending_requests_kept: int = 0
    pending_events_kept: int = 0
    request_cutoff: datetime | None = None
    event_cutoff: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("request_cutoff", "event_cutoff"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def _delete_in_chunks(queryset: QuerySet) -> int:
    deleted = 0
    while True:
        ids = list(queryset.order_by("id").values_list("id", flat=True)[:PURGE_CHUNK])
        if not ids:
            return deleted
        deleted += queryset.model.objects.filter(id__in=ids).delete()[0]


def audit_retention_purge(*, dry_run: bool = False, actor=None, now: datetime | None = None) -> PurgeResult:
    """Delete raw request-log rows and audit events past retention; roll-ups stay.

    Only processed rows are deleted, so the roll-ups always include them. Deletes run in
    chunks of ``PURGE_CHUNK`` rows to keep locks and transactions short. A real purge that
    deleted something is itself audited (``audit.purge``, no organization) when ``actor`` is
    given.
    """
    now = now or timezone.now()
    result = PurgeResult(
        request_cutoff=now - timedelta(days=settings.AUDIT_REQUEST_LOG_RETENTION_DAYS),
        event_cutoff=now - timedelta(days=settings.AUDIT_EVENT_RETENTION_DAYS),
    )
    old_requests = ScimRequestLog.objects.filter(occurred_at__lt=result.request_cutoff)
    old_events = AuditEvent.objects.filter(occurred_at__lt=result.event_cutoff)
    old_exports = AuditExport.objects.filter(created_at__lt=now - timedelta(days=EXPORT_RETENTION_DAYS))
    result.pending_requests_kept = old_requests.filter(processed_at__isnull=True).count()
    result.pending_events_kept = old_events.filter(processed_at__isnull=True).count()
    if dry_run:
        result.requests = old_requests.filter(processed_at__isnull=False).count()
        result.events = old_events.filter(processed_at__isnull=False).count()
        result.exports = old_exports.count()
        return result
    result.requests = _delete_in_chunks(old_requests.filter(processed_at__isnull=False))
    result.events = _delete_in_chunks(old_events.filter(processed_at__isnull=False))
    for job in old_exports:
        export_file_remove(job)
        job.delete()
        result.exports += 1
    if actor is not None and (result.requests or result.events):
        audit_record(
            organization=None,
            actor=actor,
            action=actions.AUDIT_PURGE,
            target_type="audit_log",
            target_label="retention",
            after={
                "requests": result.requests,
                "events": result.events,
                "request_cutoff": result.request_cutoff.isoformat(),
                "event_cutoff": result.event_cutoff.isoformat(),
            },
        )
    return result
