"""Asking for audit processing: one Celery message per burst of commits, never a failed request.

``schedule_audit_processing`` registers one ``on_commit`` hook per transaction; the hook goes
through ``coalescer`` (at most one publish per process per ``ENQUEUE_COALESCE_SECONDS``, and per
deployment per ``ENQUEUE_DEPLOYMENT_WINDOW_SECONDS`` through a Redis key), and ``enqueue`` opens a
circuit breaker when the broker fails (logged once); the rows then wait for the beat sweep.

The boundary: tasks are named, not imported (``admincenter.audit.tasks`` imports the modules that
do the work, which call this one), so the dependency runs record -> enqueue -> Celery ->
processing. The tasks are registered when Django starts (``AdminCenterConfig.ready``).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery import current_app
from django.db import transaction
from redis.exceptions import RedisError

from admincenter.shared_redis import shared_redis

logger = logging.getLogger(__name__)

PROCESS_TASK = "admincenter.audit.process"
EXPORT_TASK = "admincenter.audit.export"
# Commits of one process within this window share one published processing task.
ENQUEUE_COALESCE_SECONDS = 0.5
# All processes share one publish per this window (whole seconds: a Redis key's expiry).
ENQUEUE_DEPLOYMENT_WINDOW_SECONDS = 1
# After a failed publish, enqueueing is skipped for this long (the sweep covers the gap).
ENQUEUE_BACKOFF_SECONDS = 30.0
# Extra ``apply_async`` options (tests route to a private queue through this).
PUBLISH_OPTIONS: dict[str, Any] = {}


def schedule_audit_processing() -> None:
    """Ask for the pending audit rows to be processed once the current transaction commits.

    Call it in the transaction that inserted ``AuditEvent`` or ``ScimRequestLog`` rows
    (``audit_record`` does). It registers at most one ``on_commit`` hook per transaction, so a
    request that writes 50 events enqueues one task; it runs no SQL. Outside a transaction
    the hook runs at once.
    """
    conn = transaction.get_connection()
    if conn.in_atomic_block and any(hook[1] is _enqueue_processing_hook for hook in conn.run_on_commit):
        return
    transaction.on_commit(_enqueue_processing_hook)


def _enqueue_processing_hook() -> None:
    coalescer.request()


class _Coalescer:
    """At most one publish per process per ``ENQUEUE_COALESCE_SECONDS`` (trailing edge).

    A busy SCIM worker commits hundreds of requests a second; one processing task drains
    them all, so publishing a message per commit only costs each request a broker round
    trip. A commit inside the window marks work as pending, and a daemon thread publishes
    once at the end of the window, so every committed row is enqueued within the window.
    Eager mode (no broker) processes at once, as before.

    ``claim`` widens the window to the whole deployment: a process publishes only if it
    claims the shared window, else it keeps its work pending and tries again at its
    trailing edge (after its own commit, so no row is left behind). Four gunicorn workers
    otherwise publish eight tasks a second, each draining a handful of rows at a batch's
    fixed cost (0.8 ms of worker CPU per row in batches of 10, 0.06 ms in batches of 500).
    """

    def __init__(self, publish, claim=lambda: True) -> None:
        self.publish = publish
        self.claim = claim
        self.lock = threading.Lock()
        self.last_publish = float("-inf")
        self.pending = False
        self.thread: threading.Thread | None = None

    def request(self) -> None:
        if _eager():
            self.publish()
            return
        now = time.monotonic()
        with self.lock:
            publish_now = now - self.last_publish >= ENQUEUE_COALESCE_SECONDS
            if publish_now:
                self.last_publish = now
            else:
                self._defer()
        if publish_now:
            self._publish_if_claimed()

    def _defer(self) -> None:  # with self.lock held
        self.pending = True
        if self.thread is None or not self.thread.is_alive():
            self.thread = threading.Thread(target=self._trailing, name="audit-enqueue", daemon=True)
            self.thread.start()

    def _publish_if_claimed(self) -> None:
        if self.claim():
            self.publish()
            return
        with self.lock:
            self._defer()

    def _trailing(self) -> None:
        while True:
            time.sleep(ENQUEUE_COALESCE_SECONDS)
            with self.lock:
                if not self.pending:
                    self.thread = None
                    return
                self.pending = False
                self.last_publish = time.monotonic()
            self._publish_if_claimed()


def _claim_deployment_window() -> bool:
    """True for the first process to ask in each ``ENQUEUE_DEPLOYMENT_WINDOW_SECONDS``
    (SET NX EX in Redis). Without Redis, or if it cannot answer, publish: the broker path
    has its own failure handling."""
    client = shared_redis()
    if client is None:
        return True
    try:
        return bool(client.set(_WINDOW_KEY, 1, nx=True, ex=ENQUEUE_DEPLOYMENT_WINDOW_SECONDS))
    except RedisError:
        return True


_WINDOW_KEY = "optiid:audit:enqueue-window"
coalescer = _Coalescer(publish=lambda: enqueue_processing(), claim=_claim_deployment_window)


def _task(name: str):
    return current_app.tasks[name]


def _eager() -> bool:
    return bool(current_app.conf.task_always_eager)


def enqueue_processing() -> bool:
    return enqueue(_task(PROCESS_TASK))


def enqueue_export(job_id: int) -> bool:
    return enqueue(_task(EXPORT_TASK), job_id)


class _Breaker:
    """Per-process memory of a broker failure: skip publishing for a while, log once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.open_until = 0.0
        self.down = False
        self.skipped = 0


breaker = _Breaker()


def enqueue(task, *args) -> bool:
    """Publish ``task`` (or run it, in eager mode); never raises. False if it was not sent."""
    eager = bool(task.app.conf.task_always_eager)
    if not eager and time.monotonic() < breaker.open_until:
        breaker.skipped += 1
        return False
    try:
        if eager:
            # Call the function directly: same in-process run as Celery's eager mode, without
            # its per-task log lines (operator commands keep a clean stderr).
            task(*args)
        else:
            task.apply_async(args=args, **PUBLISH_OPTIONS)
    except Exception:
        if eager:
            # The rows are committed and stay pending; the request must not fail for this.
            logger.exception("Audit task %s failed in-process; the rows stay pending.", task.name)
            return False
        with breaker.lock:
            breaker.open_until = time.monotonic() + ENQUEUE_BACKOFF_SECONDS
            first = not breaker.down
            breaker.down = True
        if first:
            logger.warning(
                "Celery broker unreachable: audit processing is deferred to the beat sweep; "
                "enqueueing is skipped for %ss at a time until the broker answers again.",
                int(ENQUEUE_BACKOFF_SECONDS),
                exc_info=True,
            )
        return False
    if breaker.down:
        logger.warning("Celery broker reachable again (%s enqueues were skipped meanwhile).", breaker.skipped)
        with breaker.lock:
            breaker.reset()
    return True
