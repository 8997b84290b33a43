"""SCIM requests skip the browser middleware.

Sessions, CSRF, authentication, messages and clickjacking protection serve the Admin
Center's pages. SCIM authenticates every request with its bearer token, sets no cookie and
renders no page, yet each of those middleware cost it CPU on every call (about 0.1 ms of
a 1.3 ms ``userName eq`` lookup). Placed right after ``SecurityMiddleware``, this one
sends requests under the SCIM base path straight to their view; everything else goes down
the chain as before.
"""

from __future__ import annotations

from django.urls import resolve

SCIM_PATH = "/api/scim/v2"  # as mounted in optiid/urls.py


def is_scim_path(path: str) -> bool:
    return path == SCIM_PATH or path.startswith(SCIM_PATH + "/")


class ScimShortcutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not is_scim_path(request.path_info):
            return self.get_response(request)
        # scim/urls.py ends in a catch-all, so every path under the base resolves.
        match = resolve(request.path_info)
        request.resolver_match = match
        response = match.func(request, *match.args, **match.kwargs)
        if not response.streaming and not response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))  # as CommonMiddleware sets it
        return response
