"""``manage.py doctor`` (admincenter/management/commands/doctor.py): one line per check, exit
code 1 on an error, warnings fail only with ``--strict``.

Broken dependencies are settings overrides (a Redis port nobody listens on, a database entry
the probe cannot open) so the test database itself stays untouched; one test runs the real
command line in a subprocess against an unreachable PostgreSQL and Redis.
"""

import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from admincenter.models import AuditEvent, ScimToken
from tests.admincenter.test_commands import PROJECT_ROOT

CLOSED_REDIS = "redis://127.0.0.1:1/0"


def doctor(*args: str) -> tuple[str, CommandError | None]:
    out = StringIO()
    try:
        call_command("doctor", *args, stdout=out, stderr=StringIO())
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


@pytest.fixture
def production_settings(settings):
    """A configuration with nothing to warn about. No broker: tests start no Celery worker,
    so with one the worker check would warn (its own test below covers that)."""
    settings.CELERY_BROKER_URL = ""
    settings.DEBUG = False
    settings.SECRET_KEY = "a-real-secret-key-" + "x" * 40
    settings.SCIM_BASE_URL = "https://id.example.com/api/scim/v2"
    settings.PUBLIC_BASE_URL = "https://id.example.com"
    return settings


def test_doctor_on_a_healthy_deployment_prints_one_ok_line_per_check(db, production_settings):
    output, error = doctor()
    assert error is None
    lines = output.splitlines()
    names = [line.split(" ", 2)[1].rstrip(":") for line in lines]
    assert names == [
        "database",
        "migrations",
        "redis",
        "broker",
        "worker",
        "audit_backlog",
        "scim_tokens",
        "debug",
        "secret_key",
        "scim_base_url",
        "public_base_url",
    ]
    assert all(line.startswith("ok ") for line in lines), output
    assert "ok worker: no broker: tasks run in-process" in lines


def test_doctor_warnings_exit_zero_unless_strict(db, production_settings):
    production_settings.DEBUG = True
    production_settings.SCIM_BASE_URL = "http://id.example.com/api/scim/v2"
    production_settings.SECRET_KEY = "django-insecure-dev-key"
    output, error = doctor()
    assert error is None
    assert "warn debug: DJANGO_DEBUG is on" in output.splitlines()
    assert "warn scim_base_url: SCIM_BASE_URL is not https: http://id.example.com/api/scim/v2" in output.splitlines()
    assert "warn secret_key: DJANGO_SECRET_KEY is unset: the development key is in use" in output.splitlines()
    _, error = doctor("--strict")
    assert str(error) == "doctor found 0 error(s) and 3 warning(s)."


def test_doctor_fails_on_an_unreachable_redis(db, production_settings):
    production_settings.REDIS_URL = CLOSED_REDIS
    output, error = doctor()
    assert error is not None
    assert "error redis: ConnectionError" in output
    assert "ok database: " in output


def test_doctor_fails_on_an_unreachable_database(db, production_settings, monkeypatch, tmp_path):
    broken = dict(django_settings.DATABASES["default"])
    if broken["ENGINE"].endswith("sqlite3"):
        broken["NAME"] = str(tmp_path / "no-such-folder" / "db.sqlite3")
    else:
        broken.update(HOST="127.0.0.1", PORT=1)
    monkeypatch.setitem(django_settings.DATABASES, "default", broken)
    output, error = doctor()
    assert str(error) == "doctor found 2 error(s) and 0 warning(s)."
    assert "error database: OperationalError" in output
    assert "error migrations: database unreachable" in output
    # Reads of the backlog and tokens need the database: they are left out, not reported twice.
    assert "audit_backlog" not in output


def test_doctor_warns_about_an_old_audit_backlog(organization, production_settings):
    # The organization fixture's events are pending: its transaction never commits.
    AuditEvent.objects.update(occurred_at=timezone.now() - timedelta(minutes=20), processed_at=None)
    output, error = doctor()
    assert error is None
    assert "warn audit_backlog: oldest pending row is 20 min old (limit 15): is a worker running?" in output
    output, _ = doctor("--backlog-minutes", "30")
    assert "ok audit_backlog: oldest pending row is 20 min old" in output.splitlines()
    _, error = doctor("--backlog-minutes", "0")
    assert str(error) == "--backlog-minutes must be at least 1."


def test_doctor_warns_about_a_token_expiring_within_7_days(issued_scim_token, production_settings):
    token = issued_scim_token.token
    ScimToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() + timedelta(days=3))
    output, error = doctor()
    assert error is None
    expected = f"warn scim_tokens: expiring within 7 days: acme/PingOne prod ({token.token_prefix}…)"
    assert expected in output.splitlines()
    ScimToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() + timedelta(days=30))
    output, _ = doctor()
    assert "ok scim_tokens: none expiring within 7 days" in output.splitlines()


@pytest.mark.redis
def test_doctor_warns_when_no_worker_answers_on_the_broker(db, production_settings):
    production_settings.CELERY_BROKER_URL = production_settings.REDIS_URL
    output, error = doctor()
    assert error is None
    assert "warn worker: no Celery worker answered within 1 s: run 'make worker'" in output.splitlines()
    assert "ok broker: reachable" in output.splitlines()


def test_doctor_command_line_exits_1_on_an_unreachable_database_and_redis(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "optiid.settings",
        "DATABASE_URL": "postgres://doctor@127.0.0.1:1/optiid",
        "REDIS_URL": CLOSED_REDIS,
        "CELERY_BROKER_URL": "",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "doctor"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "error database: OperationalError" in result.stdout
    assert "error redis: ConnectionError" in result.stdout
    assert "warn worker: not asked: the broker is unreachable" in result.stdout
    assert result.stderr.strip().splitlines() == ["CommandError: doctor found 4 error(s) and 2 warning(s)."]
    assert "Traceback" not in result.stderr
