"""``/healthz`` and ``/readyz`` (admincenter/views/health.py, checks in admincenter/health.py).

A failing dependency is simulated without touching the test database: the readiness check
opens its own connection from ``settings.DATABASES`` as it is at call time, so pointing the
``default`` entry at a closed port (PostgreSQL) or an unopenable file (SQLite) breaks only the
probe's connection, never the one the test runs on.
"""

import pytest
from django.conf import settings as django_settings

from admincenter.models import ScimRequestLog

CLOSED_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def database_down(monkeypatch, tmp_path):
    broken = dict(django_settings.DATABASES["default"])
    if broken["ENGINE"].endswith("sqlite3"):
        broken["NAME"] = str(tmp_path / "no-such-folder" / "db.sqlite3")
    else:
        broken.update(HOST="127.0.0.1", PORT=1)
    monkeypatch.setitem(django_settings.DATABASES, "default", broken)


def test_healthz_answers_ok_without_a_query(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_and_readyz_accept_get_and_head_only(client, db):
    assert client.head("/healthz").status_code == 200
    assert client.head("/readyz").status_code == 200
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


def test_readyz_is_200_when_everything_answers(client, db):
    response = client.get("/readyz", HTTP_HOST="localhost")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "migrations", "redis", "broker"}
    assert all(check["state"] == "ok" for check in body["checks"].values())
    assert body["checks"]["migrations"]["detail"] == "all applied"
    if django_settings.REDIS_URL:
        assert body["checks"]["redis"]["detail"] == "reachable"
    else:
        assert body["checks"]["redis"]["detail"] == "not configured"
        assert body["checks"]["broker"]["detail"] == "not configured: tasks run in-process"


def test_readyz_needs_no_login_and_writes_no_request_log(client, db):
    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert ScimRequestLog.objects.count() == 0


def test_readyz_is_503_naming_an_unreachable_database(client, db, database_down):
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert response.json()["status"] == "error"
    assert checks["database"]["state"] == "error"
    assert checks["database"]["detail"].startswith("OperationalError")
    assert checks["migrations"] == {"state": "error", "detail": "database unreachable"}


@pytest.mark.postgres
def test_readyz_is_503_against_a_postgres_port_nobody_listens_on(client, db, monkeypatch):
    broken = {**django_settings.DATABASES["default"], "HOST": "127.0.0.1", "PORT": 1}
    monkeypatch.setitem(django_settings.DATABASES, "default", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "Connection refused" in response.json()["checks"]["database"]["detail"]


def test_readyz_is_503_naming_an_unreachable_redis(client, db, settings):
    settings.REDIS_URL = CLOSED_REDIS
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["redis"]["state"] == "error"
    assert checks["redis"]["detail"].startswith("ConnectionError")
    assert checks["database"]["state"] == "ok"


def test_readyz_is_503_naming_an_unreachable_broker(client, db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/1"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["state"] == "error"


def test_readyz_never_shows_a_password_from_a_url(client, db, settings):
    settings.REDIS_URL = "redis://:hunter2-secret@127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "hunter2" not in response.content.decode()


@pytest.mark.redis
def test_readyz_pings_the_real_redis(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == {"state": "ok", "detail": "reachable"}
