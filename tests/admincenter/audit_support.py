"""Helpers for the audit-pipeline tests (tests/admincenter/test_audit_*.py): Celery mode
switches, a private redis-server, real worker processes and bulk row builders.

Fixtures are defined as ``fixture_<name>`` with ``name=<name>`` so that test modules can
import them without the import being shadowed by the test parameter of the same name."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import pools as kombu_pools

from admincenter.audit import enqueue
from admincenter.catalogue import load_catalogue
from admincenter.models import AuditEvent, Product, Role, ScimRequestLog
from optiid.celery import app as celery_app

BASE_DIR = Path(settings.BASE_DIR)
CELERY_BIN = str(Path(sys.executable).with_name("celery"))


@pytest.fixture(autouse=True, name="fresh_breaker")
def fixture_fresh_breaker():
    """The enqueue circuit breaker is per process: every test starts with it closed."""
    enqueue.breaker.reset()
    yield
    enqueue.breaker.reset()


@pytest.fixture(name="eager_celery")
def fixture_eager_celery():
    """Run tasks in-process whatever REDIS_URL says (the `make run` mode)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


@contextmanager
def broker(url: str, *, queue: str | None = None):
    """Point this process's Celery app at ``url`` (not eager), and publish to ``queue``."""
    conf = celery_app.conf
    saved = (conf.broker_url, conf.task_always_eager, dict(enqueue.PUBLISH_OPTIONS))
    _reset_pools()
    conf.broker_url = url
    conf.task_always_eager = False
    enqueue.PUBLISH_OPTIONS.clear()
    if queue:
        enqueue.PUBLISH_OPTIONS["queue"] = queue
    try:
        yield
    finally:
        _reset_pools()
        conf.broker_url, conf.task_always_eager = saved[0], saved[1]
        enqueue.PUBLISH_OPTIONS.clear()
        enqueue.PUBLISH_OPTIONS.update(saved[2])


def _reset_pools() -> None:
    """Forget cached broker connections so the next publish connects to the new URL."""
    with suppress(Exception):  # a pool whose broker is gone may fail to close; it is dropped anyway
        celery_app.pool.force_close_all()
    kombu_pools.reset()  # kombu keeps producer pools per URL, process-wide
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A throw-away redis-server on a free port, which a test may stop and start again."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(name="private_redis")
def fixture_private_redis(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("needs the redis-server binary to start a private Redis")
    server = RedisServer(tmp_path)
    yield server
    server.stop()


def database_url_of_tests() -> str:
    """DATABASE_URL of the database this test process uses (the test database)."""
    s = connection.settings_dict
    auth = quote(s["USER"] or "")
    if s["PASSWORD"]:
        auth += ":" + quote(s["PASSWORD"])
    host = s["HOST"] or "127.0.0.1"
    port = f":{s['PORT']}" if s["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{s['NAME']}"


def redis_url_with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


class Worker:
    """``celery -A optiid worker`` in a subprocess on the test database and ``broker_url``."""

    def __init__(self, *, broker_url: str, queue: str, logdir: Path, name: str = "w1", pool: str = "solo"):
        self.log = logdir / f"celery-{name}.log"
        env = {
            **os.environ,
            "DATABASE_URL": database_url_of_tests(),
            "CELERY_BROKER_URL": broker_url,
            "REDIS_URL": "",
            "DJANGO_CONN_MAX_AGE": "0",
            "PYTHONUNBUFFERED": "1",
        }
        self.process = subprocess.Popen(
            [
                CELERY_BIN,
                "-A",
                "optiid",
                "worker",
                f"--pool={pool}",
                "--concurrency=1",
                "-Q",
                queue,
                "-n",
                f"{name}-{uuid.uuid4().hex[:6]}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
                f"--logfile={self.log}",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited ({self.process.returncode}):\n{self.output()}")
            if " ready." in self.output():
                return
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready after {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def wait_until(predicate, *, timeout: float, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture(name="catalogue_kept")
def fixture_catalogue_kept(django_db_setup, django_db_blocker):
    """Transactional tests end with a flush that empties the product catalogue (a data
    migration); put it back so later tests still find it."""
    with django_db_blocker.unblock():
        load_catalogue(Product, Role)
    yield
    with django_db_blocker.unblock():
        load_catalogue(Product, Role)


def bulk_events(organization, count: int, *, action: str = "user.update", when=None, **fields) -> None:
    """Insert ``count`` pending events quickly (no service, no on-commit hook)."""
    when = when or timezone.now()
    rows = (
        AuditEvent(
            organization=organization,
            occurred_at=when + timedelta(microseconds=i),
            actor_type=fields.get("actor_type", "scim_token"),
            actor_label=fields.get("actor_label", "PingOne prod (optiid_scim_abcd)"),
            action=action,
            target_type="user",
            target_id=str(i),
            target_label=f"user{i}@acme.test",
            before={"given_name": "A"},
            after={"given_name": "B"},
            request_id=fields.get("request_id", f"req-{i}"),
            user_agent=fields.get("user_agent", "PingOne/1.0"),
        )
        for i in range(count)
    )
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == 5000:
            AuditEvent.objects.bulk_create(batch)
            batch = []
    if batch:
        AuditEvent.objects.bulk_create(batch)


def insert_events_sql(organization, count: int, *, when) -> None:
    """``count`` pending events in one INSERT ... SELECT (the database generates the rows),
    for the 100,000-row tests where building model instances would dominate the run time."""
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    if connection.vendor == "postgresql":
        series = "generate_series(0, %s - 1) AS seq(i)"
        source = f"FROM {series}"
        prefix = ""
        label = "'user' || i || '@acme.test'"
    else:
        prefix = "WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < %s - 1) "
        source = "FROM seq"
        label = "'user' || i || '@acme.test'"
    columns = (
        "occurred_at, organization_id, actor_type, actor_id, actor_label, action, target_type, target_id, "
        "target_label, before, after, outcome, status_code, request_id, ip, user_agent, summary, processed_at"
    )
    values = (
        f"%s, %s, 'scim_token', '7', 'PingOne prod (optiid_scim_abcd)', 'user.update', 'user', i, {label}, "
        "%s, %s, 'success', NULL, 'req-' || i, NULL, 'PingOne/1.0', '', NULL"
    )
    sql = f"INSERT INTO {table} ({columns}) {prefix}SELECT {values} {source}"
    before, after = '{"given_name": "A"}', '{"given_name": "B"}'
    params = [connection.ops.adapt_datetimefield_value(when), organization.pk, before, after]
    params = [*params, count] if connection.vendor == "postgresql" else [count, *params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def bulk_requests(organization, count: int, *, status_code: int = 200, scim_type: str = "", when=None) -> None:
    when = when or timezone.now()
    ScimRequestLog.objects.bulk_create(
        [
            ScimRequestLog(
                organization=organization,
                occurred_at=when,
                token_prefix="optiid_scim_abcd",
                method="PATCH",
                path="/api/scim/v2/Users/x",
                status_code=status_code,
                scim_type=scim_type,
                request_id=f"log-{uuid.uuid4().hex}",
                user_agent="Okta SCIM Client 1.0.0",
            )
            for _ in range(count)
        ],
        batch_size=2000,
    )
