"""SAML 2.0 service provider views (placeholder until the SAML work lands).

CONTRACT: ``start(request, connection, *, next_url, test) -> HttpResponse``."""

from django.http import HttpResponse


def start(request, connection, *, next_url: str = "", test: bool = False):
    return HttpResponse(status=501)


def metadata(request, public_id):
    return HttpResponse(status=501)


def acs(request, public_id):
    return HttpResponse(status=501)


def complete(request, public_id):
    return HttpResponse(status=501)
