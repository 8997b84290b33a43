"""Processing in-process: summaries, IdP names, request ↔ event correlation, hourly roll-ups,
idempotence, enqueueing (eager, broker down, circuit breaker) and retention."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from admincenter import services
from admincenter.audit import enqueue, processing, retention, summaries
from admincenter.idp import idp_from_user_agent
from admincenter.models import (
    AuditEvent,
    AuditExport,
    AuditExportStatus,
    AuditHourlyRollup,
    Outcome,
    ScimRequestLog,
)
from admincenter.services import Actor
from tests.admincenter.audit_support import (  # noqa: F401 (fixtures)
    broker,
    bulk_events,
    bulk_requests,
    fixture_catalogue_kept,
    fixture_eager_celery,
    fixture_fresh_breaker,
    fixture_private_redis,
    free_port,
)
from tests.factories import OrganizationFactory

OPERATOR = Actor.operator("tests")
PINGONE_UA = "PingOne-SCIM/2.1"
HOUR = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


class _Token:
    pk = 7
    label = "PingOne prod"
    token_prefix = "optiid_scim_Ab12Cd34"


def scim_actor(request_id: str = "req-1", user_agent: str = PINGONE_UA) -> Actor:
    return Actor.scim(_Token()).with_request(request_id=request_id, ip="198.51.100.1", user_agent=user_agent)


@pytest.mark.parametrize(
    ("user_agent", "idp"),
    [
        ("PingOne-SCIM/2.1", "PingOne"),
        ("Ping Identity SCIM Connector", "PingOne"),
        ("Microsoft.Azure.AD.Provisioning/1.0", "Microsoft Entra ID"),
        ("Azure AD SCIM Client", "Microsoft Entra ID"),
        ("AAD-Provisioning", "Microsoft Entra ID"),
        ("Okta SCIM Client 1.0.0", "Okta"),
        ("okta-scim/2", "Okta"),
        ("curl/8.5.0", "unknown"),
        ("Saadia's script", "unknown"),  # "aad" inside a word is not Entra
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_idp_is_recognised_from_the_user_agent(user_agent, idp):
    assert idp_from_user_agent(user_agent) == idp


@pytest.mark.parametrize(
    ("kwargs", "summary"),
    [
        (
            {"action": "group.member.add", "target_label": "Sales", "after": {"members": ["a", "b", "c"]}},
            "PingOne added 3 members to Sales",
        ),
        (
            {"action": "group.member.remove", "target_label": "Sales", "before": {"members": ["a"]}},
            "PingOne removed 1 member from Sales",
        ),
        ({"action": "user.create", "target_label": "ann@acme.test"}, "PingOne created user ann@acme.test"),
        ({"action": "user.deactivate", "target_label": "ann@acme.test"}, "PingOne deactivated ann@acme.test"),
        (
            {
                "action": "group.rename",
                "target_label": "Revenue",
                "before": {"name": "Sales"},
                "after": {"name": "Revenue"},
            },
            "PingOne renamed group Sales to Revenue",
        ),
        (
            {"action": "user.create", "target_label": "x@acme.test", "outcome": Outcome.FAILED, "status_code": 409},
            "PingOne tried to create user x@acme.test (failed, 409)",
        ),
        ({"action": "something.new", "target_label": "thing"}, "PingOne: something.new thing"),
        (
            {
                "action": "group.member.add",
                "target_label": "Sales",
                "user_agent": "curl/8",
                "after": {"members": ["a"]},
            },
            "PingOne prod (optiid_scim_Ab12Cd34) added 1 member to Sales",
        ),
        (
            {"action": "group.member.add", "target_label": "Sales", "after": {"members": "not-a-list"}},
            "PingOne added 1 member to Sales",
        ),
    ],
)
def test_scim_event_summaries_name_the_idp_and_say_what_happened(kwargs, summary):
    values = {
        "actor_type": "scim_token",
        "actor_label": "PingOne prod (optiid_scim_Ab12Cd34)",
        "user_agent": PINGONE_UA,
        "before": {},
        "after": {},
        "outcome": Outcome.SUCCESS,
        **kwargs,
    }
    assert summaries.event_summary(**values) == summary


def test_summaries_of_other_actors():
    common = {"user_agent": "", "before": {}, "after": {}, "outcome": Outcome.SUCCESS, "target_label": "Sales"}
    assert (
        summaries.event_summary(actor_type="admin_user", actor_label="ann@acme.test", action="group.create", **common)
        == "ann@acme.test created group Sales"
    )
    assert (
        summaries.event_summary(actor_type="operator", actor_label="manage.py audit", action="group.delete", **common)
        == "Operator (manage.py audit) deleted group Sales"
    )
    assert summaries.event_summary(
        actor_type="jit_login",
        actor_label="jo@acme.test",
        action="login.jit_refused",
        **{**common, "after": {"reason": "Domain not served."}, "outcome": Outcome.DENIED},
    ) == ("jo@acme.test tried to sign in (denied)")
    assert summaries.event_summary(
        actor_type="scim_token", actor_label="x", action="user.create", **{**common, "target_label": "y" * 600}
    ) == ("x created user " + "y" * 485)


def test_processing_enriches_correlates_and_rolls_up(organization):
    sales = services.group_create(organization=organization, name="Sales", actor=OPERATOR)
    users = [services.user_create(organization=organization, email=f"u{i}@acme.test", actor=OPERATOR) for i in range(3)]
    actor = scim_actor("req-patch")
    services.group_members_add(organization=organization, group=sales, user_ids=[u.pk for u in users], actor=actor)
    services.user_set_active(organization=organization, user=users[0], active=False, actor=actor)
    log = dict(method="PATCH", path="/api/scim/v2/Groups/x", token_prefix="optiid_scim_Ab12Cd34", user_agent=PINGONE_UA)
    ok = ScimRequestLog.objects.create(organization=organization, status_code=200, request_id="req-patch", **log)
    conflict = ScimRequestLog.objects.create(
        organization=organization, status_code=409, scim_type="uniqueness", request_id="req-409", **log
    )
    ScimRequestLog.objects.create(organization=organization, status_code=401, request_id="req-401", **log)
    anonymous = ScimRequestLog.objects.create(organization=None, status_code=401, method="GET", path="/Users")

    result = processing.audit_backlog_process()

    assert (result.events, result.requests) == (AuditEvent.objects.count(), 4)
    assert not AuditEvent.objects.filter(processed_at__isnull=True).exists()
    added = AuditEvent.objects.get(action="group.member.add", target_label="Sales")
    assert added.summary == "PingOne added 3 members to Sales"
    ok.refresh_from_db()
    conflict.refresh_from_db()
    anonymous.refresh_from_db()
    assert (ok.idp, ok.event_count, ok.summary) == (
        "PingOne",
        2,
        "PingOne PATCH /api/scim/v2/Groups/x → 200, 2 changes",
    )
    assert (conflict.event_count, conflict.summary) == (0, "PingOne PATCH /api/scim/v2/Groups/x → 409 uniqueness")
    assert (anonymous.idp, anonymous.processed_at is not None) == ("unknown", True)
    [rollup] = AuditHourlyRollup.objects.filter(organization=organization)
    assert rollup.hour == timezone.now().replace(minute=0, second=0, microsecond=0)
    assert (rollup.requests, rollup.errors, rollup.errors_by_type) == (3, 2, {"401": 1, "uniqueness": 1})
    assert (rollup.users_created, rollup.users_updated, rollup.users_deprovisioned) == (4, 0, 1)  # 3 + the admin
    assert (rollup.groups_created, rollup.groups_updated, rollup.groups_deleted) == (1, 2, 0)  # + admins group


def test_a_row_processed_twice_counts_once(organization):
    bulk_events(organization, 10, action="user.create", when=HOUR)
    bulk_requests(organization, 5, status_code=500, when=HOUR)
    processing.audit_backlog_process()
    before = AuditHourlyRollup.objects.get(organization=organization, hour=HOUR)

    again = processing.audit_backlog_process()
    batch = processing.audit_batch_process()

    assert (again.events, again.requests, batch.events, batch.requests) == (0, 0, 0, 0)
    after = AuditHourlyRollup.objects.get(organization=organization, hour=HOUR)
    assert (after.users_created, after.requests, after.errors, after.errors_by_type) == (10, 5, 5, {"500": 5})
    assert (before.users_created, before.requests) == (after.users_created, after.requests)


def test_roll_ups_are_kept_per_organization_and_hour_across_batches(organization):
    other = OrganizationFactory()
    AuditEvent.objects.all().update(processed_at=timezone.now())
    bulk_events(organization, 1500, action="user.create", when=HOUR + timedelta(minutes=59))
    bulk_events(organization, 700, action="group.delete", when=HOUR + timedelta(hours=1, minutes=1))
    bulk_events(other, 300, action="user.delete", when=HOUR)
    bulk_events(other, 20, action="user.delete", when=HOUR, actor_type="admin_user")
    AuditEvent.objects.filter(organization=other, actor_type="admin_user").update(outcome=Outcome.DENIED)
    bulk_requests(organization, 1200, when=HOUR)

    result = processing.audit_backlog_process(batch_size=1000)

    assert (result.events, result.requests, result.batches) == (2520, 1200, 3)
    rollups = {
        (r.organization_id, r.hour): (r.users_created, r.users_deprovisioned, r.groups_deleted, r.requests)
        for r in AuditHourlyRollup.objects.all()
    }
    assert rollups == {
        (organization.pk, HOUR): (1500, 0, 0, 1200),
        (organization.pk, HOUR + timedelta(hours=1)): (0, 0, 700, 0),
        (other.pk, HOUR): (0, 300, 0, 0),  # denied deletions are not counted
    }


def test_processing_stops_on_its_time_budget_and_says_more_is_pending(organization):
    bulk_events(organization, 30)
    result = processing.audit_backlog_process(batch_size=10, time_budget=1e-9)
    assert (result.events, result.more) == (10, True)
    assert processing.audit_pending_counts()["events"] > 0


def test_in_eager_mode_the_rows_are_processed_right_after_commit(db, eager_celery, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        org = services.organization_create(name="Initech", slug="initech", actor=OPERATOR)
        group = services.group_create(organization=org, name="Sales", actor=OPERATOR)
    assert len(callbacks) == 1
    event = AuditEvent.objects.get(action="group.create", target_id=str(group.pk))
    assert event.processed_at is not None
    assert event.summary == "Operator (tests) created group Sales"
    assert AuditHourlyRollup.objects.get(organization=org).groups_created == 1


def test_an_eager_processing_error_never_fails_the_request(
    db, eager_celery, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def boom(**kwargs):
        raise RuntimeError("processing bug")

    monkeypatch.setattr(processing, "audit_backlog_process", boom)
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        services.organization_create(name="Initech", slug="initech", actor=OPERATOR)
    assert AuditEvent.objects.get(action="organization.create").processed_at is None
    assert "rows stay pending" in caplog.text


def _closed_port_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_changes_succeed_fast_and_stay_pending(catalogue_kept, caplog, monkeypatch):
    # Every commit tries to publish (no coalescing, in this process or across processes),
    # so the breaker is what keeps them fast.
    monkeypatch.setattr(enqueue, "ENQUEUE_COALESCE_SECONDS", 0)
    monkeypatch.setattr(enqueue.coalescer, "claim", lambda: True)
    org = services.organization_create(name="Initech", slug="initech", actor=OPERATOR)
    timings = []
    with broker(_closed_port_url()), caplog.at_level(logging.WARNING, logger="admincenter.audit.enqueue"):
        for i in range(20):
            started = time.monotonic()
            services.group_create(organization=org, name=f"G{i}", actor=OPERATOR)  # commits: on_commit runs
            timings.append(time.monotonic() - started)

    assert max(timings) < 0.5, timings
    assert AuditEvent.objects.filter(action="group.create", processed_at__isnull=True).count() == 20
    warnings = [r for r in caplog.records if "broker unreachable" in r.getMessage()]
    assert len(warnings) == 1  # logged once, not per request
    assert enqueue.breaker.skipped == 19  # the breaker skipped the rest without trying


def test_the_breaker_retries_after_its_backoff_and_logs_recovery(private_redis, monkeypatch, caplog):
    monkeypatch.setattr(enqueue, "ENQUEUE_BACKOFF_SECONDS", 0.2)
    with broker(private_redis.url, queue="audit-breaker-test"), caplog.at_level(logging.WARNING):
        assert enqueue.enqueue_processing() is False  # Redis not started yet
        assert enqueue.enqueue_processing() is False  # skipped by the open breaker
        private_redis.start()
        time.sleep(0.25)
        assert enqueue.enqueue_processing() is True
        assert enqueue.enqueue_processing() is True
    messages = [r.getMessage() for r in caplog.records]
    assert sum("broker unreachable" in m for m in messages) == 1
    assert sum("reachable again (1 enqueues were skipped" in m for m in messages) == 1


def test_retention_deletes_old_processed_rows_and_keeps_roll_ups_and_pending_rows(organization, settings):
    settings.AUDIT_REQUEST_LOG_RETENTION_DAYS = 30
    settings.AUDIT_EVENT_RETENTION_DAYS = 365
    now = timezone.now()
    bulk_events(organization, 5, action="user.create", when=now - timedelta(days=400))
    bulk_events(organization, 3, action="user.create", when=now - timedelta(days=100))
    bulk_requests(organization, 4, when=now - timedelta(days=31))
    bulk_requests(organization, 2, when=now - timedelta(days=29))
    processing.audit_backlog_process()
    bulk_events(organization, 2, action="user.create", when=now - timedelta(days=500))  # never processed
    rollup_totals = sorted(AuditHourlyRollup.objects.values_list("users_created", "requests"))
    events_before = AuditEvent.objects.count()

    dry = retention.audit_retention_purge(dry_run=True)
    assert (dry.events, dry.requests, dry.pending_events_kept) == (5, 4, 2)
    assert AuditEvent.objects.count() == events_before

    result = retention.audit_retention_purge(actor=OPERATOR)

    assert (result.events, result.requests, result.pending_events_kept) == (5, 4, 2)
    assert AuditEvent.objects.filter(occurred_at__lt=now - timedelta(days=365)).count() == 2  # the pending ones
    assert ScimRequestLog.objects.count() == 2
    assert sorted(AuditHourlyRollup.objects.values_list("users_created", "requests")) == rollup_totals
    purge = AuditEvent.objects.get(action="audit.purge")
    assert (purge.organization, purge.actor_type, purge.after["events"], purge.after["requests"]) == (
        None,
        "operator",
        5,
        4,
    )


@override_settings(AUDIT_EVENT_RETENTION_DAYS=1)
def test_nothing_to_purge_records_nothing(organization):
    result = retention.audit_retention_purge(actor=OPERATOR)
    assert (result.events, result.requests) == (0, 0)
    assert not AuditEvent.objects.filter(action="audit.purge").exists()


def test_the_sweep_drains_the_backlog_and_requeues_exports_nobody_started(organization, monkeypatch):
    bulk_events(organization, 25)
    stale = AuditExport.objects.create(organization=organization, created_at=timezone.now() - timedelta(minutes=5))
    fresh = AuditExport.objects.create(organization=organization)
    stalled = AuditExport.objects.create(
        organization=organization, status=AuditExportStatus.RUNNING, updated_at=timezone.now() - timedelta(hours=1)
    )
    sent = []
    monkeypatch.setattr(enqueue, "enqueue_export", sent.append)

    result = processing.audit_backlog_sweep()

    assert result.events >= 25 and processing.audit_pending_counts() == {"events": 0, "requests": 0}
    assert sent == [stale.pk]
    assert AuditExport.objects.get(pk=fresh.pk).status == AuditExportStatus.PENDING
    assert AuditExport.objects.get(pk=stalled.pk).status == AuditExportStatus.FAILED


def test_tasks_are_thin_and_registered_under_the_beat_names(settings):
    from admincenter import tasks
    from optiid.celery import app

    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert names == {"admincenter.audit.sweep", "admincenter.audit.retention"}
    for name in (*names, "admincenter.audit.process", "admincenter.audit.export"):
        assert name in app.tasks
    assert tasks.process_audit_backlog.name == "admincenter.audit.process"
