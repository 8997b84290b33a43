"""``/metrics`` for Prometheus (README "Metrics"): who may scrape, then the body from
admincenter/metrics.py.

A scrape is let in by a bearer token (``METRICS_TOKEN``) or by the client's address being in
``METRICS_ALLOWED_NETWORKS``; with neither configured the endpoint does not exist (404), so a
deployment exposes nothing it did not choose to. A refused scrape learns nothing but its status.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from admincenter.metrics import exposition


def _from_allowed_network(request) -> bool:
    networks = settings.METRICS_ALLOWED_NETWORKS
    if not networks:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in networks)


def _has_token(request) -> bool:
    expected = settings.METRICS_TOKEN
    if not expected:
        return False
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(credentials.strip().encode(), expected.encode())


@require_GET
def metrics_view(request):
    if not settings.METRICS_TOKEN and not settings.METRICS_ALLOWED_NETWORKS:
        raise Http404
    if not (_from_allowed_network(request) or _has_token(request)):
        if settings.METRICS_TOKEN:
            response = HttpResponse(status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        return HttpResponse(status=403)
    response = HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
