"""Admin Center > Audit log: the event list, its detail view, SCIM requests and exports.

Only members of the organization's *Admin Center Administrators* group may see these pages
(domain.md §5.1); the organization is always the signed-in user's home organization.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render

from admincenter.models import AuditEvent
from admincenter.selectors import is_admin_center_admin

PAGE_SIZE = 50


def audit_admin_required(view):
    """Anonymous → login page; not an Admin Center administrator → 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        organization = user.home_organization
        if organization is None or not is_admin_center_admin(organization=organization, user=user):
            raise PermissionDenied("Only Admin Center administrators may read the audit log.")
        request.organization = organization
        return view(request, *args, **kwargs)

    wrapper.admin_required = True
    return wrapper


@audit_admin_required
def audit_log(request):
    events = AuditEvent.objects.filter(organization=request.organization).order_by("-occurred_at", "-id")
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "admincenter/audit/log.html", {"organization": request.organization, "page": page})
