"""``manage.py audit process|export|purge``: the audit pipeline from an operator's shell.

- ``process`` drains the backlog now, in this process (no worker or broker needed), and
  prints how many rows it processed.
- ``export`` streams an organization's audit events as CSV or JSON Lines to stdout or a
  file, in constant memory, with the same rows and columns as the Admin Center export.
- ``purge`` applies the retention settings (``--dry-run`` only counts).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from django.conf import settings
from django.core.management.base import CommandError

from admincenter.audit import processing, retention
from admincenter.audit.export import export_lines
from admincenter.audit.selectors import AuditFilters
from admincenter.management.base import OperatorCommand
from admincenter.models import AuditExportFormat


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a date: use YYYY-MM-DD.") from None


class Command(OperatorCommand):
    help = "Process, export or purge the audit log."

    def add_arguments(self, parser):
        actions = self.add_actions(parser, "process", "export", "purge")

        process = self.add_action(
            actions,
            "process",
            help="Process the pending audit rows now and print how many.",
            description=(
                "Enrich and roll up every pending audit event and SCIM request-log row in this process, "
                "without a worker. Safe to run while workers run: rows are claimed, never shared."
            ),
            org=False,
        )
        process.add_argument(
            "--batch-size",
            type=int,
            default=processing.BATCH_SIZE,
            metavar="N",
            help=f"Rows claimed per transaction (default {processing.BATCH_SIZE}).",
        )

        export = self.add_action(
            actions,
            "export",
            help="Stream an organization's audit events as CSV or JSON Lines.",
            description=(
                "Write the organization's audit events, oldest first, to stdout or --output. "
                "--since and --until are whole UTC days and both inclusive. Memory use does not grow with the range."
            ),
        )
        export.add_argument("--since", type=_day, metavar="YYYY-MM-DD", help="First day to include.")
        export.add_argument("--until", type=_day, metavar="YYYY-MM-DD", help="Last day to include.")
        export.add_argument(
            "--format", choices=AuditExportFormat.values, default=AuditExportFormat.CSV.value, help="Default: csv."
        )
        export.add_argument("--output", metavar="FILE", help="Write to FILE instead of stdout.")

        purge = self.add_action(
            actions,
            "purge",
            help="Delete rows past retention (roll-ups are kept).",
            description=(
                "Delete SCIM request-log rows older than AUDIT_REQUEST_LOG_RETENTION_DAYS "
                f"({settings.AUDIT_REQUEST_LOG_RETENTION_DAYS}) and audit events older than "
                f"AUDIT_EVENT_RETENTION_DAYS ({settings.AUDIT_EVENT_RETENTION_DAYS}). Rows not processed yet are "
                "kept until they are counted in the roll-ups."
            ),
            org=False,
        )
        purge.add_argument("--dry-run", action="store_true", help="Only count what would be deleted.")

    def handle(self, *args, action, **options):
        if action == "process":
            self.process(options["batch_size"])
        elif action == "export":
            self.export(options)
        else:
            self.purge(options["dry_run"])

    def process(self, batch_size: int) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        result = processing.audit_backlog_process(batch_size=batch_size)
        self.stdout.write(
            f"Processed {result.events} audit events and {result.requests} SCIM request-log rows "
            f"in {result.batches} batches."
        )

    def export(self, options) -> None:
        organization = self.organization(options["org"])
        since, until = options["since"], options["until"]
        if since and until and until < since:
            raise CommandError("--until is before --since.")
        lines = export_lines(
            organization=organization,
            filters=AuditFilters(since=since, until=until),
            fmt=options["format"],
        )
        rows = -1 if options["format"] == AuditExportFormat.CSV else 0  # the CSV header is not an event
        if options["output"]:
            try:
                with open(options["output"], "w", encoding="utf-8", newline="") as out:
                    for line in lines:
                        out.write(line)
                        rows += 1
            except OSError as exc:
                raise CommandError(f"Cannot write {options['output']}: {exc.strerror}.") from None
            self.info(f"Exported {max(rows, 0)} audit events of {organization.slug} to {options['output']}.")
            return
        # Straight to the underlying stream: no per-line styling, and the CSV keeps its \r\n.
        out = getattr(self.stdout, "_out", sys.stdout)
        for line in lines:
            out.write(line)
            rows += 1
        out.flush()
        if options["verbosity"] >= 2:
            self.info(f"Exported {max(rows, 0)} audit events of {organization.slug}.")

    def purge(self, dry_run: bool) -> None:
        result = retention.audit_retention_purge(dry_run=dry_run, actor=None if dry_run else self.actor)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            f"{verb} {result.requests} SCIM request-log rows older than {result.request_cutoff:%Y-%m-%d %H:%M} UTC, "
            f"{result.events} audit events older than {result.event_cutoff:%Y-%m-%d %H:%M} UTC "
            f"and {result.exports} old export files. Roll-ups are kept."
        )
        kept = result.pending_requests_kept + result.pending_events_kept
        if kept:
            self.info(
                f"Kept {kept} rows past retention that are not processed yet; run 'manage.py audit process' first."
            )
