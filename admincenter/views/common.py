"""Helpers shared by the Admin Center views: pagination, refusal statuses, the SCIM
base URL, the one shape of a form POST (``form_write``), the organization-scoped 404
look-ups and the one membership removal both the user and the group pages offer."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect

from admincenter import services
from admincenter.errors import Conflict, DomainError, Forbidden, InvalidValue, NotFound
from admincenter.forms import add_domain_error
from admincenter.selectors import groups as groups_selectors
from admincenter.selectors import users as users_selectors

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


@dataclass(frozen=True)
class FormWrite:
    """What ``form_write`` did: ``done`` with the service's ``result``, or not, with the
    ``status`` to render the form again with."""

    done: bool
    result: object = None
    status: int = 400


def form_write(form, write) -> FormWrite:
    """The one shape of a form POST: an invalid form answers 400; a valid one runs
    ``write(form.cleaned_data)``, and a service refusal goes beside the field it names
    (``add_domain_error``) with the status ``status_for`` gives it."""
    if not form.is_valid():
        return FormWrite(done=False)
    try:
        result = write(form.cleaned_data)
    except DomainError as error:
        add_domain_error(form, error)
        return FormWrite(done=False, status=status_for(error))
    return FormWrite(done=True, result=result)


def scim_base_url(request) -> str:
    """What admins type into their IdP: ``SCIM_BASE_URL`` when the deployment sets it
    (behind a proxy the request's host may be internal), else derived from the request."""
    return settings.SCIM_BASE_URL or request.build_absolute_uri(settings.SCIM_PATH)


def found_or_404(found, message: str):
    """What a selector found, or a 404 saying ``message`` when it found nothing (None)."""
    if found is None:
        raise Http404(message)
    return found


def group_or_404(request, group_id):
    """The group of the current organization, or 404 (another tenant's id is a 404 too)."""
    return found_or_404(
        groups_selectors.group_get(organization=request.organization, group_id=group_id),
        "No such group in this organization.",
    )


def user_or_404(request, user_id):
    """The user of the current organization, or 404 (another tenant's id is a 404 too)."""
    return found_or_404(
        users_selectors.user_get(organization=request.organization, user_id=user_id),
        "No such user in this organization.",
    )


def write_or_refuse(request, write, *, refuse, success: str, next_url: str):
    """A write without a form (a button): ``write()``; a refusal is rendered by ``refuse(error)``
    (each page shows it where it belongs), a success flashes ``success`` and redirects."""
    try:
        write()
    except DomainError as error:
        return refuse(error)
    messages.success(request, success)
    return redirect(next_url)


def group_member_remove_or_refuse(request, *, group, user, refuse, next_url: str):
    """Take ``user`` out of ``group`` from the user page or the group page."""
    return write_or_refuse(
        request,
        lambda: services.group_members_remove(
            organization=request.organization, group=group, user_ids=[user.pk], actor=request.actor
        ),
        refuse=refuse,
        success=f"{user.email} was removed from {group.name}.",
        next_url=next_url,
    )
