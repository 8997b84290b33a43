"""OpenID Connect relying party views: send the browser to the provider, and take it back.

CONTRACT: ``start(request, connection, *, next_url, test) -> HttpResponse``. The checks
themselves live in ``sso.oidc``; these views only route their outcome to
``sso.outcome.finish_sign_in`` or ``sso.outcome.fail_sign_in`` (never a 500 for anything a
browser or a provider can send)."""

from __future__ import annotations

import logging

from django.http import Http404, HttpResponseRedirect
from django.views.decorators.http import require_GET

from admincenter.models import SsoProtocol
from admincenter.selectors.sso import sso_connection_by_public_id
from sso import oidc, outcome
from sso.identity import SsoValidationError

logger = logging.getLogger(__name__)


def start(request, connection, *, next_url: str = "", test: bool = False):
    """Redirect to the provider's authorization endpoint (a draft connection, an
    unreachable provider or a wrong issuer end on the failure page instead)."""
    try:
        url = oidc.authorization_redirect(connection, request, next_url=next_url, test=test)
    except SsoValidationError as error:
        logger.warning("OIDC sign-in with connection %s not started: %s", connection.public_id, error)
        return outcome.fail_sign_in(request, connection=connection, error=error)
    return HttpResponseRedirect(url)


@require_GET
def callback(request, public_id):
    """The provider sends the browser back here (a top-level GET) with ``code`` and ``state``
    or with ``error``."""
    # No join of the organization here: the callback keeps the queries it always ran.
    connection = sso_connection_by_public_id(public_id=public_id, protocol=SsoProtocol.OIDC, with_organization=False)
    if connection is None:
        raise Http404("No such sign-in link.")
    try:
        identity, pending = oidc.complete_sign_in(connection, request)
    except SsoValidationError as error:
        logger.warning("OIDC sign-in with connection %s refused: %s", connection.public_id, error)
        return outcome.fail_sign_in(request, connection=connection, error=error)
    return outcome.finish_sign_in(
        request, connection=connection, identity=identity, next_url=pending.next_url, test=pending.test
    )
