"""The pipeline with real Celery worker processes on PostgreSQL (+ Redis).

- End to end: SCIM requests → rows → a worker started here (broker = REDIS_URL, the CI Redis)
  → summaries, correlation and roll-ups.
- Broker down: a Redis started and stopped by the test; SCIM requests still succeed at normal
  speed, rows stay pending, and once Redis is back the sweep processes each of them once.
- Two workers draining one backlog at once never double-count.

Every test routes its tasks to a private queue, so messages other tests left in the shared
Redis (their on-commit enqueues, with no worker around) never reach these workers.
"""

from __future__ import annotations

import ast
import json
import logging
import re
import statistics
import time
import uuid

import pytest
from django.conf import settings
from django.db.models import Sum
from django.test import Client

from admincenter.audit import enqueue, processing
from admincenter.audit.tasks import process_audit_backlog, sweep_audit_backlog
from admincenter.models import AuditEvent, AuditHourlyRollup, Outcome, ScimRequestLog
from tests.admincenter.audit_support import (  # noqa: F401 (fixtures)
    Worker,
    broker,
    bulk_requests,
    fixture_catalogue_kept,
    fixture_fresh_breaker,
    fixture_private_redis,
    insert_events_sql,
    wait_until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OKTA_UA = "Okta SCIM Client 1.0.0"


@pytest.fixture
def queue():
    return f"audit-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def workers(tmp_path):
    started: list[Worker] = []

    def start(broker_url: str, queue: str, count: int = 1) -> list[Worker]:
        new = [Worker(broker_url=broker_url, queue=queue, logdir=tmp_path, name=f"w{i + 1}") for i in range(count)]
        started.extend(new)
        for worker in new:
            worker.wait_ready()
        return new

    yield start
    for worker in started:
        worker.stop()


class Scim:
    def __init__(self, token: str):
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_USER_AGENT=OKTA_UA)
        self.timings: list[float] = []

    def call(self, method: str, path: str, body: dict | None = None, **extra):
        started = time.monotonic()
        response = getattr(self.client, method)(
            f"/api/scim/v2{path}",
            data=json.dumps(body) if body is not None else None,
            content_type="application/scim+json",
            **extra,
        )
        self.timings.append(time.monotonic() - started)
        return response

    def create_user(self, email: str):
        return self.call("post", "/Users", {"schemas": [USER_URN], "userName": email})


def _totals(organization) -> dict[str, int]:
    fields = ("requests", "errors", "users_created", "users_updated", "groups_created", "groups_updated")
    sums = AuditHourlyRollup.objects.filter(organization=organization).aggregate(**{f: Sum(f) for f in fields})
    errors: dict[str, int] = {}
    for by_type in AuditHourlyRollup.objects.filter(organization=organization).values_list("errors_by_type", flat=True):
        for key, value in by_type.items():
            errors[key] = errors.get(key, 0) + value
    return {**{k: v or 0 for k, v in sums.items()}, "errors_by_type": errors}


def _expected_totals(organization) -> dict[str, int]:
    """What the roll-ups must say, counted straight from the raw rows (each once)."""
    events = AuditEvent.objects.filter(organization=organization, outcome=Outcome.SUCCESS)
    logs = ScimRequestLog.objects.filter(organization=organization)
    errors: dict[str, int] = {}
    for scim_type, code in logs.filter(status_code__gte=400).values_list("scim_type", "status_code"):
        key = scim_type or str(code)
        errors[key] = errors.get(key, 0) + 1
    return {
        "requests": logs.count(),
        "errors": logs.filter(status_code__gte=400).count(),
        "users_created": events.filter(action="user.create").count(),
        "users_updated": events.filter(action__in=["user.update", "user.email.change", "user.activate"]).count(),
        "groups_created": events.filter(action="group.create").count(),
        "groups_updated": events.filter(action__in=["group.rename", "group.member.add", "group.member.remove"]).count(),
        "errors_by_type": errors,
    }


def _pending() -> int:
    counts = processing.audit_pending_counts()
    return counts["events"] + counts["requests"]


@pytest.mark.redis
def test_scim_requests_are_processed_by_a_real_worker(catalogue_kept, scim_organization, scim_token, workers, queue):
    broker_url = settings.CELERY_BROKER_URL
    [worker] = workers(broker_url, queue)
    scim = Scim(scim_token)
    with broker(broker_url, queue=queue):
        first = scim.create_user("u0@acme.test")
        assert first.status_code == 201, first.content
        ids = [first.json()["id"]] + [scim.create_user(f"u{i}@acme.test").json()["id"] for i in range(1, 5)]
        group = scim.call(
            "post",
            "/Groups",
            {"schemas": [GROUP_URN], "displayName": "Sales", "members": [{"value": i} for i in ids[:3]]},
        )
        assert group.status_code == 201, group.content
        patch = scim.call(
            "patch",
            f"/Groups/{group.json()['id']}",
            {"schemas": [PATCH_URN], "Operations": [{"op": "remove", "path": f'members[value eq "{ids[2]}"]'}]},
        )
        assert patch.status_code in (200, 204), patch.content
        assert scim.create_user("u0@acme.test").status_code == 409
        assert Client().get("/api/scim/v2/Users", HTTP_AUTHORIZATION="Bearer nope").status_code == 401

        wait_until(lambda: _pending() == 0, timeout=60, message="the worker to process every row")

    assert "admincenter.audit.process" in worker.output() and "succeeded" in worker.output()
    created = AuditEvent.objects.get(action="user.create", target_label="u1@acme.test")
    assert created.summary == "Okta created user u1@acme.test"
    assert AuditEvent.objects.get(action="group.member.add", target_label="Sales").summary == (
        "Okta added 3 members to Sales"
    )
    assert AuditEvent.objects.get(action="group.member.remove").summary == "Okta removed 1 member from Sales"
    logs = {r.request_id: r for r in ScimRequestLog.objects.all()}
    assert logs[created.request_id].event_count == 1
    assert logs[created.request_id].idp == "Okta"
    assert logs[group["X-Request-Id"]].event_count == 2  # group.create + group.member.add
    assert logs[patch["X-Request-Id"]].summary.startswith(f"Okta PATCH /api/scim/v2/Groups/{group.json()['id']} → ")
    totals = _totals(scim_organization)
    assert totals == _expected_totals(scim_organization)
    assert (totals["requests"], totals["errors"], totals["errors_by_type"]) == (8, 1, {"uniqueness": 1})
    assert (totals["users_created"], totals["groups_created"]) == (6, 1)  # five over SCIM + the first admin


def test_with_the_broker_down_scim_keeps_its_speed_and_the_sweep_catches_up(
    catalogue_kept, scim_organization, scim_token, private_redis, workers, queue, caplog, monkeypatch
):
    # Every request tries to publish (no coalescing, in this process or across processes):
    # the breaker is what keeps them fast.
    monkeypatch.setattr(enqueue, "ENQUEUE_COALESCE_SECONDS", 0)
    monkeypatch.setattr(enqueue.coalescer, "claim", lambda: True)
    private_redis.start()
    [worker] = workers(private_redis.url, queue)
    scim = Scim(scim_token)
    with broker(private_redis.url, queue=queue):
        assert scim.create_user("warmup@acme.test").status_code == 201
        for i in range(10):
            assert scim.create_user(f"up{i}@acme.test").status_code == 201
        wait_until(lambda: _pending() == 0, timeout=60, message="the backlog before Redis stops")
        normal = sorted(scim.timings[1:])

        private_redis.stop()
        scim.timings.clear()
        with caplog.at_level(logging.WARNING, logger="admincenter.audit.enqueue"):
            for i in range(30):
                assert scim.create_user(f"down{i}@acme.test").status_code == 201
        down = sorted(scim.timings)
        pending_while_down = processing.audit_pending_counts()

        private_redis.start()  # the worker reconnects by itself
        # What beat sends every minute; the open breaker in this process does not apply to beat.
        sweep_audit_backlog.apply_async(queue=queue)
        wait_until(lambda: _pending() == 0, timeout=90, message="the sweep to drain the backlog")

    assert pending_while_down["requests"] == 30 and pending_while_down["events"] >= 30
    # Normal latency: the same median, and no request waits on the broker.
    assert statistics.median(down) < statistics.median(normal) * 2 + 0.05, (normal, down)
    assert max(down) < max(normal) + 0.5, (normal, down)
    assert sum("broker unreachable" in r.getMessage() for r in caplog.records) == 1
    assert "admincenter.audit.sweep" in worker.output()
    assert (
        AuditEvent.objects.filter(action="user.create", target_label__startswith="down").exclude(summary="").count()
        == 30
    )
    totals = _totals(scim_organization)
    assert totals == _expected_totals(scim_organization)
    assert totals["requests"] == 41 and totals["users_created"] == 42  # none lost, none counted twice


_RESULT = re.compile(r"admincenter\.audit\.process\[[^\]]+\] succeeded in [0-9.]+s: (\{.*\})")


def _processed_by(worker: Worker) -> tuple[int, int]:
    events = requests = 0
    for match in _RESULT.finditer(worker.output()):
        result = ast.literal_eval(match.group(1))
        events += result["events"]
        requests += result["requests"]
    return events, requests


@pytest.mark.redis
def test_two_workers_draining_one_backlog_never_double_count(catalogue_kept, organization, workers, queue):
    broker_url = settings.CELERY_BROKER_URL
    processing.audit_backlog_process()  # the fixture's own events
    insert_events_sql(organization, 30_000, when=AuditEvent.objects.first().occurred_at)
    bulk_requests(organization, 6_000)
    w1, w2 = workers(broker_url, queue, count=2)

    with broker(broker_url, queue=queue):
        process_audit_backlog.apply_async(queue=queue)
        process_audit_backlog.apply_async(queue=queue)
        wait_until(lambda: _pending() == 0, timeout=120, message="both workers to drain the backlog")
        wait_until(
            lambda: sum(_processed_by(w1)) + sum(_processed_by(w2)) == 36_000,
            timeout=30,
            message="both task results in the worker logs",
        )

    e1, r1 = _processed_by(w1)
    e2, r2 = _processed_by(w2)
    assert (e1 + e2, r1 + r2) == (30_000, 6_000)
    assert e1 > 0 and e2 > 0, "both workers took part"
    totals = _totals(organization)
    assert (totals["users_updated"], totals["requests"]) == (30_000, 6_000)
    assert totals == _expected_totals(organization)
