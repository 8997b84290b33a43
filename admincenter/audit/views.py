"""Admin Center > Audit log: the event list and detail, the SCIM request log, and exports.

Only members of the organization's *Admin Center Administrators* group may see these pages
(``admincenter.permissions.admin_required``); the organization is always the signed-in admin's
home organization, and every object is read through ``admincenter.audit.selectors`` filtered by
it (another organization's id is a 404). Filtering, paging and exporting happen in the database.

The boundary: HTTP only; reads come from ``selectors``, exports from ``export``.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from admincenter.audit import export, selectors
from admincenter.audit.actions import KNOWN_ACTIONS
from admincenter.audit.forms import AuditFilterForm, ExportForm, RequestFilterForm
from admincenter.audit.selectors import AuditFilters
from admincenter.models import AuditExportFormat, AuditExportStatus
from admincenter.permissions import admin_required
from admincenter.views.common import found_or_404, paginate

CONTENT_TYPES = {
    AuditExportFormat.CSV: "text/csv; charset=utf-8",
    AuditExportFormat.JSONL: "application/x-ndjson; charset=utf-8",
}


def _filter_form(data) -> tuple[AuditFilterForm, AuditFilters]:
    form = AuditFilterForm(data)
    form.is_valid()
    return form, form.filters()


@require_GET
@admin_required
def audit_log(request):
    form, filters = _filter_form(request.GET)
    events = selectors.audit_events_search(organization=request.organization, filters=filters)
    return render(
        request,
        "admincenter/audit/log.html",
        {
            "organization": request.organization,
            "form": form,
            "filtered": bool(filters.to_dict()),
            "filter_items": filters.to_dict().items(),
            "page": paginate(request, events),
            "actions": KNOWN_ACTIONS,
            "recent_exports": selectors.audit_exports_recent(organization=request.organization),
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
    event = found_or_404(selectors.audit_event_get(organization=request.organization, pk=pk), "No such audit event.")
    keys = sorted(set(event.before or {}) | set(event.after or {}))
    changes = [(key, _shown((event.before or {}).get(key)), _shown((event.after or {}).get(key))) for key in keys]
    return render(
        request,
        "admincenter/audit/detail.html",
        {
            "organization": request.organization,
            "event": event,
            "changes": changes,
            "scim_request": selectors.scim_request_for_event(organization=request.organization, event=event),
            "related": selectors.related_event_count(organization=request.organization, event=event),
        },
    )


@require_GET
@admin_required
def audit_requests(request):
    """The SCIM request log: one row per request, each linking to the events it caused."""
    form = RequestFilterForm(request.GET)
    criteria = form.cleaned_data if form.is_valid() else {}
    rows = selectors.scim_requests_search(organization=request.organization, **criteria)
    return render(
        request,
        "admincenter/audit/requests.html",
        {"organization": request.organization, "form": form, "page": paginate(request, rows)},
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
    total = selectors.audit_events_search(organization=request.organization, filters=filters).count()
    if total <= settings.AUDIT_EXPORT_STREAM_MAX_ROWS:
        response = StreamingHttpResponse(
            export.export_lines(organization=request.organization, filters=filters, fmt=fmt),
            content_type=CONTENT_TYPES[fmt],
        )
        name = export.export_filename(organization=request.organization, filters=filters, fmt=fmt)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    job = export.export_job_create(
        organization=request.organization, filters=filters, fmt=fmt, requested_by=request.user, total=total
    )
    return redirect("audit_export_detail", pk=job.pk)


@require_GET
@admin_required
def audit_export_detail(request, pk: int):
    job = found_or_404(selectors.audit_export_get(organization=request.organization, pk=pk), "No such export.")
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
    job = found_or_404(
        selectors.audit_export_get(organization=request.organization, pk=pk, status=AuditExportStatus.DONE),
        "No such export.",
    )
    path = export.export_job_path(job)
    if path is None or not path.is_file():
        raise Http404("The export file is no longer available; start a new export.")
    filters = AuditFilters.from_dict(job.filters)
    name = export.export_filename(organization=request.organization, filters=filters, fmt=job.format)
    return FileResponse(path.open("rb"), as_attachment=True, filename=name, content_type=CONTENT_TYPES[job.format])
