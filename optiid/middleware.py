"""One request id per request, and one access-log line.

``RequestIdMiddleware`` runs before ``scim.middleware.ScimShortcutMiddleware`` (which answers
SCIM requests itself, so nothing after it sees them): it takes the id from the
``settings.REQUEST_ID_HEADER`` header when the value is sane, else makes one, keeps it as
``request.request_id`` (the SCIM views and the Admin Center write it into the request-log row
and the audit events), echoes it on the response, opens the log context of optiid/logging.py,
and logs ``optiid.request`` at INFO with the method, path template, status and duration.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from django.conf import settings

from optiid.logging import path_template, request_context

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

access_logger = logging.getLogger("optiid.request")


def request_id_from(request) -> str:
    """The validated incoming id, or a new one (32 hex digits)."""
    header = request.headers.get(settings.REQUEST_ID_HEADER, "")
    return header if REQUEST_ID_RE.match(header) else uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        request.request_id = request_id_from(request)

        with request_context(request):
            response = self.get_response(request)
            response[settings.REQUEST_ID_HEADER] = request.request_id
            duration_ms = round((time.monotonic() - started) * 1000, 1)
            access_logger.info(
                "%s %s %s %.1fms",
                request.method,
                path_template(request) or "-",
                response.status_code,
                duration_ms,
                extra={"status": response.status_code, "duration_ms": duration_ms},
            )
        return response
