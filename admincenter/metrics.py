"""Prometheus metrics: what the service counts while it runs, and what it reads from the
database when it is scraped (README "Metrics"; the alerts built on them are in docs/runbook.md).

Counters and the latency histogram live in this process; the edges call the small
``*_observe`` / ``*_count`` helpers, which touch memory only (no query, a few microseconds).
Under gunicorn every worker keeps its own counts, so with ``PROMETHEUS_MULTIPROC_DIR`` set
prometheus-client writes them to files in that directory and a scrape adds them up
(``exposition``). The backlog, queue and token figures are not counted but read when
Prometheus scrapes, by ``OperationsCollector`` in the process that answers the scrape only, so
they appear once whatever the number of workers.

Labels are bounded: method, a fixed list of SCIM resource types, status class, sign-in method and
outcome. The organization's slug is added only when ``METRICS_PER_ORGANIZATION`` is on.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from admincenter.models import AuditEvent, ScimRequestLog, ScimToken

logger = logging.getLogger(__name__)

SCIM_RESOURCES = ("Users", "Groups", "ServiceProviderConfig", "Schemas", "ResourceTypes")
SCIM_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")
TOKEN_EXPIRY_WINDOW = timedelta(days=7)

# Read once at import: a label set cannot change while the process runs.
PER_ORGANIZATION = settings.METRICS_PER_ORGANIZATION
_ORG = ("organization",) if PER_ORGANIZATION else ()

scim_requests = Counter(
    "optiid_scim_requests",
    "SCIM requests answered, by method, resource type and status class.",
    ["method", "resource", "status_class", *_ORG],
)
scim_request_duration = Histogram(
    "optiid_scim_request_duration_seconds",
    "Time to answer a SCIM request, by resource type.",
    ["resource"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
scim_auth_failures = Counter("optiid_scim_auth_failures", "SCIM requests refused with 401.", [*_ORG])
scim_rate_limited = Counter("optiid_scim_rate_limited", "SCIM requests refused with 429.", [*_ORG])
sign_ins = Counter("optiid_sign_ins", "Sign-ins by method (sso, password) and outcome.", ["method", "outcome", *_ORG])
database_connection_errors = Counter(
    "optiid_database_connection_errors",
    "Requests that failed on a database OperationalError or InterfaceError (connection lost, server down).",
)

SIGN_IN_OUTCOMES = ("success", "refused", "jit_refused", "failure")


def _org(organization) -> tuple:
    if not PER_ORGANIZATION:
        return ()
    return (organization.slug if organization is not None else "",)


def scim_request_observe(*, method: str, resource: str, status: int, seconds: float, organization=None) -> None:
    """Count one answered SCIM request; ``organization`` must already be loaded (no query here)."""
    resource = resource if resource in SCIM_RESOURCES else "other"
    method = method if method in SCIM_METHODS else "other"
    org = _org(organization)
    scim_requests.labels(method, resource, f"{status // 100}xx", *org).inc()
    scim_request_duration.labels(resource).observe(seconds)
    if status == 401:
        (scim_auth_failures.labels(*org) if org else scim_auth_failures).inc()
    elif status == 429:
        (scim_rate_limited.labels(*org) if org else scim_rate_limited).inc()


def sign_in_count(*, method: str, outcome: str, organization=None) -> None:
    if outcome not in SIGN_IN_OUTCOMES:
        raise ValueError(f"Unknown sign-in outcome {outcome!r}")
    sign_ins.labels(method, outcome, *_org(organization)).inc()


def database_error_count() -> None:
    database_connection_errors.inc()


# --- read at scrape time ----------------------------------------------------------------


class OperationsCollector(Collector):
    """Backlog, queue and token figures, read when Prometheus scrapes. These are deployment-wide
    operator figures (like ``audit_pending_counts`` in admincenter/audit/processing.py), so the
    queries span organizations on purpose; each is one aggregate on a partial index."""

    def collect(self):
        yield from self._backlog()
        queue = self._queue_length()
        if queue is not None:
            yield queue

    def _backlog(self):
        rows = GaugeMetricFamily(
            "optiid_audit_backlog_rows", "Audit rows not yet processed by the pipeline.", labels=["table"]
        )
        oldest = GaugeMetricFamily(
            "optiid_audit_backlog_oldest_seconds",
            "Age of the oldest audit row not yet processed (0 when none).",
            labels=["table"],
        )
        expiring = GaugeMetricFamily(
            "optiid_scim_tokens_expiring",
            f"Live SCIM tokens expiring within {TOKEN_EXPIRY_WINDOW.days} days.",
        )
        now = timezone.now()
        try:
            for table, model in (("audit_event", AuditEvent), ("scim_request_log", ScimRequestLog)):
                pending = model.objects.filter(processed_at__isnull=True).aggregate(
                    count=Count("id"), oldest=Min("occurred_at")
                )
                rows.add_metric([table], pending["count"])
                oldest.add_metric([table], (now - pending["oldest"]).total_seconds() if pending["oldest"] else 0.0)
            expiring.add_metric(
                [],
                ScimToken.objects.filter(
                    revoked_at__isnull=True, expires_at__gt=now, expires_at__lte=now + TOKEN_EXPIRY_WINDOW
                ).count(),
            )
        except DatabaseError:
            # The scrape still answers with the process counters; the missing series is the signal.
            logger.exception("Metrics: could not read the audit backlog and token expiries")
            database_error_count()
            return
        yield from (rows, oldest, expiring)

    def _queue_length(self):
        """LLEN of Celery's default queue when the broker is Redis (kombu keeps a queue as a list
        of that name); absent otherwise."""
        url = settings.CELERY_BROKER_URL
        if not url or urlsplit(url).scheme not in ("redis", "rediss"):
            return None
        queue = getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
            try:
                length = client.llen(queue)
            finally:
                client.close()
        except redis.RedisError:
            logger.warning("Metrics: could not read the length of Celery queue %r", queue, exc_info=True)
            return None
        gauge = GaugeMetricFamily("optiid_celery_queue_length", "Messages waiting in Celery's default queue.")
        gauge.add_metric([], length)
        return gauge


def exposition() -> bytes:
    """The scrape body: this process's counters (or all workers' in multiprocess mode), then
    the figures read now."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    read_now = CollectorRegistry()
    read_now.register(OperationsCollector())
    return generate_latest(counted) + generate_latest(read_now)
