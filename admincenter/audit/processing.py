"""Processing the audit backlog: summaries, correlation and hourly roll-ups, in batches.

``audit_backlog_process`` claims pending rows in batches (``SELECT ... FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several workers never share a row), writes summaries, the IdP name and the
request <-> event correlation, and adds the batch to the hourly roll-ups in the same
transaction that marks the rows processed. A processed row is never claimed again, so
re-running is harmless and nothing is counted twice. ``audit_backlog_sweep`` is the beat's safety net.

The boundary: called by ``admincenter.audit.tasks`` and ``manage.py audit``; no HTTP, no
Celery (re-enqueueing is the task's decision).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from admincenter.audit.actions import action_find
from admincenter.audit.export import export_jobs_resume
from admincenter.audit.summaries import event_summary, request_summary
from admincenter.hotsql import audit_events_mark_processed, request_logs_mark_processed
from admincenter.idp import idp_from_user_agent
from admincenter.models import AuditEvent, AuditHourlyRollup, Outcome, ScimRequestLog
from admincenter.transactions import atomic

BATCH_SIZE = 1000
# A worker task stops after this long and re-enqueues itself, so a huge backlog is drained
# in short tasks (several workers can share it, and a restart loses at most one batch).
TASK_TIME_BUDGET_SECONDS = 50.0

ROLLUP_COUNTERS = (
    "requests",
    "errors",
    "users_created",
    "users_updated",
    "users_deprovisioned",
    "groups_created",
    "groups_updated",
    "groups_deleted",
)

_EVENT_FIELDS = (
    "id",
    "organization_id",
    "occurred_at",
    "actor_type",
    "actor_label",
    "action",
    "target_label",
    "before",
    "after",
    "outcome",
    "status_code",
    "user_agent",
)
_LOG_FIELDS = (
    "id",
    "organization_id",
    "occurred_at",
    "token_prefix",
    "method",
    "path",
    "status_code",
    "scim_type",
    "request_id",
    "user_agent",
)


@dataclass
class ProcessResult:
    events: int = 0
    requests: int = 0
    batches: int = 0
    more: bool = False  # stopped on the time budget with rows still pending
    last_event_id: int = 0  # the highest id claimed, where the next batch continues
    last_request_id: int = 0

    def __iadd__(self, other: ProcessResult) -> ProcessResult:
        self.events += other.events
        self.requests += other.requests
        self.batches += other.batches
        return self


@dataclass
class _Delta:
    counts: Counter = field(default_factory=Counter)
    errors_by_type: Counter = field(default_factory=Counter)


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _claim(model, field_names: tuple[str, ...], batch_size: int, after_id: int | None) -> list[tuple]:
    """Lock up to ``batch_size`` unprocessed rows with ids above ``after_id``, lowest first,
    skipping rows another worker holds (PostgreSQL). SQLite has no row locks; its IMMEDIATE
    transactions serialise. ``after_id=None`` claims nothing (that table is drained)."""
    if after_id is None:
        return []
    rows = model.objects.filter(processed_at__isnull=True)
    if after_id:
        # Keyset continuation: without it every batch would wade again through the index
        # entries of the rows already processed (dead until vacuum), which made a 200,000-row
        # drain quadratic.
        rows = rows.filter(id__gt=after_id)
    rows = (
        rows.order_by("id")
        .select_for_update(skip_locked=connection.features.has_select_for_update_skip_locked)
        .values_list(*field_names)
    )
    return list(rows[:batch_size])


def audit_batch_process(
    *, batch_size: int = BATCH_SIZE, after_event_id: int | None = 0, after_request_id: int | None = 0
) -> ProcessResult:
    """Claim, enrich and roll up one batch of events and one of request-log rows, atomically."""
    now = timezone.now()
    with atomic():
        events = _claim(AuditEvent, _EVENT_FIELDS, batch_size, after_event_id)
        logs = _claim(ScimRequestLog, _LOG_FIELDS, batch_size, after_request_id)
        if not events and not logs:
            return ProcessResult()
        deltas: dict[tuple[int, datetime], _Delta] = defaultdict(_Delta)

        event_updates = []
        for (
            pk,
            org_id,
            occurred_at,
            actor_type,
            actor_label,
            action,
            target,
            before,
            after,
            outcome,
            code,
            ua,
        ) in events:
            summary = event_summary(
                actor_type=actor_type,
                actor_label=actor_label,
                user_agent=ua,
                action=action,
                target_label=target,
                before=before,
                after=after,
                outcome=outcome,
                status_code=code,
            )
            event_updates.append((pk, summary))
            registered = action_find(action)
            counter = registered.counter if registered else ""
            if counter and org_id is not None and outcome == Outcome.SUCCESS:
                deltas[(org_id, _hour(occurred_at))].counts[counter] += 1

        caused = _events_per_request({row[8] for row in logs if row[8]})
        log_updates = []
        for pk, org_id, occurred_at, prefix, method, path, code, scim_type, request_id, ua in logs:
            idp = idp_from_user_agent(ua)
            count = caused.get(request_id, 0) if request_id else 0
            summary = request_summary(
                idp=idp,
                token_prefix=prefix,
                method=method,
                path=path,
                status_code=code,
                scim_type=scim_type,
                event_count=count,
            )
            log_updates.append((pk, idp, summary, count))
            if org_id is not None:
                delta = deltas[(org_id, _hour(occurred_at))]
                delta.counts["requests"] += 1
                if code >= 400:
                    delta.counts["errors"] += 1
                    delta.errors_by_type[scim_type or str(code)] += 1

        audit_events_mark_processed(event_updates, now)
        request_logs_mark_processed(log_updates, now)
        _apply_rollups(deltas)
    return ProcessResult(
        events=len(events),
        requests=len(logs),
        batches=1,
        last_event_id=events[-1][0] if events else 0,
        last_request_id=logs[-1][0] if logs else 0,
    )


def _events_per_request(request_ids: set[str]) -> dict[str, int]:
    if not request_ids:
        return {}
    rows = (
        AuditEvent.objects.filter(request_id__in=request_ids)
        .order_by()
        .values_list("request_id")
        .annotate(n=Count("id"))
    )
    return dict(rows)


def _apply_rollups(deltas: dict[tuple[int, datetime], _Delta]) -> None:
    """Add the batch's counts to the (organization, hour) rows, creating them if needed.

    Rows are created with ON CONFLICT DO NOTHING, then locked and updated in one sorted
    order, so concurrent workers serialise per row instead of deadlocking or losing counts.
    """
    keys = sorted(k for k, d in deltas.items() if d.counts or d.errors_by_type)
    if not keys:
        return
    AuditHourlyRollup.objects.bulk_create(
        [AuditHourlyRollup(organization_id=org_id, hour=hour) for org_id, hour in keys],
        ignore_conflicts=True,
    )
    match = Q()
    for org_id, hour in keys:
        match |= Q(organization_id=org_id, hour=hour)
    rows = list(AuditHourlyRollup.objects.select_for_update().filter(match).order_by("organization_id", "hour"))
    for row in rows:
        delta = deltas[(row.organization_id, _hour(row.hour))]
        for name, value in delta.counts.items():
            setattr(row, name, getattr(row, name) + value)
        if delta.errors_by_type:
            merged = Counter(row.errors_by_type or {})
            merged.update(delta.errors_by_type)
            row.errors_by_type = dict(sorted(merged.items()))
    AuditHourlyRollup.objects.bulk_update(rows, [*ROLLUP_COUNTERS, "errors_by_type"])


def audit_backlog_process(*, batch_size: int = BATCH_SIZE, time_budget: float | None = None) -> ProcessResult:
    """Process batches until nothing is left to claim (or ``time_budget`` seconds passed).

    Each table is read forward from the last id claimed; a short batch means that table is
    drained, or that the rest is held by another worker right now. A row committed later
    with a lower id (a slow transaction) is left for the next run, which its own commit
    enqueues, or for the sweep.
    """
    total = ProcessResult()
    deadline = time.monotonic() + time_budget if time_budget else None
    after_event: int | None = 0
    after_request: int | None = 0
    while True:
        result = audit_batch_process(batch_size=batch_size, after_event_id=after_event, after_request_id=after_request)
        total += result
        if after_event is not None:
            after_event = result.last_event_id if result.events == batch_size else None
        if after_request is not None:
            after_request = result.last_request_id if result.requests == batch_size else None
        if after_event is None and after_request is None:
            return total
        if deadline is not None and time.monotonic() >= deadline:
            total.more = True
            return total


def audit_pending_counts() -> dict[str, int]:
    return {
        "events": AuditEvent.objects.filter(processed_at__isnull=True).count(),
        "requests": ScimRequestLog.objects.filter(processed_at__isnull=True).count(),
    }


def audit_backlog_sweep() -> ProcessResult:
    """The beat's safety net: drain what on-commit enqueueing missed, restart stalled exports."""
    result = audit_backlog_process(time_budget=TASK_TIME_BUDGET_SECONDS)
    export_jobs_resume()
    return result
