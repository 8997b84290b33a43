"""Who may use the Admin Center pages, decided in one place
(docs/domain.md#who-may-use-the-admin-center).

Every Admin Center view is wrapped in ``admin_required``:

- anonymous visitors are sent to the login page (with ``next``);
- a signed-in user who is not an active member of their home organization's
  *Admin Center Administrators* group gets the friendly ``403.html`` page;
- an admin gets ``request.organization`` (always ``request.user.home_organization``)
  and ``request.actor`` (the audit actor, carrying the request id, IP and user agent),
  so views never pick an organization from user input.

Objects are then always fetched filtered by ``request.organization`` (another
organization's id is a 404), see ``admincenter.views``.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render

from admincenter.selectors import effective_access, is_admin_center_admin
from admincenter.services import Actor
from optiid.middleware import request_id_from


def request_id_for(request) -> str:
    """The request's one id, set by optiid/middleware.py (validated ``X-Request-ID`` or a new
    one); a request built without the middleware (RequestFactory) gets one the same way."""
    if not getattr(request, "request_id", None):
        request.request_id = request_id_from(request)
    return request.request_id


def actor_for(request) -> Actor:
    return Actor.admin(request.user).with_request(
        request_id=request_id_for(request),
        ip=request.META.get("REMOTE_ADDR"),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


def forbidden(request, *, reason: str = ""):
    """The friendly 403 page. It lists the person's own product access, which is what
    non-admins may see (the dashboard's product switcher,
    docs/domain.md#who-may-use-the-admin-center)."""
    organization = getattr(request.user, "home_organization", None)
    access = []
    if organization is not None and request.user.is_authenticated:
        access = effective_access(organization=organization, user=request.user)
    return render(
        request,
        "403.html",
        {"organization": organization, "access": access, "reason": reason},
        status=403,
    )


def is_admin(request) -> bool:
    """Whether the signed-in person administers their home organization; answered once per
    request and person (the dashboard asks before ``admin_required`` does)."""
    user = request.user
    checked = getattr(request, "_admin_check", None)
    if checked is not None and checked[0] == user.pk:
        return checked[1]
    organization = getattr(user, "home_organization", None) if user.is_authenticated else None
    result = organization is not None and is_admin_center_admin(organization=organization, user=user)
    request._admin_check = (user.pk, result)
    return result


def admin_required(view):
    """Decorator for every Admin Center view (function-based)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_admin(request):
            return forbidden(request)
        request.organization = request.user.home_organization
        request.actor = actor_for(request)
        return view(request, *args, **kwargs)

    wrapper.admin_required = True  # lets a test assert every Admin Center URL is guarded
    return wrapper
