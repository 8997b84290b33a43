"""Groups: list by kind, create/rename/delete custom groups, members, and product access
(grants). What can be edited follows the lock matrix (docs/domain.md#lock-matrix); the services
refuse anything else and the page shows why."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from admincenter import services
from admincenter.errors import DomainError
from admincenter.forms import GrantAddForm, GroupNameForm, MemberAddForm
from admincenter.models import GroupKind, SystemGroupKey
from admincenter.permissions import admin_required
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


def rules(group) -> dict:
    """What an admin may change on ``group`` (mirrors the services' checks, for display)."""
    return {
        "can_rename": group.kind == GroupKind.CUSTOM,
        "can_delete": group.kind == GroupKind.CUSTOM,
        "can_edit_members": group.kind != GroupKind.SCIM and group.system_key != SystemGroupKey.EVERYONE,
        "can_edit_grants": group.kind in (GroupKind.CUSTOM, GroupKind.SCIM),
    }


@admin_required
@require_GET
def group_list(request):
    kind = request.GET.get("kind", "")
    q = request.GET.get("q", "").strip()
    page = paginate(request, groups_selectors.group_list(organization=request.organization, kind=kind, q=q))
    return render(
        request,
        "admincenter/groups/list.html",
        {"section": "groups", "page": page, "kind": kind, "q": q, "tabs": groups_selectors.GROUP_KIND_TABS},
    )


@admin_required
@require_http_methods(["GET", "POST"])
def group_create(request):
    form = GroupNameForm(request.POST or None)
    status = 200
    if request.method == "POST":
        write = form_write(
            form,
            lambda data: services.group_create(
                organization=request.organization, name=data["name"], actor=request.actor
            ),
        )
        if write.done:
            messages.success(request, f"{write.result.name} was created. Add members and product access below.")
            return redirect("group_detail", group_id=write.result.pk)
        status = write.status
    return render(request, "admincenter/groups/create.html", {"section": "groups", "form": form}, status=status)


def _detail_context(request, group, **forms):
    can = rules(group)
    instances = (
        list(groups_selectors.grantable_instances(organization=request.organization)) if can["can_edit_grants"] else []
    )
    q = request.GET.get("q", "").strip()
    context = {
        "section": "products" if group.kind == GroupKind.PRODUCT else "groups",
        "group": group,
        "members": paginate(request, groups_selectors.group_members(group=group, q=q)),
        "member_q": q,
        "grants": list(groups_selectors.group_grants(group=group)),
        "rename_form": forms.get("rename_form") or GroupNameForm(initial={"name": group.name}, prefix="rename"),
        "member_form": forms.get("member_form") or MemberAddForm(prefix="member"),
        "grant_form": forms.get("grant_form") or GrantAddForm(instances=instances, prefix="grant"),
        "page_error": forms.get("page_error"),
        **can,
    }
    # A refused change whose form is not shown on this group (for example a member
    # added to a SCIM group by a crafted POST) is reported at the top of the page.
    for key, shown in (
        ("rename_form", "can_rename"),
        ("member_form", "can_edit_members"),
        ("grant_form", "can_edit_grants"),
    ):
        form = forms.get(key)
        if form is not None and form.errors and not can[shown]:
            context["page_error"] = " ".join(e for errors in form.errors.values() for e in errors)
    return context


@admin_required
@require_GET
def group_detail(request, group_id):
    group = group_or_404(request, group_id)
    return render(request, "admincenter/groups/detail.html", _detail_context(request, group))


def _refuse(request, group, error: DomainError):
    """The group page again, with a refusal that belongs to no form shown at its top."""
    return render(
        request,
        "admincenter/groups/detail.html",
        _detail_context(request, group, page_error=error.message),
        status=status_for(error),
    )


def _detail_url(group, anchor=""):
    return reverse("group_detail", kwargs={"group_id": group.pk}) + (f"#{anchor}" if anchor else "")


@admin_required
@require_POST
def group_rename(request, group_id):
    group = group_or_404(request, group_id)
    form = GroupNameForm(request.POST, prefix="rename")
    write = form_write(
        form,
        lambda data: services.group_rename(
            organization=request.organization, group=group, name=data["name"], actor=request.actor
        ),
    )
    if write.done:
        messages.success(request, f"The group is now called {write.result.name}.")
        return redirect(_detail_url(write.result))
    return render(
        request,
        "admincenter/groups/detail.html",
        _detail_context(request, group, rename_form=form),
        status=write.status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def group_delete(request, group_id):
    group = group_or_404(request, group_id)
    if request.method == "POST":
        return write_or_refuse(
            request,
            lambda: services.group_delete(organization=request.organization, group=group, actor=request.actor),
            refuse=lambda error: _refuse(request, group, error),
            success=f"{group.name} was deleted.",
            next_url="group_list",
        )
    return render(
        request,
        "admincenter/groups/delete.html",
        {
            "section": "groups",
            "group": group,
            "member_count": groups_selectors.group_member_count(group=group),
            "grant_count": groups_selectors.group_grant_count(group=group),
            **rules(group),
        },
    )


@admin_required
@require_POST
def group_member_add(request, group_id):
    group = group_or_404(request, group_id)
    form = MemberAddForm(request.POST, prefix="member")
    status = 400
    if form.is_valid():
        user = users_selectors.user_by_email(organization=request.organization, email=form.cleaned_data["email"])
        if user is None:
            form.add_error("email", "No user with this email in your organization. Add the person under Users first.")
        else:
            try:
                added = services.group_members_add(
                    organization=request.organization, group=group, user_ids=[user.pk], actor=request.actor
                )
            except DomainError as error:
                # A one-field form: every refusal concerns the person entered.
                form.add_error("email", error.message)
                status = status_for(error)
            else:
                if added:
                    messages.success(request, f"{user.email} was added to {group.name}.")
                else:
                    messages.info(request, f"{user.email} is already a member of {group.name}.")
                return redirect(_detail_url(group, "members"))
    return render(
        request, "admincenter/groups/detail.html", _detail_context(request, group, member_form=form), status=status
    )


@admin_required
@require_POST
def group_member_remove(request, group_id, user_id):
    group = group_or_404(request, group_id)
    user = user_or_404(request, user_id)
    return group_member_remove_or_refuse(
        request,
        group=group,
        user=user,
        refuse=lambda error: _refuse(request, group, error),
        next_url=_detail_url(group, "members"),
    )


@admin_required
@require_POST
def group_grant_add(request, group_id):
    group = group_or_404(request, group_id)
    instances = list(groups_selectors.grantable_instances(organization=request.organization))
    form = GrantAddForm(request.POST, instances=instances, prefix="grant")
    write = form_write(
        form,
        lambda data: services.group_grant_add(
            organization=request.organization,
            group=group,
            instance=data["instance"],
            roles=data["roles"],
            actor=request.actor,
        ),
    )
    if write.done:
        roles = ", ".join(r.name for r in form.cleaned_data["roles"])
        messages.success(request, f"{group.name} now has {roles} on {form.cleaned_data['instance']}.")
        return redirect(_detail_url(group, "access"))
    return render(
        request, "admincenter/groups/detail.html", _detail_context(request, group, grant_form=form), status=write.status
    )


@admin_required
@require_POST
def group_grant_remove(request, group_id, grant_id):
    group = group_or_404(request, group_id)
    grant = groups_selectors.group_grant_get(group=group, grant_id=grant_id)
    if grant is None:
        raise Http404("No such grant on this group.")
    try:
        services.group_grant_remove(organization=request.organization, grant=grant, actor=request.actor)
    except DomainError as error:
        return _refuse(request, group, error)
    messages.success(request, f"{group.name} no longer has {grant.role.name} on {grant.product_instance}.")
    return redirect(_detail_url(group, "access"))
