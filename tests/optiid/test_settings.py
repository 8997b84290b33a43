"""Environment-driven settings (docs/architecture.md#settings).

The parsers in ``optiid.env`` are tested directly; the wiring in ``optiid.settings`` is
tested end to end in fresh interpreters, because settings are read once per process.
"""

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from optiid.env import check_redis_url, env_bool, env_int, env_list, parse_database_url

ROOT = Path(__file__).resolve().parents[2]

# --- env_bool / env_int / env_list ---------------------------------------------------


@pytest.mark.parametrize("raw", ["true", "TRUE", " True ", "1", "yes", "on"])
def test_env_bool_true(raw):
    assert env_bool({"FLAG": raw}, "FLAG", False) is True


@pytest.mark.parametrize("raw", ["false", "False", "0", "no", " off "])
def test_env_bool_false(raw):
    assert env_bool({"FLAG": raw}, "FLAG", True) is False


@pytest.mark.parametrize("environ", [{}, {"FLAG": ""}, {"FLAG": "   "}])
def test_env_bool_unset_gives_the_default(environ):
    assert env_bool(environ, "FLAG", True) is True
    assert env_bool(environ, "FLAG", False) is False


@pytest.mark.parametrize("raw", ["maybe", "y", "enabled", "2", "tru"])
def test_env_bool_is_strict_and_names_the_variable(raw):
    with pytest.raises(ImproperlyConfigured) as exc:
        env_bool({"DJANGO_DEBUG": raw}, "DJANGO_DEBUG", False)
    assert "DJANGO_DEBUG" in str(exc.value)
    assert repr(raw) in str(exc.value)


def test_env_int():
    assert env_int({}, "N", 7) == 7
    assert env_int({"N": " 42 "}, "N", 7) == 42
    with pytest.raises(ImproperlyConfigured, match="SCIM_MAX_LIVE_TOKENS"):
        env_int({"SCIM_MAX_LIVE_TOKENS": "three"}, "SCIM_MAX_LIVE_TOKENS", 3)
    with pytest.raises(ImproperlyConfigured, match=r"SCIM_MAX_LIVE_TOKENS.*at least 1"):
        env_int({"SCIM_MAX_LIVE_TOKENS": "0"}, "SCIM_MAX_LIVE_TOKENS", 3, minimum=1)


def test_env_list():
    default = ["localhost"]
    assert env_list({"HOSTS": " a.example , b.example,, "}, "HOSTS", default) == ["a.example", "b.example"]
    from_default = env_list({}, "HOSTS", default)
    assert from_default == ["localhost"]
    from_default.append("mutated")
    assert default == ["localhost"]


# --- parse_database_url -------------------------------------------------------------


def test_parse_postgres_url_with_port_and_options():
    db = parse_database_url("postgres://user:pw@db.example:5433/optiid?sslmode=require", conn_max_age=30)
    assert db == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "optiid",
        "USER": "user",
        "PASSWORD": "pw",
        "HOST": "db.example",
        "PORT": "5433",
        "CONN_MAX_AGE": 30,
        "CONN_HEALTH_CHECKS": False,
        "OPTIONS": {"sslmode": "require"},
    }


def test_parse_postgres_url_with_prepared_statements_and_health_checks():
    db = parse_database_url(
        "postgres://db.example/optiid?sslmode=require", health_checks=True, prepared_statements=True
    )
    assert db["CONN_HEALTH_CHECKS"] is True
    assert db["OPTIONS"] == {"sslmode": "require", "server_side_binding": True, "prepare_threshold": 5}


def test_parse_postgresql_scheme_and_defaults():
    db = parse_database_url("postgresql://db.example/optiid")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == ("optiid", "", "", "db.example", "")
    assert db["OPTIONS"] == {}


def test_parse_postgres_url_decodes_percent_escapes():
    db = parse_database_url("postgres://app%40corp:p%40ss%2Fw@host/my%20db")
    assert (db["USER"], db["PASSWORD"], db["NAME"]) == ("app@corp", "p@ss/w", "my db")


@pytest.mark.parametrize("url", ["postgres://user:hunter2@host", "postgres://user:hunter2@host/"])
def test_parse_postgres_url_without_a_database_name_fails_without_leaking_the_password(url):
    with pytest.raises(ImproperlyConfigured) as exc:
        parse_database_url(url)
    message = str(exc.value)
    assert "DATABASE_URL" in message
    assert "no database name" in message
    assert "hunter2" not in message


def test_parse_postgres_url_with_a_bad_port_names_the_variable():
    with pytest.raises(ImproperlyConfigured, match=r"DATABASE_URL.*port"):
        parse_database_url("postgres://host:notaport/db")


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("sqlite:///rel.db", "rel.db"),
        ("sqlite:///data/rel.db", "data/rel.db"),
        ("sqlite:////abs/path.db", "/abs/path.db"),
        ("sqlite://", ":memory:"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_parse_sqlite_urls(url, name):
    assert parse_database_url(url) == {"ENGINE": "django.db.backends.sqlite3", "NAME": name}


@pytest.mark.parametrize("url", ["mysql://x/y", "oracle://h/db", "db.sqlite3"])
def test_unknown_schemes_are_refused_naming_the_variable(url):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL has an unsupported scheme"):
        parse_database_url(url)


def test_the_variable_name_is_configurable():
    with pytest.raises(ImproperlyConfigured, match="REPLICA_URL"):
        parse_database_url("mysql://x/y", name="REPLICA_URL")


def test_check_redis_url():
    for url in ("redis://localhost:6379/0", "rediss://h:6380/1", "unix:///run/redis.sock"):
        assert check_redis_url(url, name="REDIS_URL") == url
    with pytest.raises(ImproperlyConfigured, match="CELERY_BROKER_URL"):
        check_redis_url("amqp://guest@rabbit//", name="CELERY_BROKER_URL")


# --- settings end to end, in fresh interpreters ------------------------------------

_SETUP = (
    "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','optiid.settings'); django.setup()\n"
    "import json\n"
    "from django.conf import settings as s\n"
    "from optiid.celery import app\n"
    "print(json.dumps({"
    "'db': s.DATABASES['default']['ENGINE'], 'db_name': str(s.DATABASES['default']['NAME']),"
    "'db_options': s.DATABASES['default'].get('OPTIONS'),"
    "'db_health_checks': s.DATABASES['default'].get('CONN_HEALTH_CHECKS'),"
    "'cache': s.CACHES['default']['BACKEND'], 'cache_location': s.CACHES['default'].get('LOCATION'),"
    "'broker': s.CELERY_BROKER_URL, 'eager': s.CELERY_TASK_ALWAYS_EAGER,"
    "'app_broker': app.conf.broker_url, 'app_eager': app.conf.task_always_eager,"
    "'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS}))"
)


def run_python(args, env):
    """Run in the project root with exactly ``env`` (no variables leak from this process)."""
    return subprocess.run(
        [sys.executable, *args],
        env={"PYTHONDONTWRITEBYTECODE": "1", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_with(**env):
    result = run_python(["-c", _SETUP], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def startup_error(**env):
    result = run_python(["-c", _SETUP], env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_an_empty_environment_is_a_laptop_setup():
    s = settings_with()
    assert s["db"] == "django.db.backends.sqlite3"
    assert s["db_name"] == str(ROOT / "db.sqlite3")
    assert s["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert (s["broker"], s["eager"], s["app_eager"]) == ("", True, True)
    assert s["debug"] is False
    assert "localhost" in s["hosts"]


def test_redis_url_switches_cache_and_broker():
    s = settings_with(REDIS_URL="redis://cache.internal:6379/2")
    assert s["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert s["cache_location"] == "redis://cache.internal:6379/2"
    assert s["broker"] == s["app_broker"] == "redis://cache.internal:6379/2"
    assert (s["eager"], s["app_eager"]) == (False, False)


def test_celery_broker_url_overrides_redis_url():
    s = settings_with(REDIS_URL="redis://cache.internal:6379/2", CELERY_BROKER_URL="redis://broker.internal:6379/0")
    assert s["cache_location"] == "redis://cache.internal:6379/2"
    assert s["broker"] == s["app_broker"] == "redis://broker.internal:6379/0"
    assert s["eager"] is False


def test_database_url_selects_postgresql_and_debug_and_hosts_are_read():
    s = settings_with(
        DATABASE_URL="postgres://u:p@db.internal:5432/optiid",
        DJANGO_DEBUG="true",
        DJANGO_ALLOWED_HOSTS="admin.example.com, .example.org",
    )
    assert (s["db"], s["db_name"]) == ("django.db.backends.postgresql", "optiid")
    assert s["db_options"] == {"server_side_binding": True, "prepare_threshold": 5}
    assert s["db_health_checks"] is False
    assert s["debug"] is True
    assert s["hosts"] == ["admin.example.com", ".example.org"]


def test_prepared_statements_and_health_checks_are_switches():
    s = settings_with(
        DATABASE_URL="postgres://u:p@db.internal:5432/optiid",
        DATABASE_PREPARED_STATEMENTS="0",
        DJANGO_CONN_HEALTH_CHECKS="1",
    )
    assert s["db_options"] == {}
    assert s["db_health_checks"] is True


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://cache:6379"}, "REDIS_URL"),
        ({"CELERY_BROKER_URL": "amqp://guest@rabbit//"}, "CELERY_BROKER_URL"),
        ({"SCIM_TOKEN_LAST_USED_THROTTLE_SECONDS": "soon"}, "SCIM_TOKEN_LAST_USED_THROTTLE_SECONDS"),
        ({"SCIM_BASE_URL": "admin.example.com"}, "SCIM_BASE_URL"),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else None,
)
def test_bad_values_stop_start_up_naming_the_variable(env, variable):
    assert variable in startup_error(**env)


# --- manage.py check --deploy -------------------------------------------------------

PRODUCTION = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
    "DJANGO_SECURE": "true",
    "DJANGO_ALLOWED_HOSTS": "admin.example.com",
    "DJANGO_DEBUG": "false",
}


def check_deploy(env):
    return run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)


def test_check_deploy_is_clean_with_production_variables():
    result = check_deploy(PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_the_default_development_key():
    env = {k: v for k, v in PRODUCTION.items() if k != "DJANGO_SECRET_KEY"}
    result = check_deploy(env)
    assert result.returncode != 0
    assert "security.W009" in result.stderr


def test_the_secret_key_never_leaks_into_check_output():
    result = check_deploy({**PRODUCTION, "DJANGO_DEBUG": "true"})
    assert result.returncode != 0
    assert "security.W018" in result.stderr  # DEBUG in production
    assert PRODUCTION["DJANGO_SECRET_KEY"] not in result.stdout + result.stderr
