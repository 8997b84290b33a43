"""The dashboard at "/": provisioning mode, SCIM connection health, counts, and the
SCIM requests-per-hour chart."""

from __future__ import annotations

from datetime import timedelta

from django.shortcuts import redirect, render
from django.utils import timezone

from admincenter.permissions import admin_required, is_admin
from admincenter.selectors import dashboard as dashboard_selectors
from admincenter.selectors import groups as groups_selectors
from admincenter.selectors import products as products_selectors
from admincenter.selectors import sso as sso_selectors
from admincenter.selectors import tokens as tokens_selectors
from admincenter.selectors import users as users_selectors
from admincenter.views.charts import hourly_chart
from admincenter.views.common import scim_base_url

EXPIRY_WARNING_DAYS = 30  # warn 30, 7 and 1 days before a token expires (docs/domain.md#tokens-are-shown-once)


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
    scim_connection = sso_selectors.scim_connection_for(organization=organization)
    tokens = list(tokens_selectors.token_list_unrevoked(organization=organization))
    live_tokens = [t for t in tokens if t.is_live]
    expiring = [t for t in live_tokens if t.expires_at and t.expires_at <= now + timedelta(days=EXPIRY_WARNING_DAYS)]
    counts, chart_source = dashboard_selectors.hourly_scim_requests(organization=organization, now=now)
    last_request = dashboard_selectors.last_scim_request(organization=organization)
    context = {
        "section": "dashboard",
        "organization": organization,
        "scim_connection": scim_connection,
        "sso_connection_count": sso_selectors.sso_connection_count(organization=organization),
        "live_tokens": live_tokens,
        "expiring_tokens": expiring,
        "last_request": last_request,
        "last_error": dashboard_selectors.last_scim_error(organization=organization) if last_request else None,
        "user_counts": users_selectors.user_counts(organization=organization),
        "group_counts": groups_selectors.group_counts(organization=organization),
        "instance_count": products_selectors.instance_count(organization=organization),
        "chart": hourly_chart(counts),
        "chart_source": chart_source,
        "recent_events": dashboard_selectors.recent_audit_events(organization=organization),
        "scim_base_url": scim_base_url(request),
    }
    return render(request, "admincenter/dashboard.html", context)
