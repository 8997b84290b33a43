"""Protocol-neutral sign-in entry points: start a sign-in with a connection, for a person
(``sso_login``) or an administrator's test (``sso_test``), and hand it to the SAML or OIDC
views (docs/sso.md). How a sign-in ends is ``sso.outcome``.
"""

from __future__ import annotations

from django.http import Http404
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from admincenter.models import SsoConnection
from admincenter.permissions import admin_required
from admincenter.selectors.sso import sso_connection_by_public_id
from admincenter.views.signin import safe_next_url
from sso import outcome, views_oidc, views_saml
from sso.identity import SsoValidationError


def _connection_or_404(public_id) -> SsoConnection:
    connection = sso_connection_by_public_id(public_id=public_id)
    if connection is None:
        raise Http404("No such sign-in link.")
    return connection


def _start(request, connection: SsoConnection, *, next_url: str, test: bool):
    if not connection.is_ready:
        return outcome.fail_sign_in(
            request,
            connection=connection,
            error=SsoValidationError("connection_not_ready", f"connection {connection.public_id} is a draft"),
        )
    start = views_saml.start if connection.is_saml else views_oidc.start
    return start(request, connection, next_url=next_url, test=test)


@never_cache
@require_GET
def sso_login(request, public_id):
    """The connection's direct start URL (``login_url``), also where the email step sends
    people: off to the IdP, with a ``next`` of this site only."""
    connection = _connection_or_404(public_id)
    return _start(request, connection, next_url=safe_next_url(request, request.GET.get("next")), test=False)


@admin_required
@never_cache
@require_GET
def sso_test(request, public_id):
    """Test sign-in: an administrator runs the flow of one of their connections and sees
    what the IdP sends, without anyone being signed in."""
    connection = _connection_or_404(public_id)
    if connection.organization_id != request.organization.pk:
        raise Http404("No such SSO connection in this organization.")
    return _start(request, connection, next_url="", test=True)
