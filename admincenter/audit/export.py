"""Exports of the audit log: CSV or JSON Lines, streamed or written to a file by a job.

``export_lines`` streams the filtered log in constant memory; ``manage.py audit export``, the
Admin Center download and the export task all use it, so they agree. Large ranges become an
``AuditExport`` job, run by the ``admincenter.audit.export`` task.

The boundary: file I/O under ``AUDIT_EXPORT_DIR`` and the job rows; no HTTP.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from admincenter.audit import enqueue
from admincenter.audit.selectors import AuditFilters, audit_events_search
from admincenter.models import AuditExport, AuditExportFormat, AuditExportStatus, Organization
from admincenter.transactions import atomic

logger = logging.getLogger(__name__)

EXPORT_COLUMNS = (
    "id",
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "outcome",
    "status_code",
    "request_id",
    "ip",
    "user_agent",
    "summary",
    "before",
    "after",
)
EXPORT_CHUNK = 2000
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Line:
    """A file-like sink for csv.writer that hands back the line it was given."""

    def write(self, value: str) -> str:
        return value


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_CSV_FORMULA_START):
        # Labels come from IdPs and admins: keep spreadsheets from running them as formulas.
        return "'" + value
    return value


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def export_queryset(*, organization: Organization, filters: AuditFilters) -> QuerySet:
    """Rows to export: the filtered log in chronological order (oldest first)."""
    return (
        audit_events_search(organization=organization, filters=filters)
        .order_by("occurred_at", "id")
        .values_list(*EXPORT_COLUMNS)
    )


def export_lines(*, organization: Organization, filters: AuditFilters, fmt: str) -> Iterator[str]:
    """Yield the export line by line (CSV with a header row, or JSON Lines), reading the
    database in chunks of ``EXPORT_CHUNK`` rows so memory stays flat whatever the range."""
    if fmt not in AuditExportFormat.values:
        raise ValueError(f"Unknown export format {fmt!r}: use csv or jsonl.")
    rows: Iterable[tuple] = export_queryset(organization=organization, filters=filters).iterator(
        chunk_size=EXPORT_CHUNK
    )
    if fmt == AuditExportFormat.CSV:
        writer = csv.writer(_Line())
        yield writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            yield writer.writerow([_csv_cell(v) for v in row])
    else:
        for row in rows:
            record = {name: _json_value(value) for name, value in zip(EXPORT_COLUMNS, row, strict=True)}
            yield json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n"


def export_filename(*, organization: Organization, filters: AuditFilters, fmt: str) -> str:
    span = "-".join(d.isoformat() for d in (filters.since, filters.until) if d) or "all"
    return f"audit-{organization.slug}-{span}.{fmt}"


# --- Export jobs (Admin Center exports of large ranges) -------------------------------------

EXPORT_PROGRESS_EVERY = EXPORT_CHUNK
# A queued job nobody started (broker was down) is re-enqueued by the sweep after this long;
# a running job without progress for STALLED is marked failed (its worker died).
EXPORT_REQUEUE_AFTER = timedelta(minutes=2)
EXPORT_STALLED_AFTER = timedelta(minutes=30)


def export_dir() -> Path:
    return Path(settings.AUDIT_EXPORT_DIR)


def export_job_path(job: AuditExport) -> Path | None:
    if not job.file_name:
        return None
    path = (export_dir() / job.file_name).resolve()
    return path if path.parent == export_dir().resolve() else None


def export_file_remove(job: AuditExport) -> None:
    path = export_job_path(job)
    if path is not None:
        path.unlink(missing_ok=True)


def export_job_create(
    *, organization: Organization, filters: AuditFilters, fmt: str, requested_by=None, total: int | None = None
) -> AuditExport:
    """Queue an export of the filtered log; the task runs after commit (in-process when eager)."""
    if fmt not in AuditExportFormat.values:
        raise ValueError(f"Unknown export format {fmt!r}: use csv or jsonl.")
    if total is None:
        total = audit_events_search(organization=organization, filters=filters).count()
    with atomic():
        job = AuditExport.objects.create(
            organization=organization,
            requested_by=requested_by,
            requested_by_label=getattr(requested_by, "email", "") or "",
            format=fmt,
            filters=filters.to_dict(),
            total=total,
        )
        transaction.on_commit(lambda: enqueue.enqueue_export(job.pk))
    return job


def export_job_run(*, job_id: int) -> AuditExport | None:
    """Write the export file for a queued job, updating progress as it goes. A job is claimed
    by moving it from pending to running in one UPDATE, so a duplicate message does nothing."""
    now = timezone.now()
    claimed = AuditExport.objects.filter(pk=job_id, status=AuditExportStatus.PENDING).update(
        status=AuditExportStatus.RUNNING, started_at=now, updated_at=now
    )
    if not claimed:
        return None
    job = AuditExport.objects.select_related("organization").get(pk=job_id)
    filters = AuditFilters.from_dict(job.filters)
    target_dir = export_dir()
    target_dir.mkdir(parents=True, exist_ok=True)
    name = f"audit-{job.organization.slug}-{job.pk}-{now:%Y%m%dT%H%M%S}.{job.format}"
    partial = target_dir / f".{name}.partial"
    try:
        total = audit_events_search(organization=job.organization, filters=filters).count()
        AuditExport.objects.filter(pk=job.pk).update(total=total)
        written = -1 if job.format == AuditExportFormat.CSV else 0  # the CSV header is not a row
        with partial.open("w", encoding="utf-8", newline="") as out:
            for line in export_lines(organization=job.organization, filters=filters, fmt=job.format):
                out.write(line)
                written += 1
                if written and written % EXPORT_PROGRESS_EVERY == 0:
                    AuditExport.objects.filter(pk=job.pk).update(written=written, updated_at=timezone.now())
        os.replace(partial, target_dir / name)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        logger.exception("Audit export %s failed", job.pk)
        AuditExport.objects.filter(pk=job.pk).update(
            status=AuditExportStatus.FAILED,
            error=f"The export failed ({type(exc).__name__}). Try again or ask an operator.",
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
        return None
    AuditExport.objects.filter(pk=job.pk).update(
        status=AuditExportStatus.DONE,
        written=max(written, 0),
        total=max(written, 0),
        file_name=name,
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )
    job.refresh_from_db()
    return job


def export_jobs_resume(*, now: datetime | None = None) -> int:
    """Re-enqueue queued jobs that never started; fail running jobs whose worker vanished."""
    now = now or timezone.now()
    AuditExport.objects.filter(status=AuditExportStatus.RUNNING, updated_at__lt=now - EXPORT_STALLED_AFTER).update(
        status=AuditExportStatus.FAILED,
        error="The export stopped making progress. Start it again.",
        finished_at=now,
        updated_at=now,
    )
    stale = list(
        AuditExport.objects.filter(
            status=AuditExportStatus.PENDING, created_at__lt=now - EXPORT_REQUEUE_AFTER
        ).values_list("pk", flat=True)[:100]
    )
    for pk in stale:
        enqueue.enqueue_export(pk)
    return len(stale)
