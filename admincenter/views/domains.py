"""Settings > Domains: the domains the organization's SSO connections claim, the TXT
record that verifies each, and the Verify button (admincenter/services/domains.py).

A verification failure is shown next to its domain on the re-rendered list, with the
status of the refusal; a success redirects back to the list (POST/redirect/GET), which
marks the domain just verified.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from admincenter.errors import DomainError
from admincenter.permissions import admin_required
from admincenter.selectors import sso as sso_selectors
from admincenter.services.domains import domain_verify, verification_record
from admincenter.views.common import status_for


def _domain_rows(organization, *, errors: dict[int, str] | None = None, just_verified: int | None = None):
    errors = errors or {}
    return [
        {
            "domain": domain,
            "record": verification_record(domain),
            "error": errors.get(domain.pk, ""),
            "just_verified": domain.pk == just_verified and domain.is_verified,
        }
        for domain in sso_selectors.domain_list(organization=organization)
    ]


def _render(request, rows, status=200, page_error=""):
    return render(
        request,
        "admincenter/settings/domains.html",
        {
            "section": "settings",
            "rows": rows,
            "unverified": sum(not r["domain"].is_verified for r in rows),
            "page_error": page_error,
        },
        status=status,
    )


@admin_required
@require_GET
def domain_list(request):
    try:
        just_verified = int(request.GET.get("verified", ""))
    except ValueError:
        just_verified = None
    return _render(request, _domain_rows(request.organization, just_verified=just_verified))


@admin_required
@require_POST
def domain_verify_view(request, domain_id):
    claimed = sso_selectors.domain_get(organization=request.organization, domain_id=domain_id)
    if claimed is None:
        raise Http404("No such domain in this organization.")
    try:
        domain_verify(organization=request.organization, domain=claimed.domain, actor=request.actor)
    except DomainError as error:
        rows = _domain_rows(request.organization, errors={claimed.pk: error.message})
        # The domain may have left its connection meanwhile: then the error has no row to sit in.
        shown = any(row["error"] for row in rows)
        return _render(request, rows, status=status_for(error), page_error="" if shown else error.message)
    return redirect(f"{reverse('domain_list')}?verified={claimed.pk}#domain-{claimed.pk}")
