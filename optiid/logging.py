"""Log lines that say which request wrote them.

``optiid.middleware.RequestIdMiddleware`` opens a request context (``request_context``) around
every request; ``RequestContextFilter``, on the console handler, copies it onto each record
written meanwhile, whatever the logger: the request id, the organization's slug once the
request knows it, the method, the path template (the URL pattern that matched, never the raw
path, which holds ids and query strings), and for the access line the status and duration.

``LOG_FORMAT=json`` (optiid/settings.py) renders each record as one JSON object through
python-json-logger; the text format stays the plain one ``make run`` has always printed.
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

LOG_FORMATS = ("text", "json")

# The fields every line carries (None outside a request, or before the value is known).
CONTEXT_FIELDS = ("request_id", "organization", "method", "path", "status", "duration_ms")

# The request being served. Its fields are read when a record is written, not when the request
# starts: the organization is known only after authentication (scim/authentication.py,
# admincenter/permissions.py), the path template only after URL resolution.
_current: contextvars.ContextVar[Any] = contextvars.ContextVar("optiid_request", default=None)

# scim/urls.py and the SCIM mount in optiid/urls.py take doubled and trailing slashes (PingOne
# joins URLs that way): ``(?:/+|$)`` and ``/+`` read as one slash, ``/*`` as none, and the
# catch-all ``.*`` as ``<path>`` before Django's admindocs turns the regex into a template.
_SLASH_RUNS = ((re.compile(r"\(\?:/\+\|\$\)|/\+"), "/"), (re.compile(r"/\*"), ""), (re.compile(r"\.\*"), "<path>"))


@contextmanager
def request_context(request) -> Iterator[None]:
    """Attach ``request``'s fields to every record logged inside."""
    token = _current.set(request)
    try:
        yield
    finally:
        _current.reset(token)


def path_template(request) -> str | None:
    """The URL pattern that matched, e.g. ``api/scim/v2/Users/<pk>`` or ``groups/<uuid:group_id>/``;
    None before resolution or when nothing matched (a 404 logs no path rather than the raw one)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    return _template_of(match.route)


@lru_cache(maxsize=512)
def _template_of(route: str) -> str:
    """A route's printable template. Routes are the URLconf's own strings, a bounded set, so
    each is simplified once per process rather than on every request and every log record."""
    # Imported here: settings.py imports this module before Django's apps are loaded.
    from django.contrib.admindocs.views import simplify_regex

    for pattern, replacement in _SLASH_RUNS:
        route = pattern.sub(replacement, route)
    return simplify_regex(route).lstrip("/")


def organization_slug(request) -> str | None:
    """The organization the request acts in, once known and without a query: the Admin Center's
    ``request.organization`` (admincenter/permissions.py) or the SCIM token's organization
    (scim/authentication.py loads it with the token)."""
    organization = getattr(request, "organization", None)
    if organization is None:
        token = getattr(request, "scim_token", None)
        if token is not None and type(token).organization.is_cached(token):
            organization = token.organization
    return getattr(organization, "slug", None)


def request_fields(request) -> dict:
    return {
        "request_id": request.request_id,
        "organization": organization_slug(request),
        "method": request.method,
        "path": path_template(request),
    }


class RequestContextFilter(logging.Filter):
    """Adds CONTEXT_FIELDS to each record; values a caller passed in ``extra`` win. Django logs
    a 4xx/5xx answer (django.request) after the middleware returned, so outside the context;
    that record carries the request and its status itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = _current.get()
        if request is None and hasattr(getattr(record, "request", None), "request_id"):
            request = record.request
        values = request_fields(request) if request is not None else {}
        if not hasattr(record, "status") and hasattr(record, "status_code"):
            record.status = record.status_code
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, values.get(name))
        return True


class RequestJsonFormatter(JsonFormatter):
    """One JSON object per record: time (ISO 8601, UTC), level, logger, message, the context
    fields, any other ``extra`` and the traceback. Django's ``request`` extra (django.request,
    django.server) is left out: its text is the raw path with ids and query string."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request", "taskName", "color_message"])
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        super().__init__(*args, **kwargs)


def logging_config(log_format: str, level: str) -> dict:
    """The LOGGING setting: one console handler on the root logger, text or JSON."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r} is not one of {LOG_FORMATS}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_context": {"()": "optiid.logging.RequestContextFilter"}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "json": {
                "()": "optiid.logging.RequestJsonFormatter",
                "fmt": " ".join(f"%({name})s" for name in ("levelname", "name", "message", *CONTEXT_FIELDS)),
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if log_format == "json" else "plain",
                "filters": ["request_context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.db.backends": {"level": "WARNING"}},
    }
