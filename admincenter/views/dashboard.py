"""The dashboard at "/": provisioning mode, SCIM connection health, counts, and the
SCIM requests-per-hour chart (domain.md §5.2)."""

from __future__ import annotations

from datetime import timedelta

from django.shortcuts import redirect, render
from django.utils import timezone

from admincenter.models import ProductInstance, SsoConnection
from admincenter.permissions import admin_required, is_admin
from admincenter.views import queries
from admincenter.views.charts import hourly_chart
from admincenter.views.common import scim_base_url

EXPIRY_WARNING_DAYS = 30  # O1: warn 30, 7 and 1 days before a token expires


def home(request):
    """The dashboard for administrators; other people of an organization land on My access."""
    user = request.user
    if user.is_authenticated and user.home_organization_id is not None and not is_admin(request):
        return redirect("my_access")
    return dashboard(request)


@admin_required
def dashboard(request):
    organization = request.organization
    now = timezone.now()
    scim_connection = SsoConnection.objects.filter(organization=organization, scim_enabled=True).first()
    tokens = list(queries.token_list(organization=organization).filter(revoked_at__isnull=True))
    live_tokens = [t for t in tokens if t.is_live]
    expiring = [t for t in live_tokens if t.expires_at and t.expires_at <= now + timedelta(days=EXPIRY_WARNING_DAYS)]
    counts, chart_source = queries.hourly_scim_requests(organization=organization, now=now)
    last_request = queries.last_scim_request(organization=organization)
    context = {
        "section": "dashboard",
        "organization": organization,
        "scim_connection": scim_connection,
        "sso_connection_count": SsoConnection.objects.filter(organization=organization).count(),
        "live_tokens": live_tokens,
        "expiring_tokens": expiring,
        "last_request": last_request,
        "last_error": queries.last_scim_error(organization=organization) if last_request else None,
        "user_counts": queries.user_counts(organization=organization),
        "group_counts": queries.group_counts(organization=organization),
        "instance_count": ProductInstance.objects.filter(organization=organization).count(),
        "chart": hourly_chart(counts),
        "chart_source": chart_source,
        "recent_events": queries.recent_audit_events(organization=organization),
        "scim_base_url": scim_base_url(request),
    }
    return render(request, "admincenter/dashboard.html", context)
