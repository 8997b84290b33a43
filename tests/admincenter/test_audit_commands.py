"""``manage.py audit process|export|purge``, and the export's constant memory."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from admincenter.audit import export, processing
from admincenter.audit.selectors import AuditFilters
from admincenter.models import AuditEvent, AuditHourlyRollup, ScimRequestLog
from tests.admincenter.audit_support import (
    bulk_events,
    bulk_requests,
    fixture_fresh_breaker,  # noqa: F401 (fixtures)
    insert_events_sql,
)

DAY = datetime(2026, 1, 15, 8, 30, tzinfo=UTC)


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("audit", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_process_drains_the_backlog_and_says_how_many(organization):
    AuditEvent.objects.update(processed_at=timezone.now())
    bulk_events(organization, 2345)
    bulk_requests(organization, 12)

    out, _ = run("process", "--batch-size", "1000")

    assert out == "Processed 2345 audit events and 12 SCIM request-log rows in 3 batches.\n"
    assert processing.audit_pending_counts() == {"events": 0, "requests": 0}
    assert run("process")[0] == "Processed 0 audit events and 0 SCIM request-log rows in 0 batches.\n"


def test_export_writes_csv_with_a_header_oldest_first(organization):
    bulk_events(organization, 3, when=DAY)
    bulk_events(organization, 2, when=DAY + timedelta(days=2))

    out, _ = run("export", "--org", "acme", "--since", "2026-01-15", "--until", "2026-01-15")

    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == list(export.EXPORT_COLUMNS)
    assert [r[8] for r in rows[1:]] == ["user0@acme.test", "user1@acme.test", "user2@acme.test"]
    assert rows[1][15:] == ['{"given_name":"A"}', '{"given_name":"B"}']


def test_export_to_a_file_in_json_lines(organization, tmp_path):
    bulk_events(organization, 4, when=DAY)
    target = tmp_path / "audit.jsonl"

    out, err = run("export", "--org", "acme", "--until", "2026-01-15", "--format", "jsonl", "--output", str(target))

    assert out == ""
    assert err == f"Exported 4 audit events of acme to {target}.\n"
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["target_label"] for r in records] == [f"user{i}@acme.test" for i in range(4)]
    assert records[0]["occurred_at"] == DAY.isoformat()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "--org", "nope"], "No organization with the slug 'nope'."),
        (["export", "--org", "acme", "--since", "2026-02-01", "--until", "2026-01-01"], "--until is before --since."),
        (["process", "--batch-size", "0"], "--batch-size must be at least 1."),
    ],
)
def test_command_errors_are_one_line(organization, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_purge_dry_run_then_purge(organization, settings):
    settings.AUDIT_REQUEST_LOG_RETENTION_DAYS = 30
    now = timezone.now()
    bulk_requests(organization, 3, when=now - timedelta(days=45))
    bulk_requests(organization, 1, when=now)
    run("process")
    rollups = list(AuditHourlyRollup.objects.values_list("requests", flat=True))

    dry, _ = run("purge", "--dry-run")
    assert dry.startswith("Would delete 3 SCIM request-log rows older than ")
    assert ScimRequestLog.objects.count() == 4

    done, _ = run("purge")
    assert done.startswith("Deleted 3 SCIM request-log rows older than ")
    assert ScimRequestLog.objects.count() == 1
    assert list(AuditHourlyRollup.objects.values_list("requests", flat=True)) == rollups
    purge = AuditEvent.objects.get(action="audit.purge")
    assert (purge.actor_type, purge.actor_label) == ("operator", "manage.py audit")


def _export_peak(organization, fmt: str) -> tuple[int, int]:
    """Stream the whole export to a byte counter; return (bytes, tracemalloc peak)."""
    size = 0
    tracemalloc.start()
    try:
        for line in export.export_lines(organization=organization, filters=AuditFilters(), fmt=fmt):
            size += len(line)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return size, peak


def test_exporting_100000_events_stays_under_a_fixed_memory_bound(organization):
    insert_events_sql(organization, 10_000, when=DAY)
    small_size, small_peak = _export_peak(organization, "csv")
    insert_events_sql(organization, 90_000, when=DAY + timedelta(hours=1))
    assert AuditEvent.objects.filter(organization=organization).count() > 100_000

    size, peak = _export_peak(organization, "csv")
    jsonl_size, jsonl_peak = _export_peak(organization, "jsonl")

    assert size > 9 * small_size and jsonl_size > size  # every row went through, in both formats
    # A generous ceiling (measured: about 4 MB either way)...
    assert peak < 50 * 1024 * 1024, f"csv peak {peak / 1e6:.1f} MB"
    assert jsonl_peak < 50 * 1024 * 1024, f"jsonl peak {jsonl_peak / 1e6:.1f} MB"
    # ...and constant memory: ten times the rows must not need anywhere near ten times the memory.
    assert peak < 2 * small_peak + 5 * 1024 * 1024, (small_peak, peak)
