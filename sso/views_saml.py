"""SAML 2.0 service provider views: start (HTTP-Redirect AuthnRequest), ACS (HTTP-POST),
complete, and the SP metadata of each connection.

Why three steps: the IdP POSTs the response to the ACS from its own site, so the browser
does not send our session cookie (SameSite=Lax) with it. The ACS therefore finds the
pending sign-in in the cache by the response's InResponseTo, verifies the response, and
hands the verified identity to ``complete`` under a one-time key. ``complete`` is a
top-level GET, which does carry the session cookie: it checks that this browser is the one
that started the sign-in before anyone is signed in.

CONTRACT: ``start(request, connection, *, next_url, test) -> HttpResponse`` (called by
``sso.views``); the other views are routed in ``sso.urls``.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST, require_safe

from admincenter.models import SsoConnection, SsoProtocol
from admincenter.selectors.sso import sso_connection_by_public_id
from sso import outcome, saml
from sso.identity import SsoValidationError

logger = logging.getLogger(__name__)

# Session key: AuthnRequest IDs this browser started, most recent last.
PENDING_SESSION_KEY = "sso_saml_pending"
# A person may start a few sign-ins in other tabs before one comes back.
PENDING_PER_SESSION = 5
# Between the ACS and the browser's GET of ``complete``: one redirect.
COMPLETION_TTL_SECONDS = 60


def _pending_cache_key(request_id: str) -> str:
    return f"sso:saml:req:{request_id}"


def _completion_cache_key(key: str) -> str:
    return f"sso:saml:done:{key}"


def _saml_connection(public_id) -> SsoConnection:
    connection = sso_connection_by_public_id(public_id=public_id, protocol=SsoProtocol.SAML)
    if connection is None:
        raise Http404("No SAML connection here.")
    return connection


def _take(cache_key: str):
    """Read and delete a one-use cache entry; ``None`` if absent or another request took it first."""
    value = cache.get(cache_key)
    if value is None or not cache.delete(cache_key):
        return None
    return value


def _fail(request, connection: SsoConnection, error: SsoValidationError) -> HttpResponse:
    response = outcome.fail_sign_in(request, connection=connection, error=error)
    if error.reason == "invalid_response" and not 300 <= response.status_code < 400:
        # Not a SAML response at all (missing or garbage body): the client sent a bad request.
        response.status_code = 400
    return response


def start(request, connection: SsoConnection, *, next_url: str = "", test: bool = False) -> HttpResponse:
    """Send the browser to the IdP with an AuthnRequest, remembering what to do when it
    comes back. RelayState is not used, so nothing about the sign-in leaves the server."""
    try:
        url, request_id = saml.authn_request_redirect(connection, request)
    except SsoValidationError as err:
        return _fail(request, connection, err)
    cache.set(
        _pending_cache_key(request_id),
        {"connection": connection.pk, "next_url": next_url, "test": bool(test)},
        timeout=settings.SSO_PENDING_TTL_SECONDS,
    )
    pending = [rid for rid in request.session.get(PENDING_SESSION_KEY, []) if rid != request_id]
    request.session[PENDING_SESSION_KEY] = [*pending, request_id][-PENDING_PER_SESSION:]
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@require_safe
def metadata(request, public_id):
    connection = _saml_connection(public_id)
    return HttpResponse(saml.sp_metadata_xml(connection, request), content_type="application/samlmetadata+xml")


def _idp_initiated_next_url(request) -> str:
    """An IdP-initiated response may name a landing page in RelayState (Okta's and Entra ID's
    "default relay state"); only a path on this site is kept."""
    relay_state = request.POST.get("RelayState", "").strip()
    if relay_state.startswith("/") and url_has_allowed_host_and_scheme(
        relay_state, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return relay_state
    return ""


@csrf_exempt  # the IdP's form posts from another site; the SAML signature authenticates it
@never_cache
@require_POST
def acs(request, public_id):
    connection = _saml_connection(public_id)
    try:
        if not connection.is_ready:
            raise SsoValidationError("connection_not_ready", f"connection {connection.public_id} is a draft")
        posted = request.POST.get("SAMLResponse", "")
        if not posted.strip():
            raise SsoValidationError("invalid_response", "no SAMLResponse in the POST body")
        in_response_to = saml.peek_in_response_to(posted)
        if in_response_to:
            pending = _take(_pending_cache_key(in_response_to))
            if pending is None or pending["connection"] != connection.pk:
                raise SsoValidationError(
                    "in_response_to_mismatch", f"{in_response_to!r} is not a pending request of this connection"
                )
            next_url, test = pending["next_url"], pending["test"]
        else:
            next_url, test = _idp_initiated_next_url(request), False
        identity = saml.validate_response(connection, request, expected_request_id=in_response_to or None)
    except SsoValidationError as err:
        return _fail(request, connection, err)

    key = secrets.token_urlsafe(32)
    cache.set(
        _completion_cache_key(key),
        {
            "connection": connection.pk,
            "identity": identity,
            "in_response_to": in_response_to,
            "next_url": next_url,
            "test": test,
        },
        timeout=COMPLETION_TTL_SECONDS,
    )
    url = reverse("sso:saml_complete", kwargs={"public_id": connection.public_id}) + "?" + urlencode({"k": key})
    return HttpResponseRedirect(url, status=303)


@never_cache
@require_GET  # not HEAD: the completion key is used up by the first request
def complete(request, public_id):
    connection = _saml_connection(public_id)
    key = request.GET.get("k", "")
    completion = _take(_completion_cache_key(key)) if key else None
    if completion is None or completion["connection"] != connection.pk:
        return _fail(request, connection, SsoValidationError("state_mismatch", "unknown or used completion key"))
    in_response_to = completion["in_response_to"]
    if in_response_to:
        pending = list(request.session.get(PENDING_SESSION_KEY, []))
        if in_response_to not in pending:
            return _fail(
                request,
                connection,
                SsoValidationError("state_mismatch", "this browser did not start the sign-in the IdP answered"),
            )
        pending.remove(in_response_to)
        request.session[PENDING_SESSION_KEY] = pending
    return outcome.finish_sign_in(
        request,
        connection=connection,
        identity=completion["identity"],
        next_url=completion["next_url"],
        test=completion["test"],
    )
