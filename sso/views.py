"""Protocol-neutral sign-in views (owned by the sign-in work): start a sign-in with a
connection, finish it from a verified identity, or refuse it.

CONTRACT used by ``sso.views_saml`` and ``sso.views_oidc``:
- ``finish_sign_in(request, *, connection, identity, next_url, test) -> HttpResponse``
- ``fail_sign_in(request, *, connection, error) -> HttpResponse``
"""

from __future__ import annotations

from django.http import HttpResponse


def sso_login(request, public_id):  # placeholder until the sign-in work lands
    return HttpResponse(status=501)


def sso_test(request, public_id):  # placeholder until the sign-in work lands
    return HttpResponse(status=501)


def finish_sign_in(request, *, connection, identity, next_url: str = "", test: bool = False):
    return HttpResponse(status=501)


def fail_sign_in(request, *, connection, error):
    return HttpResponse(status=501)
