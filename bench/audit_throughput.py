"""Audit pipeline throughput: real Celery workers draining N pending rows on PostgreSQL + Redis.

    DATABASE_URL=postgres://root@127.0.0.1:5432/optiid REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/audit_throughput.py [--rows 200000] [--workers 1,2] [--no-probe]

What it does:

1. Uses its own database next to DATABASE_URL's (``<name>_audit_bench``, created and migrated
   if missing), so the bench never touches real data, and a private Celery queue on the broker.
2. Inserts ``--rows`` pending rows in one INSERT ... SELECT each: 80 % audit events (a mix of
   SCIM user and group actions) and 20 % SCIM request-log rows, each log row sharing its
   request id with four events (the correlation work is real).
3. For each worker count: marks every row pending again, clears the roll-ups, starts that many
   ``celery -A optiid worker --pool=solo`` processes, sends one processing task per worker and
   times the drain until no bench row is pending. It then checks the roll-ups against the raw
   rows (nothing lost, nothing counted twice).
4. Meanwhile a probe thread sends SCIM ``POST /Users`` requests through the Django test client
   (in this process, no HTTP server) and reports their latency next to an idle baseline. When
   the SCIM API is not mounted it times ``services.user_create`` instead, and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def bench_database_url(url: str) -> str:
    parts = urlsplit(url)
    name = parts.path.lstrip("/") + "_audit_bench"
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))
    with psycopg.connect(admin.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="Pending rows to insert (default 200,000).")
    parser.add_argument("--workers", default="1,2", help="Worker counts to time, comma-separated (default 1,2).")
    parser.add_argument("--batch-size", type=int, default=None, help="Rows claimed per transaction.")
    parser.add_argument("--repeat", type=int, default=1, help="Runs per worker count; the median is reported.")
    parser.add_argument("--no-probe", action="store_true", help="Do not measure request latency meanwhile.")
    parser.add_argument("--nice", type=int, default=0, help="Run the workers at this lower CPU priority (nice -n N).")
    parser.add_argument("--json", action="store_true", help="Print the results as JSON too.")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    broker_url = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL")
    if not database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL=postgres://... (the bench measures PostgreSQL's SKIP LOCKED claiming).")
    if not broker_url:
        sys.exit("Set REDIS_URL (or CELERY_BROKER_URL): the workers need a broker.")
    bench_url = bench_database_url(database_url)
    ensure_database(bench_url)
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "optiid.settings")
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Sum

    from admincenter import services
    from admincenter.audit import enqueue, processing
    from admincenter.audit.tasks import process_audit_backlog
    from admincenter.models import AuditEvent, AuditHourlyRollup, Organization, ScimRequestLog
    from admincenter.services import Actor

    call_command("migrate", verbosity=0)
    queue = f"audit-bench-{uuid.uuid4().hex[:8]}"
    enqueue.PUBLISH_OPTIONS["queue"] = queue  # the probe's own enqueues reach the bench workers
    operator = Actor.operator("bench")

    organization = Organization.objects.filter(slug="audit-bench").first()
    if organization is None:
        organization = services.organization_create(name="Audit bench", slug="audit-bench", actor=operator)
        connection_ = services.sso_connection_create(
            organization=organization, name="PingOne", protocol="saml", domains=["bench.test"], actor=operator
        )
        services.scim_enable(organization=organization, connection=connection_, actor=operator)
    organization.refresh_from_db()
    for token in organization.scim_tokens.filter(revoked_at__isnull=True):
        services.scim_token_revoke(organization=organization, token=token, actor=operator)
    raw_token = services.scim_token_issue(organization=organization, label="bench", actor=operator).raw

    print(
        f"Machine: {os.cpu_count()} CPUs; PostgreSQL {connection.cursor().connection.info.server_version}; "
        f"database {connection.settings_dict['NAME']}; broker {urlsplit(broker_url).netloc}"
    )
    print(f"Inserting {args.rows:,} pending rows…", flush=True)
    AuditEvent.objects.filter(organization=organization).delete()
    ScimRequestLog.objects.filter(organization=organization).delete()
    AuditHourlyRollup.objects.filter(organization=organization).delete()
    n_logs = args.rows // 5
    n_events = args.rows - n_logs
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO admincenter_auditevent (occurred_at, organization_id, actor_type, actor_id, actor_label,
                action, target_type, target_id, target_label, before, after, outcome, status_code, request_id,
                ip, user_agent, summary, processed_at)
            SELECT now() - (i || ' seconds')::interval / 100, %s, 'scim_token', '1', 'PingOne prod (optiid_scim_x)',
                (ARRAY['user.create', 'user.update', 'group.member.add', 'user.deactivate'])[i %% 4 + 1],
                CASE WHEN i %% 4 = 2 THEN 'group' ELSE 'user' END, i, 'user' || i || '@bench.test',
                '{"given_name": "A"}', CASE WHEN i %% 4 = 2 THEN '{"members": ["a@b.test", "c@d.test"]}'::jsonb
                ELSE '{"given_name": "B"}'::jsonb END, 'success', NULL, 'bench-' || (i / 4), '198.51.100.1',
                'PingOne/1.0', '', NULL
            FROM generate_series(0, %s - 1) AS s(i)
            """,
            [organization.pk, n_events],
        )
        cursor.execute(
            """
            INSERT INTO admincenter_scimrequestlog (occurred_at, organization_id, token_prefix, method, path,
                status_code, scim_type, duration_ms, request_id, ip, user_agent, idp, summary, event_count,
                processed_at)
            SELECT now() - (i || ' seconds')::interval / 25, %s, 'optiid_scim_x', 'PATCH',
                '/api/scim/v2/Groups/' || i, CASE WHEN i %% 50 = 0 THEN 409 ELSE 200 END,
                CASE WHEN i %% 50 = 0 THEN 'uniqueness' ELSE '' END, 12, 'bench-' || i, '198.51.100.1',
                'PingOne/1.0', '', '', 0, NULL
            FROM generate_series(0, %s - 1) AS s(i)
            """,
            [organization.pk, n_logs],
        )
    max_event = AuditEvent.objects.filter(organization=organization).order_by("-id").values_list("id", flat=True)[0]
    max_log = ScimRequestLog.objects.filter(organization=organization).order_by("-id").values_list("id", flat=True)[0]
    print(f"  {n_events:,} events + {n_logs:,} request-log rows in {time.monotonic() - started:.1f}s")

    def pending() -> int:
        return (
            AuditEvent.objects.filter(processed_at__isnull=True, id__lte=max_event).count()
            + ScimRequestLog.objects.filter(processed_at__isnull=True, id__lte=max_log).count()
        )

    def reset() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE admincenter_auditevent SET processed_at = NULL, summary = '' WHERE organization_id = %s",
                [organization.pk],
            )
            cursor.execute(
                "UPDATE admincenter_scimrequestlog SET processed_at = NULL, summary = '', idp = '', event_count = 0 "
                "WHERE organization_id = %s",
                [organization.pk],
            )
            cursor.execute("DELETE FROM admincenter_audithourlyrollup WHERE organization_id = %s", [organization.pk])
            cursor.execute("VACUUM ANALYZE admincenter_auditevent")
            cursor.execute("VACUUM ANALYZE admincenter_scimrequestlog")
            cursor.execute("CHECKPOINT")

    probe = Probe(raw_token, services, operator, organization)
    if not args.no_probe:
        probe.run_for(5.0)
        baseline = probe.take()
        print(f"Probe ({probe.kind}) idle: {fmt_latency(baseline)}")
    results = []
    env = {**os.environ, "DATABASE_URL": bench_url, "CELERY_BROKER_URL": broker_url, "DJANGO_LOG_LEVEL": "WARNING"}
    if args.batch_size:
        processing.BATCH_SIZE = args.batch_size
    counts = [int(c) for c in args.workers.split(",") if c.strip()]
    for count in [c for c in counts for _ in range(args.repeat)]:
        reset()
        workers = [start_worker(env, queue, i, nice=args.nice) for i in range(count)]
        try:
            for worker in workers:
                wait_ready(worker)
            if not args.no_probe:
                probe.start()
            started = time.monotonic()
            for _ in range(count):
                process_audit_backlog.apply_async(queue=queue)
            while pending():
                time.sleep(0.05)
            elapsed = time.monotonic() - started
            latencies = probe.stop() if not args.no_probe else []
        finally:
            for worker in workers:
                stop_worker(worker)
        totals = AuditHourlyRollup.objects.filter(organization=organization).aggregate(
            requests=Sum("requests"), created=Sum("users_created"), updated=Sum("users_updated")
        )
        expected_created = AuditEvent.objects.filter(
            organization=organization, action="user.create", id__lte=max_event
        ).count()
        assert totals["requests"] >= n_logs and totals["created"] >= expected_created, totals
        row = {
            "workers": count,
            "seconds": round(elapsed, 2),
            "rows_per_second": round(args.rows / elapsed),
            "events_per_second": round(n_events / elapsed),
            "probe_p50_ms": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
            "probe_p95_ms": round(percentile(latencies, 95) * 1000, 1) if latencies else None,
            "probe_requests": len(latencies),
        }
        results.append(row)
        print(
            f"{count} worker{'s' if count > 1 else ''}: {args.rows:,} rows in {elapsed:.1f}s = "
            f"{row['rows_per_second']:,} rows/s ({row['events_per_second']:,} events/s)"
            + (f"; probe during: {fmt_latency(latencies)}" if latencies else ""),
            flush=True,
        )
    medians = {}
    for count in counts:
        rates = [r["rows_per_second"] for r in results if r["workers"] == count]
        medians[count] = statistics.median(rates)
        if args.repeat > 1:
            print(f"{count} worker(s), median of {len(rates)} runs: {medians[count]:,.0f} rows/s (runs: {rates})")
    if len(medians) > 1:
        low, high = min(medians), max(medians)
        print(f"Speed-up {high} vs {low} worker(s): {medians[high] / medians[low]:.2f}x")
    if args.json:
        print(json.dumps({"rows": args.rows, "probe": probe.kind, "results": results}))
    return 0


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def fmt_latency(values: list[float]) -> str:
    if not values:
        return "no samples"
    return (
        f"p50 {percentile(values, 50) * 1000:.1f} ms, p95 {percentile(values, 95) * 1000:.1f} ms "
        f"({len(values)} requests, mean {statistics.mean(values) * 1000:.1f} ms)"
    )


class Probe:
    """Sends SCIM POST /Users requests in a thread (or calls user_create without the SCIM API)."""

    def __init__(self, raw_token, services, operator, organization):
        from django.test import Client

        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_token}", HTTP_USER_AGENT="PingOne/1.0")
        self.services, self.operator, self.organization = services, operator, organization
        check = self.client.get("/api/scim/v2/ServiceProviderConfig")
        self.kind = "SCIM POST /Users" if check.status_code == 200 else "services.user_create (SCIM API not mounted)"
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _one(self) -> None:
        email = f"probe-{uuid.uuid4().hex[:12]}@bench.test"
        started = time.monotonic()
        if self.kind.startswith("SCIM"):
            body = json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email})
            response = self.client.post("/api/scim/v2/Users", data=body, content_type="application/scim+json")
            assert response.status_code == 201, response.content
        else:
            self.services.user_create(organization=self.organization, email=email, actor=self.operator)
        self.samples.append(time.monotonic() - started)

    def _loop(self) -> None:
        from django.db import connection

        try:
            while not self._stop.is_set():
                self._one()
                time.sleep(0.02)
        finally:
            connection.close()

    def start(self) -> None:
        self.samples = []
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> list[float]:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)
        return self.take()

    def take(self) -> list[float]:
        samples, self.samples = self.samples, []
        return samples

    def run_for(self, seconds: float) -> None:
        self.start()
        time.sleep(seconds)
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)


def start_worker(env: dict, queue: str, index: int, nice: int = 0) -> tuple[subprocess.Popen, Path]:
    log = Path(f"/tmp/audit-bench-worker-{os.getpid()}-{index}.log")
    log.unlink(missing_ok=True)
    process = subprocess.Popen(
        [
            *(["nice", "-n", str(nice)] if nice else []),
            str(Path(sys.executable).with_name("celery")),
            "-A",
            "optiid",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "-n",
            f"bench{index}-{uuid.uuid4().hex[:4]}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
            f"--logfile={log}",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, log


def wait_ready(worker, timeout: float = 60) -> None:
    process, log = worker
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"worker exited: {log.read_text() if log.exists() else ''}")
        if log.exists() and " ready." in log.read_text():
            return
        time.sleep(0.1)
    raise RuntimeError("worker not ready")


def stop_worker(worker) -> None:
    process, log = worker
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
    log.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
