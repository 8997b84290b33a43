"""Users: the list, the detail page (profile, groups, effective access), creating a
manual user, admitting a collaborator, and the lock matrix (docs/domain.md#lock-matrix) as the
services enforce it. SCIM-managed users are shown read-only with a notice saying where
to make the change instead."""

from __future__ import annotations

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from admincenter import services
from admincenter.errors import DomainError
from admincenter.forms import CollaboratorForm, GroupChoiceForm, UserCreateForm, UserProfileForm
from admincenter.permissions import admin_required
from admincenter.selectors import effective_access
from admincenter.selectors import groups as groups_selectors
from admincenter.selectors import users as users_selectors
from admincenter.views.common import (
    form_write,
    group_member_remove_or_refuse,
    group_or_404,
    paginate,
    status_for,
    user_or_404,
    write_or_refuse,
)


@admin_required
@require_GET
def user_list(request):
    q = request.GET.get("q", "").strip()
    source = request.GET.get("source", "")
    status = request.GET.get("status", "")
    page = paginate(
        request, users_selectors.user_list(organization=request.organization, q=q, source=source, status=status)
    )
    return render(
        request,
        "admincenter/users/list.html",
        {
            "section": "users",
            "page": page,
            "q": q,
            "source": source,
            "status": status,
            "source_filters": users_selectors.USER_SOURCE_FILTERS,
            "status_filters": users_selectors.USER_STATUS_FILTERS,
        },
    )


def _scim_domain_warning(organization, email: str) -> str:
    """Local users are allowed in SCIM mode, but the IdP should own its own domain
    (docs/domain.md#local-users-in-scim-mode)."""
    if not organization.is_scim_mode or "@" not in (email or ""):
        return ""
    domain = email.rsplit("@", 1)[1].strip().lower()
    if users_selectors.email_domain_is_scim_managed(organization=organization, domain=domain):
        return (
            f"{domain} belongs to your SCIM connection: people with this domain are normally provisioned by your "
            "identity provider. The user was still created as a local user."
        )
    return ""


@admin_required
@require_http_methods(["GET", "POST"])
def user_add(request):
    """Create a manual user, or admit a collaborator/partner from another organization."""
    organization = request.organization
    create_form = UserCreateForm(prefix="create")
    collaborator_form = CollaboratorForm(prefix="collab")
    status = 200
    if request.method == "POST":
        if request.POST.get("action") == "collaborator":
            collaborator_form = CollaboratorForm(request.POST, prefix="collab")
            write = form_write(
                collaborator_form,
                lambda data: services.collaborator_add(
                    organization=organization, email=data["email"], actor=request.actor
                ),
            )
            if write.done:
                membership = write.result
                messages.success(request, f"{membership.user.email} can now be added to your groups.")
                return redirect("user_detail", user_id=membership.user_id)
        else:
            create_form = UserCreateForm(request.POST, prefix="create")
            write = form_write(
                create_form,
                lambda data: services.user_create(
                    organization=organization,
                    email=data["email"],
                    given_name=data["given_name"],
                    family_name=data["family_name"],
                    password=data["password"] or None,
                    actor=request.actor,
                ),
            )
            if write.done:
                user = write.result
                messages.success(request, f"{user.email} was created.")
                warning = _scim_domain_warning(organization, user.email)
                if warning:
                    messages.warning(request, warning)
                return redirect("user_detail", user_id=user.pk)
        status = write.status
    return render(
        request,
        "admincenter/users/add.html",
        {"section": "users", "create_form": create_form, "collaborator_form": collaborator_form},
        status=status,
    )


def _detail_context(request, user, **extra):
    organization = request.organization
    is_home = user.home_organization_id == organization.pk
    editable = is_home and not user.is_scim_managed
    profile_form = extra.pop("profile_form", None)
    if profile_form is None and editable:
        profile_form = UserProfileForm(
            initial={"email": user.email, "given_name": user.given_name, "family_name": user.family_name}
        )
    memberships = list(users_selectors.user_memberships(organization=organization, user=user))
    joinable = users_selectors.groups_user_can_join(organization=organization, user=user)
    context = {
        "section": "users",
        "subject": user,
        "is_home": is_home,
        "editable": editable,
        "profile_form": profile_form,
        "memberships": memberships,
        "access": effective_access(organization=organization, user=user),
        "joinable_groups": joinable["groups"],
        "joinable_product_groups": joinable["product_groups"],
        "group_error": None,
    }
    context.update(extra)
    return context


@admin_required
@require_GET
def user_detail(request, user_id):
    user = user_or_404(request, user_id)
    return render(request, "admincenter/users/detail.html", _detail_context(request, user))


@admin_required
@require_POST
def user_edit(request, user_id):
    user = user_or_404(request, user_id)
    form = UserProfileForm(request.POST)
    write = form_write(
        form,
        lambda data: services.user_update(organization=request.organization, user=user, actor=request.actor, **data),
    )
    if write.done:
        messages.success(request, "Profile saved.")
        return redirect("user_detail", user_id=user.pk)
    status = write.status
    user.refresh_from_db()
    context = _detail_context(request, user, profile_form=form)
    if not context["editable"]:
        # A SCIM-managed (or collaborator) profile stays read-only; show the refusal on top.
        context["profile_form"] = None
        context["page_error"] = form.non_field_errors()[0] if form.non_field_errors() else None
    return render(request, "admincenter/users/detail.html", context, status=status)


def _refuse(request, user, error: DomainError):
    return render(
        request,
        "admincenter/users/detail.html",
        _detail_context(request, user, page_error=error.message),
        status=status_for(error),
    )


@admin_required
@require_POST
def user_set_active(request, user_id):
    user = user_or_404(request, user_id)
    active = request.POST.get("active") == "true"
    return write_or_refuse(
        request,
        lambda: services.user_set_active(
            organization=request.organization, user=user, active=active, actor=request.actor
        ),
        refuse=lambda error: _refuse(request, user, error),
        success=f"{user.email} was {'reactivated' if active else 'deactivated'}.",
        next_url=reverse("user_detail", kwargs={"user_id": user.pk}),
    )


@admin_required
@require_http_methods(["GET", "POST"])
def user_delete(request, user_id):
    """Delete a local user, or remove a collaborator from the organization."""
    user = user_or_404(request, user_id)
    is_home = user.home_organization_id == request.organization.pk
    if request.method == "POST":
        remove = services.user_delete if is_home else services.collaborator_remove
        return write_or_refuse(
            request,
            lambda: remove(organization=request.organization, user=user, actor=request.actor),
            refuse=lambda error: _refuse(request, user, error),
            success=f"{user.email} was {'deleted' if is_home else 'removed from your organization'}.",
            next_url="user_list",
        )
    return render(
        request,
        "admincenter/users/delete.html",
        {
            "section": "users",
            "subject": user,
            "is_home": is_home,
            "memberships": users_selectors.user_membership_count(organization=request.organization, user=user),
        },
    )


def _group_refuse(request, user, message: str, *, status: int):
    """The user page again, with the refusal shown beside its Groups section."""
    return render(
        request, "admincenter/users/detail.html", _detail_context(request, user, group_error=message), status=status
    )


@admin_required
@require_POST
def user_group_add(request, user_id):
    """Add the user to a custom group, Admin Center Administrators or a product group."""
    user = user_or_404(request, user_id)
    form = GroupChoiceForm(request.POST)
    if not form.is_valid():
        return _group_refuse(request, user, "Choose a group.", status=400)
    group = group_or_404(request, form.cleaned_data["group"])
    try:
        services.group_members_add(
            organization=request.organization, group=group, user_ids=[user.pk], actor=request.actor
        )
    except DomainError as error:
        return _group_refuse(request, user, error.message, status=status_for(error))
    messages.success(request, f"{user.email} was added to {group.name}.")
    return redirect(reverse("user_detail", kwargs={"user_id": user.pk}) + "#groups")


@admin_required
@require_POST
def user_group_remove(request, user_id, group_id):
    user = user_or_404(request, user_id)
    group = group_or_404(request, group_id)
    return group_member_remove_or_refuse(
        request,
        group=group,
        user=user,
        refuse=lambda error: _group_refuse(request, user, error.message, status=status_for(error)),
        next_url=reverse("user_detail", kwargs={"user_id": user.pk}) + "#groups",
    )


@admin_required
@require_GET
def user_picker(request):
    """Type-ahead for member pickers: at most 20 people of this organization (JSON).
    ``group`` leaves out the people already in that group."""
    results = users_selectors.user_picker(organization=request.organization, q=request.GET.get("q", ""))
    group_id = request.GET.get("group")
    if group_id and results:
        group = groups_selectors.group_get(organization=request.organization, group_id=group_id)
        if group is not None:
            members = users_selectors.user_ids_in_group(group=group, user_ids=[r["id"] for r in results])
            results = [r for r in results if r["id"] not in members]
    return JsonResponse({"results": results})
