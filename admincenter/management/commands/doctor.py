"""``manage.py doctor``: the checks of ``/readyz`` plus the warnings an operator must act on.

One line per check, ``ok|warn|error name: detail``; exit code 1 when any check is an error
(``--strict``: or a warning), so a deploy script can gate on it. The checks themselves are in
``admincenter/health.py``, shared with the readiness endpoint.
"""

from django.core.management.base import CommandError

from admincenter import health
from admincenter.management.base import OperatorCommand


class Command(OperatorCommand):
    help = "Check the database, migrations, Redis, the broker and workers, and warn about risky configuration."

    def add_arguments(self, parser):
        parser.add_argument(
            "--backlog-minutes",
            type=int,
            default=15,
            metavar="N",
            help="Warn when the oldest unprocessed audit row is older than N minutes (default 15).",
        )
        parser.add_argument("--strict", action="store_true", help="Exit 1 on warnings too.")

    def handle(self, *args, backlog_minutes, strict, **options):
        if backlog_minutes < 1:
            raise CommandError("--backlog-minutes must be at least 1.")
        results = health.readiness_checks()
        by_name = {result.name: result for result in results}
        results.append(health.worker_check(broker=by_name["broker"]))
        database_up = not by_name["database"].failed
        if database_up:
            results += [health.backlog_check(minutes=backlog_minutes), health.token_expiry_check()]
        results += health.config_warnings()
        for result in results:
            self.stdout.write(f"{result.state} {result.name}: {result.detail}")
        errors = [r.name for r in results if r.failed]
        warnings = [r.name for r in results if r.state == health.WARN]
        if errors or (strict and warnings):
            raise CommandError(f"doctor found {len(errors)} error(s) and {len(warnings)} warning(s).")
