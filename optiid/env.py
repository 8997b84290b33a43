"""Strict parsing of environment variables for settings.py.

Every parser raises ``ImproperlyConfigured`` with a message that names the variable,
so a typo in a deployment stops start-up instead of silently running with a default.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def env_bool(environ, name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use true or false.")


def env_int(environ, name: str, default: int, *, minimum: int = 0) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}.")
    return value


def env_list(environ, name: str, default: list[str]) -> list[str]:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse_database_url(
    url: str,
    *,
    name: str = "DATABASE_URL",
    conn_max_age: int = 60,
    health_checks: bool = False,
    prepared_statements: bool = False,
) -> dict:
    """Turn ``postgres://user:pass@host:port/db?opt=v`` or ``sqlite:///path`` into a
    Django DATABASES entry. PostgreSQL always goes through psycopg 3; with
    ``prepared_statements`` it binds parameters on the server and prepares a query once a
    connection has run it five times (psycopg's ``prepare_threshold``)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in {"postgres", "postgresql", "pgsql"}:
        database = unquote(parts.path.lstrip("/"))
        if not database:
            raise ImproperlyConfigured(f"{name} has no database name: {_redact(url)!r}.")
        options = dict(parse_qsl(parts.query))
        try:
            port = str(parts.port or "")
        except ValueError:
            raise ImproperlyConfigured(f"{name} has an invalid port: {_redact(url)!r}.") from None
        if prepared_statements:
            options.setdefault("server_side_binding", True)
            options.setdefault("prepare_threshold", 5)  # psycopg's default: one-off queries stay unprepared
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": database,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": port,
            "CONN_MAX_AGE": conn_max_age,
            "CONN_HEALTH_CHECKS": health_checks,
            "OPTIONS": options,
        }
    if scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc:
            path = parts.netloc + path
        if path.startswith("//"):
            path = path[1:]
        elif path.startswith("/") and not url.startswith("sqlite:////"):
            path = path[1:] or ":memory:"
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path or ":memory:"}
    raise ImproperlyConfigured(
        f"{name} has an unsupported scheme {parts.scheme!r}: use postgres://... or sqlite:///path."
    )


def check_redis_url(url: str, *, name: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(f"{name} has an unsupported scheme {scheme!r}: use redis://host:port/db.")
    return url


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
