"""Readiness checks shared by ``/readyz`` and ``manage.py doctor``: plain functions that each
return one named ``CheckResult`` and never raise.

Each check opens its own short-lived connection with a short timeout, so a load balancer's
probe never waits on a dead server and never reuses (or poisons) a request's connection. A
reason is the exception's class and first line only: a URL with a password never reaches a
probe's body. ``doctor`` adds the operator warnings (``config_warnings``), which read across
organizations on purpose: the backlog and the expiring tokens are the deployment's, not a tenant's.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import timedelta

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import ConnectionHandler
from django.utils import timezone

from admincenter.models import AuditEvent, ScimRequestLog, ScimToken

OK, WARN, ERROR = "ok", "warn", "error"
DB_CONNECT_TIMEOUT_SECONDS = 2
REDIS_TIMEOUT_SECONDS = 1
TOKEN_EXPIRY_WARNING = timedelta(days=7)


@dataclass(frozen=True)
class CheckResult:
    name: str
    state: str  # OK, WARN or ERROR
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.state == ERROR


def _reason(exc: BaseException) -> str:
    first_line = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__


def _fresh_connection(alias: str):
    """A new connection for ``alias`` from the settings as they are now, with a connect timeout."""
    conf = copy.deepcopy(settings.DATABASES[alias])
    if conf.get("ENGINE", "").endswith(("postgresql", "postgis")):
        conf.setdefault("OPTIONS", {})["connect_timeout"] = DB_CONNECT_TIMEOUT_SECONDS
    return ConnectionHandler({alias: conf}).create_connection(alias)


def database_check(alias: str = DEFAULT_DB_ALIAS) -> CheckResult:
    connection = _fresh_connection(alias)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"; the reason says which
        return CheckResult("database", ERROR, _reason(exc))
    finally:
        connection.close()
    return CheckResult("database", OK, connection.vendor)


def migrations_check(alias: str = DEFAULT_DB_ALIAS) -> CheckResult:
    connection = _fresh_connection(alias)
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:  # the database check names the outage; this says migrations are unknown
        return CheckResult("migrations", ERROR, _reason(exc))
    finally:
        connection.close()
    if plan:
        first = plan[0][0]
        return CheckResult("migrations", ERROR, f"{len(plan)} unapplied, first {first.app_label}.{first.name}")
    return CheckResult("migrations", OK, "all applied")


def _redis_ping(name: str, url: str) -> CheckResult:
    if not url:
        return CheckResult(name, OK, "not configured")
    client = redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        return CheckResult(name, ERROR, _reason(exc))
    finally:
        client.close()
    return CheckResult(name, OK, "reachable")


def redis_check() -> CheckResult:
    return _redis_ping("redis", settings.REDIS_URL)


def broker_check() -> CheckResult:
    if not settings.CELERY_BROKER_URL:
        return CheckResult("broker", OK, "not configured: tasks run in-process")
    return _redis_ping("broker", settings.CELERY_BROKER_URL)


def readiness_checks() -> list[CheckResult]:
    """What ``/readyz`` answers; a database outage skips the migrations check (same cause)."""
    database = database_check()
    migrations = migrations_check() if not database.failed else CheckResult("migrations", ERROR, "database unreachable")
    return [database, migrations, redis_check(), broker_check()]


# --- doctor's operator warnings ---------------------------------------------------------------


def worker_check(*, broker: CheckResult) -> CheckResult:
    """Asks the workers through the broker; a broker that did not answer the ping is not asked again."""
    if not settings.CELERY_BROKER_URL:
        return CheckResult("worker", OK, "no broker: tasks run in-process")
    if broker.failed:
        return CheckResult("worker", WARN, "not asked: the broker is unreachable")
    from celery import current_app

    try:
        replies = current_app.control.inspect(timeout=1).ping() or {}
    except Exception as exc:  # kombu raises transport-specific errors when the broker is down
        return CheckResult("worker", WARN, f"cannot ask workers: {_reason(exc)}")
    if not replies:
        return CheckResult("worker", WARN, "no Celery worker answered within 1 s: run 'make worker'")
    return CheckResult("worker", OK, f"{len(replies)} worker(s) answered")


def backlog_check(*, minutes: int) -> CheckResult:
    oldest = [
        # The pending partial index is on (processed_at, id), and ids grow with time.
        model.objects.filter(processed_at=None).order_by("id").values_list("occurred_at", flat=True).first()
        for model in (AuditEvent, ScimRequestLog)
    ]
    oldest = [value for value in oldest if value is not None]
    if not oldest:
        return CheckResult("audit_backlog", OK, "nothing pending")
    age = timezone.now() - min(oldest)
    age_minutes = int(age.total_seconds() // 60)
    if age > timedelta(minutes=minutes):
        detail = f"oldest pending row is {age_minutes} min old (limit {minutes}): is a worker running?"
        return CheckResult("audit_backlog", WARN, detail)
    return CheckResult("audit_backlog", OK, f"oldest pending row is {age_minutes} min old")


def token_expiry_check() -> CheckResult:
    now = timezone.now()
    expiring = ScimToken.objects.filter(
        revoked_at=None, expires_at__gt=now, expires_at__lte=now + TOKEN_EXPIRY_WARNING
    ).select_related("organization")
    names = sorted(f"{token.organization.slug}/{token.label} ({token.token_prefix}…)" for token in expiring)
    if names:
        return CheckResult("scim_tokens", WARN, f"expiring within 7 days: {', '.join(names)}")
    return CheckResult("scim_tokens", OK, "none expiring within 7 days")


def config_warnings() -> list[CheckResult]:
    results = [
        CheckResult("debug", WARN, "DJANGO_DEBUG is on") if settings.DEBUG else CheckResult("debug", OK, "off"),
        CheckResult("secret_key", WARN, "DJANGO_SECRET_KEY is unset: the development key is in use")
        # optiid/settings.py's development key carries the prefix Django's own deploy check looks for.
        if settings.SECRET_KEY.startswith("django-insecure-")
        else CheckResult("secret_key", OK, "set"),
    ]
    for name in ("SCIM_BASE_URL", "PUBLIC_BASE_URL"):
        value = getattr(settings, name)
        if not value:
            results.append(CheckResult(name.lower(), OK, "unset: derived from each request"))
        elif not value.startswith("https://"):
            results.append(CheckResult(name.lower(), WARN, f"{name} is not https: {value}"))
        else:
            results.append(CheckResult(name.lower(), OK, value))
    return results
