"""ORM against hand-built SQL (admincenter/hotsql.py), time per call, on the database of DATABASE_URL.

    DATABASE_URL=postgres://root@127.0.0.1:5432/optiid_bench \\
        .venv/bin/python bench/sql_statements.py [--iterations 2000]

Migrates that database, then works inside one transaction that is rolled back at the end,
so it leaves no rows behind. For each hand-built statement it times the ORM code the
statement replaces and the statement itself, alternating in rounds so both see the same
machine, and prints the median time per call (wall clock, database round trip included).
A statement whose gain is within the noise belongs back on the ORM.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "optiid.settings")

ROUNDS = 5


def timed(call, iterations: int) -> float:
    """Median over ROUNDS of the mean time per call, in milliseconds."""
    means = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(iterations):
            call()
        means.append((time.perf_counter() - start) * 1000 / iterations)
    return statistics.median(means)


def compare(name: str, orm, hand_built, iterations: int) -> None:
    orm(), hand_built()  # warm both (first compile, connection)
    orm_ms, sql_ms = timed(orm, iterations), timed(hand_built, iterations)
    print(f"{name:<44} ORM {orm_ms:8.3f} ms   hand-built {sql_ms:8.3f} ms   gain {orm_ms - sql_ms:+8.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=2000, help="Calls per round of one-row statements.")
    parser.add_argument("--batch", type=int, default=1000, help="Rows per audit-processing batch (as BATCH_SIZE).")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    call_command("migrate", verbosity=0)

    from admincenter import hotsql, services
    from admincenter.audit.record import Actor
    from admincenter.models import AuditEvent, ScimRequestLog, ScimToken, User
    from admincenter.services.tokens import hash_token

    print(f"{connection.vendor}, {args.iterations} calls per round, batches of {args.batch} rows, {ROUNDS} rounds")
    operator = Actor.operator("bench")
    with transaction.atomic():
        organization = services.organization_create(
            name="Bench", slug="sql-bench", actor=operator, admin_email="admin@sql-bench.test", admin_password="x" * 16
        )
        sso = services.sso_connection_create(
            organization=organization, name="Bench IdP", protocol="saml", domains=["sql-bench.test"], actor=operator
        )
        services.scim_enable(organization=organization, connection=sso, actor=operator)
        token_hash = hash_token(services.scim_token_issue(organization=organization, label="b", actor=operator).raw)

        compare(
            "token lookup (select_related get)",
            lambda: ScimToken.objects.select_related("organization", "sso_connection").get(token_hash=token_hash),
            lambda: hotsql.scim_token_row(token_hash),
            args.iterations,
        )

        now = timezone.now()
        events = AuditEvent.objects.bulk_create(
            AuditEvent(organization=organization, actor_type="scim_token", action="user.create")
            for _ in range(args.batch)
        )
        event_updates = [(event.pk, f"summary {event.pk}") for event in events]
        compare(
            f"audit events processed ({args.batch} rows)",
            lambda: AuditEvent.objects.bulk_update(
                [AuditEvent(pk=pk, summary=summary, processed_at=now) for pk, summary in event_updates],
                ["summary", "processed_at"],
            ),
            lambda: hotsql.audit_events_mark_processed(event_updates, now),
            max(1, args.iterations // 400),
        )

        logs = ScimRequestLog.objects.bulk_create(
            ScimRequestLog(organization=organization, method="POST", path="/Users", status_code=201)
            for _ in range(args.batch)
        )
        log_updates = [(log.pk, "Okta", f"summary {log.pk}", 2) for log in logs]
        compare(
            f"request logs processed ({args.batch} rows)",
            lambda: ScimRequestLog.objects.bulk_update(
                [
                    ScimRequestLog(pk=pk, idp=idp, summary=summary, event_count=n, processed_at=now)
                    for pk, idp, summary, n in log_updates
                ],
                ["idp", "summary", "event_count", "processed_at"],
            ),
            lambda: hotsql.request_logs_mark_processed(log_updates, now),
            max(1, args.iterations // 400),
        )

        people = iter(
            User.objects.bulk_create(
                User(email=f"p{n}@sql-bench.test", home_organization=organization)
                for n in range(2 * (ROUNDS + 1) * (args.iterations // 4 + 1))
            )
        )
        compare(
            "person delete (collector vs row first)",
            lambda: next(people).delete(),
            lambda: hotsql.person_row_delete(organization_id=organization.pk, user_id=next(people).pk),
            args.iterations // 4,
        )
        transaction.set_rollback(True)


if __name__ == "__main__":
    main()
