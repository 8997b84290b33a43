"""OpenID Connect relying party views (placeholder until the OIDC work lands).

CONTRACT: ``start(request, connection, *, next_url, test) -> HttpResponse``."""

from django.http import HttpResponse


def start(request, connection, *, next_url: str = "", test: bool = False):
    return HttpResponse(status=501)


def callback(request, public_id):
    return HttpResponse(status=501)
