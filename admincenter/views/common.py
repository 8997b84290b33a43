"""Helpers shared by the Admin Center views: pagination, refusal statuses, the SCIM
base URL."""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator

from admincenter.errors import Conflict, DomainError, Forbidden, InvalidValue, NotFound

PAGE_SIZE = 50


def paginate(request, queryset, *, per_page: int = PAGE_SIZE):
    """Page in the database: ``COUNT`` + ``LIMIT/OFFSET``. Out-of-range pages show the last."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def status_for(error: DomainError) -> int:
    """The HTTP status of a page re-rendered with a service refusal."""
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, Conflict):
        return 409
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, InvalidValue):
        return 400
    return 400


def scim_base_url(request) -> str:
    """What admins type into their IdP: ``SCIM_BASE_URL`` when the deployment sets it
    (behind a proxy the request's host may be internal), else derived from the request."""
    return settings.SCIM_BASE_URL or request.build_absolute_uri("/api/scim/v2")
