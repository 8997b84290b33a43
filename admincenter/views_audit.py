"""Admin Center > Audit log: the event list and detail, the SCIM request log, and exports.

Only members of the organization's *Admin Center Administrators* group may see these pages
(domain.md §5.1, ``admincenter.permissions.admin_required``); the organization is always the
signed-in admin's home organization, and every object is fetched filtered by it (another
organization's id is a 404). Filtering, paging and exporting happen in the database through
``admincenter.services.audit_pipeline``.
"""

from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from admincenter.idp import KNOWN_IDPS
from admincenter.models import ActorType, AuditEvent, AuditExport, AuditExportStatus, Outcome, ScimRequestLog
from admincenter.permissions import admin_required
from admincenter.services import audit_pipeline
from admincenter.services.audit_pipeline import AuditFilters

PAGE_SIZE = 50
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


class AuditFilterForm(forms.Form):
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    actor_type = forms.ChoiceField(required=False, label="Actor type", choices=[("", "Any"), *ActorType.choices])
    actor = forms.CharField(required=False, max_length=255, label="Actor")
    action = forms.CharField(
        required=False,
        max_length=64,
        label="Action",
        help_text='Exact name, or a prefix ending in "." such as "group.".',
        widget=forms.TextInput(attrs={"list": "audit-actions"}),
    )
    target = forms.CharField(required=False, max_length=255, label="Target")
    outcome = forms.ChoiceField(required=False, label="Outcome", choices=[("", "Any"), *Outcome.choices])
    q = forms.CharField(required=False, max_length=200, label="Text")
    request_id = forms.CharField(required=False, max_length=64, label="Request id")

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "The end date is before the start date.")
        return data

    def filters(self) -> AuditFilters:
        """The valid fields as filters (an invalid field is left out, and shown as an error)."""
        data = {name: value for name, value in self.cleaned_data.items() if name not in self.errors}
        return AuditFilters.from_dict(data)


class ExportForm(AuditFilterForm):
    format = forms.ChoiceField(choices=[("csv", "CSV"), ("jsonl", "JSON Lines")], initial="csv")


def _filter_form(data) -> tuple[AuditFilterForm, AuditFilters]:
    form = AuditFilterForm(data)
    form.is_valid()
    return form, form.filters()


@require_GET
@admin_required
def audit_log(request):
    form, filters = _filter_form(request.GET)
    events = audit_pipeline.audit_events_search(organization=request.organization, filters=filters)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    recent_exports = AuditExport.objects.filter(organization=request.organization)[:5]
    return render(
        request,
        "admincenter/audit/log.html",
        {
            "organization": request.organization,
            "form": form,
            "filtered": bool(filters.to_dict()),
            "filter_items": filters.to_dict().items(),
            "page": page,
            "actions": audit_pipeline.KNOWN_ACTIONS,
            "recent_exports": recent_exports,
        },
    )


def _shown(value):
    """Strings as they are; lists, numbers and booleans as JSON (``["a", "b"]``, ``true``)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@require_GET
@admin_required
def audit_detail(request, pk: int):
    event = get_object_or_404(AuditEvent, pk=pk, organization=request.organization)
    keys = sorted(set(event.before or {}) | set(event.after or {}))
    changes = [(key, _shown((event.before or {}).get(key)), _shown((event.after or {}).get(key))) for key in keys]
    scim_request = None
    related = 0
    if event.request_id:
        scim_request = (
            ScimRequestLog.objects.filter(organization=request.organization, request_id=event.request_id)
            .order_by("id")
            .first()
        )
        related = (
            AuditEvent.objects.filter(organization=request.organization, request_id=event.request_id)
            .exclude(pk=event.pk)
            .count()
        )
    return render(
        request,
        "admincenter/audit/detail.html",
        {
            "organization": request.organization,
            "event": event,
            "changes": changes,
            "scim_request": scim_request,
            "related": related,
        },
    )


class RequestFilterForm(forms.Form):
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    idp = forms.ChoiceField(required=False, label="IdP", choices=[("", "Any"), *((i, i) for i in KNOWN_IDPS)])
    errors_only = forms.BooleanField(required=False, label="Errors only")
    request_id = forms.CharField(required=False, max_length=64, label="Request id")


@require_GET
@admin_required
def audit_requests(request):
    """The SCIM request log: one row per request, each linking to the events it caused."""
    form = RequestFilterForm(request.GET)
    criteria = form.cleaned_data if form.is_valid() else {}
    rows = audit_pipeline.scim_requests_search(organization=request.organization, **criteria)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "admincenter/audit/requests.html",
        {"organization": request.organization, "form": form, "page": page},
    )


@require_POST
@admin_required
def audit_export(request):
    """Small ranges stream straight back; larger ones become an export job (Celery task)."""
    form = ExportForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "admincenter/audit/export_invalid.html",
            {"organization": request.organization, "form": form},
            status=400,
        )
    filters, fmt = form.filters(), form.cleaned_data["format"]
    total = audit_pipeline.audit_events_search(organization=request.organization, filters=filters).count()
    if total <= settings.AUDIT_EXPORT_STREAM_MAX_ROWS:
        response = StreamingHttpResponse(
            audit_pipeline.export_lines(organization=request.organization, filters=filters, fmt=fmt),
            content_type=CONTENT_TYPES[fmt],
        )
        name = audit_pipeline.export_filename(organization=request.organization, filters=filters, fmt=fmt)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    job = audit_pipeline.export_job_create(
        organization=request.organization, filters=filters, fmt=fmt, requested_by=request.user, total=total
    )
    return redirect("audit_export_detail", pk=job.pk)


@require_GET
@admin_required
def audit_export_detail(request, pk: int):
    job = get_object_or_404(AuditExport, pk=pk, organization=request.organization)
    running = job.status in (AuditExportStatus.PENDING, AuditExportStatus.RUNNING)
    return render(
        request,
        "admincenter/audit/export.html",
        {
            "organization": request.organization,
            "job": job,
            "running": running,
            "filter_items": job.filters.items(),
        },
    )


@require_GET
@admin_required
def audit_export_download(request, pk: int):
    job = get_object_or_404(AuditExport, pk=pk, organization=request.organization, status=AuditExportStatus.DONE)
    path = audit_pipeline.export_job_path(job)
    if path is None or not path.is_file():
        raise Http404("The export file is no longer available; start a new export.")
    filters = AuditFilters.from_dict(job.filters)
    name = audit_pipeline.export_filename(organization=request.organization, filters=filters, fmt=job.format)
    return FileResponse(path.open("rb"), as_attachment=True, filename=name, content_type=CONTENT_TYPES[job.format])
