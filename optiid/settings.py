"""Django settings for Opti ID Admin Center, driven by environment variables.

With an empty environment this is a laptop set-up: SQLite in the project folder, a
local-memory cache and Celery tasks run eagerly in-process. Production switches are
explicit variables (see README, "Configuration"). Bad values stop start-up with a
message that names the variable.
"""

import ipaddress
import os
import warnings
from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from optiid.env import check_redis_url, env_bool, env_int, env_list, parse_database_url
from optiid.logging import LOG_FORMATS, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
ENV = os.environ

DEBUG = env_bool(ENV, "DJANGO_DEBUG", False)

_DEV_SECRET_KEY = "django-insecure-dev-key-for-local-use-only-set-DJANGO_SECRET_KEY-in-production"
SECRET_KEY = ENV.get("DJANGO_SECRET_KEY") or _DEV_SECRET_KEY
ALLOWED_HOSTS = env_list(ENV, "DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list(ENV, "DJANGO_CSRF_TRUSTED_ORIGINS", [])

# Production hardening, switched on by DJANGO_SECURE=true (behind HTTPS).
_SECURE = env_bool(ENV, "DJANGO_SECURE", False)
SESSION_COOKIE_SECURE = _SECURE
CSRF_COOKIE_SECURE = _SECURE
SECURE_SSL_REDIRECT = _SECURE and env_bool(ENV, "DJANGO_SSL_REDIRECT", True)
# Load balancers probe over plain HTTP inside the network; a redirect would read as "down".
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int(ENV, "DJANGO_HSTS_SECONDS", 31536000 if _SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _SECURE
SECURE_HSTS_PRELOAD = _SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _SECURE else None
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "admincenter",
    "scim",
    "sso",
]

MIDDLEWARE = [
    # First, so every answer (SCIM, redirects, errors) carries the request id and gets its access-log line.
    "optiid.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # SCIM requests go to their view from here: the middleware below serve the Admin Center.
    "scim.middleware.ScimShortcutMiddleware",
    # Serves /static/ from the app itself (runserver without DEBUG, gunicorn): no CDN, no proxy needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "optiid.urls"
WSGI_APPLICATION = "optiid.wsgi.application"
ASGI_APPLICATION = "optiid.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
_CONN_MAX_AGE = env_int(ENV, "DJANGO_CONN_MAX_AGE", 60)
_DATABASE_URL = ENV.get("DATABASE_URL", "").strip()
if _DATABASE_URL:
    DATABASES = {
        "default": parse_database_url(
            _DATABASE_URL,
            conn_max_age=_CONN_MAX_AGE,
            # A health check is a `SELECT 1` round trip before every request's first query.
            # Off (Django's default): after a database restart, a worker's first request
            # fails (IdPs retry 5xx) and the worker reconnects.
            health_checks=env_bool(ENV, "DJANGO_CONN_HEALTH_CHECKS", False),
            # Server-side binding with psycopg's prepared statements: PostgreSQL plans each
            # hot query (token lookup, userName eq, request-log insert) once per connection
            # instead of on every request. Set 0 behind a pooler that cannot keep them
            # (PgBouncer in transaction mode before 1.21).
            prepared_statements=env_bool(ENV, "DATABASE_PREPARED_STATEMENTS", True),
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": ENV.get("SQLITE_PATH") or str(BASE_DIR / "db.sqlite3"),
            # A write lock waits instead of failing at once under concurrent requests.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache --------------------------------------------------------------------
REDIS_URL = ENV.get("REDIS_URL", "").strip()
if REDIS_URL:
    check_redis_url(REDIS_URL, name="REDIS_URL")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": ENV.get("CACHE_KEY_PREFIX", "optiid"),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery -------------------------------------------------------------------
CELERY_BROKER_URL = ENV.get("CELERY_BROKER_URL", "").strip() or REDIS_URL
if CELERY_BROKER_URL:
    check_redis_url(
        CELERY_BROKER_URL,
        name="CELERY_BROKER_URL" if ENV.get("CELERY_BROKER_URL") else "REDIS_URL",
    )
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Enqueueing must fail fast when the broker is down: the request has already
# committed its rows, and the beat sweep picks them up later.
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
    "max_retries": 0,
}
CELERY_TASK_PUBLISH_RETRY = False
# Audit tasks are long drains: a worker takes one message at a time so the others share them.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The audit pipeline's beat entries (admincenter/audit/tasks.py). The sweep drains whatever the
# on-commit enqueue missed (broker down, worker restarted); stale sweeps expire unsent.
CELERY_BEAT_SCHEDULE = {
    "audit-sweep": {"task": "admincenter.audit.sweep", "schedule": 60.0, "options": {"expires": 55}},
    "audit-retention": {"task": "admincenter.audit.retention", "schedule": crontab(hour=3, minute=17)},
}

# --- Auth ---------------------------------------------------------------------
AUTH_USER_MODEL = "admincenter.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- I18N / static ------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Without collectstatic (make run, tests) files are found in the apps' static folders, and
# WhiteNoise's warning about the not-yet-collected STATIC_ROOT is noise.
WHITENOISE_USE_FINDERS = True
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

# --- Product settings -------------------------------------------------------
# Where the SCIM API is mounted (optiid/urls.py); the shortcut middleware, the base URLs shown to
# admins and put in ``location`` derive from it.
SCIM_PATH = "/api/scim/v2"
# The correlation header read from a proxy or IdP and echoed on every answer (Admin Center and SCIM).
REQUEST_ID_HEADER = "X-Request-ID"
# The public SCIM base URL shown to admins; derived from the request when unset.
SCIM_BASE_URL = ENV.get("SCIM_BASE_URL", "").strip().rstrip("/")
if SCIM_BASE_URL and not SCIM_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"SCIM_BASE_URL={SCIM_BASE_URL!r} must start with https:// (or http:// locally).")
# last_used_at is written at most once per this many seconds per token.
SCIM_TOKEN_LAST_USED_THROTTLE_SECONDS = env_int(ENV, "SCIM_TOKEN_LAST_USED_THROTTLE_SECONDS", 60)
SCIM_MAX_LIVE_TOKENS = env_int(ENV, "SCIM_MAX_LIVE_TOKENS", 3, minimum=1)
# Requests per minute per SCIM token before 429 (0 = no limit).
SCIM_RATE_LIMIT_PER_MINUTE = env_int(ENV, "SCIM_RATE_LIMIT_PER_MINUTE", 30000)
AUDIT_REQUEST_LOG_RETENTION_DAYS = env_int(ENV, "AUDIT_REQUEST_LOG_RETENTION_DAYS", 30, minimum=1)
AUDIT_EVENT_RETENTION_DAYS = env_int(ENV, "AUDIT_EVENT_RETENTION_DAYS", 365, minimum=1)
# Admin Center audit exports: up to this many rows stream straight to the browser; larger
# ones are written by a Celery task into AUDIT_EXPORT_DIR (shared by web and worker hosts).
AUDIT_EXPORT_STREAM_MAX_ROWS = env_int(ENV, "AUDIT_EXPORT_STREAM_MAX_ROWS", 5000)
AUDIT_EXPORT_DIR = Path(ENV.get("AUDIT_EXPORT_DIR", "").strip() or BASE_DIR / "var" / "exports")

# --- Sign-in through the organization's IdP (sso/) ------------------------------
# The public origin of this deployment (https://admin.example.com): the SAML entity ID, ACS
# URL and OIDC redirect URI are built from it. Derived from the request when unset.
PUBLIC_BASE_URL = ENV.get("PUBLIC_BASE_URL", "").strip().rstrip("/")
if PUBLIC_BASE_URL and not PUBLIC_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"PUBLIC_BASE_URL={PUBLIC_BASE_URL!r} must start with https:// (or http:// locally).")
# Fernet keys for secrets stored in the database (OIDC client secrets); derived from
# DJANGO_SECRET_KEY when unset. The first key encrypts, all decrypt (rotation).
FIELD_ENCRYPTION_KEYS = env_list(ENV, "FIELD_ENCRYPTION_KEYS", [])
# Outbound calls to an IdP (SAML metadata URL, OIDC discovery, JWKS, token endpoint).
SSO_HTTP_TIMEOUT_SECONDS = env_int(ENV, "SSO_HTTP_TIMEOUT_SECONDS", 5, minimum=1)
SSO_METADATA_MAX_BYTES = env_int(ENV, "SSO_METADATA_MAX_BYTES", 1_000_000, minimum=10_000)
# How long a started sign-in (AuthnRequest id, OIDC state/nonce/PKCE) may take to come back.
SSO_PENDING_TTL_SECONDS = env_int(ENV, "SSO_PENDING_TTL_SECONDS", 600, minimum=60)
# Allowed clock difference with the IdP for NotBefore/NotOnOrAfter, exp/iat.
SSO_CLOCK_SKEW_SECONDS = env_int(ENV, "SSO_CLOCK_SKEW_SECONDS", 120)
# DNS servers for domain verification ("ip" or "ip:port", comma-separated); the system
# resolver when unset. Tests point it at a DNS server they start.
SSO_DNS_NAMESERVERS = env_list(ENV, "SSO_DNS_NAMESERVERS", [])
SSO_DNS_TIMEOUT_SECONDS = env_int(ENV, "SSO_DNS_TIMEOUT_SECONDS", 3, minimum=1)

# --- Metrics (optiid/metrics.py, admincenter/metrics.py) -------------------------
# /metrics answers a scrape carrying this bearer token, or coming from one of these networks
# (CIDRs, checked against REMOTE_ADDR); with neither set it is off (404).
METRICS_TOKEN = ENV.get("METRICS_TOKEN", "").strip()


def _networks(name: str) -> list:
    networks = []
    for item in env_list(ENV, name, []):
        try:
            networks.append(ipaddress.ip_network(item))
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not a network (CIDR such as 10.0.0.0/8).") from None
    return networks


METRICS_ALLOWED_NETWORKS = _networks("METRICS_ALLOWED_NETWORKS")
# Adds an organization label to SCIM and sign-in counters (README "Metrics" says when that is worth it).
METRICS_PER_ORGANIZATION = env_bool(ENV, "METRICS_PER_ORGANIZATION", False)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}

# text (the default, for make run) or json: one JSON object per line with the request id,
# organization, method, path template, status and duration (optiid/logging.py).
LOG_FORMAT = ENV.get("LOG_FORMAT", "").strip().lower() or "text"
if LOG_FORMAT not in LOG_FORMATS:
    raise ImproperlyConfigured(f"LOG_FORMAT={ENV['LOG_FORMAT']!r} must be text or json.")
LOGGING = logging_config(LOG_FORMAT, ENV.get("DJANGO_LOG_LEVEL", "INFO").upper())
# A Celery worker replaces the root logger's handlers with its own text format unless told not to;
# with JSON logs it keeps this configuration, so worker lines are JSON too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT == "text"
