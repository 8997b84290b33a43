"""The dashboard: provisioning mode, SCIM connection health, counts and the hourly chart."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from admincenter.models import AuditHourlyRollup, ScimRequestLog, ScimToken
from admincenter.selectors.dashboard import hourly_scim_requests
from admincenter.views.charts import hourly_chart
from tests.factories import GroupFactory, UserFactory


def hour_now():
    return timezone.now().replace(minute=0, second=0, microsecond=0)


def test_dashboard_in_jit_mode(admin_client, organization):
    response = admin_client.get(reverse("home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Acme</h1>" in html
    assert 'badge-jit">JIT<' in html
    assert "No SCIM requests in the last 7 days" in html
    assert '<svg viewBox="0 0 860 220" role="img"' in html


def test_dashboard_in_scim_mode_shows_the_connection_tokens_and_last_request(
    admin_client, scim_organization, issued_scim_token, scim_managed_user
):
    ScimRequestLog.objects.create(
        organization=scim_organization,
        method="POST",
        path="/Users",
        status_code=409,
        scim_type="uniqueness",
        occurred_at=timezone.now() - timedelta(minutes=5),
    )
    ScimRequestLog.objects.create(organization=scim_organization, method="GET", path="/Users", status_code=200)
    response = admin_client.get(reverse("home"))
    html = response.content.decode()
    assert "SCIM via PingOne" in html
    assert len(response.context["live_tokens"]) == 1
    assert "<code>GET /Users</code>" in html and "200 OK" in html
    assert "409 uniqueness" in html  # the last error, shown apart from the last request
    assert response.context["user_counts"]["scim"] == 1


def test_dashboard_warns_about_tokens_close_to_expiry(admin_client, scim_organization, issued_scim_token):
    ScimToken.objects.filter(pk=issued_scim_token.token.pk).update(expires_at=timezone.now() + timedelta(days=6))
    html = admin_client.get(reverse("home")).content.decode()
    assert "expires" in html and "Rotate it" in html


def test_counts_by_source_and_kind(admin_client, organization, sso_connection, other_organization):
    UserFactory(organization=organization, email="j@acme.test", source="jit")
    UserFactory(organization=organization, email="s@acme.test", source="scim", scim_connection=sso_connection)
    UserFactory(organization=organization, email="off@acme.test", is_active=False)
    GroupFactory(organization=organization, name="C1")
    response = admin_client.get(reverse("home"))
    counts = response.context["user_counts"]
    assert (counts["active"], counts["inactive"], counts["jit"], counts["scim"], counts["manual"]) == (3, 1, 1, 1, 2)
    assert response.context["group_counts"]["custom"] == 1
    assert response.context["group_counts"]["system"] == 2


def test_chart_reads_the_hourly_rollup(organization):
    now = hour_now()
    AuditHourlyRollup.objects.create(organization=organization, hour=now - timedelta(hours=2), requests=10, errors=3)
    AuditHourlyRollup.objects.create(organization=organization, hour=now - timedelta(days=8), requests=99, errors=0)
    # A raw row the pipeline already rolled up is not counted twice...
    ScimRequestLog.objects.create(
        organization=organization,
        method="GET",
        path="/Users",
        status_code=200,
        occurred_at=now - timedelta(hours=2),
        processed_at=timezone.now(),
    )
    # ...and one it has not processed yet is added to its hour.
    ScimRequestLog.objects.create(organization=organization, method="GET", path="/Users", status_code=500)
    counts, source = hourly_scim_requests(organization=organization)
    assert source == "rollup"
    assert len(counts) == 168
    assert counts[-1].hour == now
    assert (counts[-3].requests, counts[-3].errors) == (10, 3)
    assert (counts[-1].requests, counts[-1].errors) == (1, 1)
    assert sum(c.requests for c in counts) == 11  # the 8-day-old hour is outside the window


def test_chart_ignores_rollup_hours_without_requests(organization):
    AuditHourlyRollup.objects.create(organization=organization, hour=hour_now(), users_created=4)
    ScimRequestLog.objects.create(organization=organization, method="POST", path="/Users", status_code=201)
    counts, source = hourly_scim_requests(organization=organization)
    assert source == "request_log"
    assert (counts[-1].requests, counts[-1].errors) == (1, 0)


def test_chart_falls_back_to_the_request_log_in_one_query(organization, django_assert_num_queries):
    now = timezone.now()
    for minutes, status in [(1, 200), (2, 201), (3, 500), (70, 401), (60 * 24 * 8, 200)]:
        ScimRequestLog.objects.create(
            organization=organization,
            method="GET",
            path="/Users",
            status_code=status,
            occurred_at=now - timedelta(minutes=minutes),
        )
    with django_assert_num_queries(2):  # the (empty) roll-up, then the request log by hour
        counts, source = hourly_scim_requests(organization=organization, now=now)
    assert source == "request_log"
    total = sum(c.requests for c in counts)
    assert total == 4
    assert sum(c.errors for c in counts) == 2


def test_chart_geometry_stacks_errors_on_successes(organization):
    now = hour_now()
    AuditHourlyRollup.objects.create(organization=organization, hour=now, requests=8, errors=2)
    counts, _ = hourly_scim_requests(organization=organization)
    chart = hourly_chart(counts)
    (bar,) = chart["bars"]
    assert bar.error_y + bar.error_h == pytest.approx(bar.success_y)
    assert bar.success_y + bar.success_h == pytest.approx(chart["baseline"])
    assert bar.success_h == pytest.approx(3 * bar.error_h)
    assert "8 requests, 2 errors" in bar.title
    assert chart["ticks"][-1]["label"] == "10"
    assert len(chart["days"]) in (6, 7)


def test_dashboard_renders_the_chart_and_its_text_alternative(admin_client, organization):
    AuditHourlyRollup.objects.create(organization=organization, hour=hour_now(), requests=5, errors=1)
    html = admin_client.get(reverse("home")).content.decode()
    assert '<rect class="ok"' in html and '<rect class="err"' in html
    assert "5 SCIM requests in the last 7 days, of which 1 failed" in html
    assert "Daily summary" in html


def test_dashboard_query_count_does_not_grow_with_data(
    admin_client, scim_organization, sso_connection, django_assert_max_num_queries
):
    users = [UserFactory(organization=scim_organization, email=f"u{i}@acme.test") for i in range(200)]
    for g in range(50):
        GroupFactory(organization=scim_organization, name=f"G{g}", members=users[g : g + 10])
    ScimRequestLog.objects.bulk_create(
        [
            ScimRequestLog(
                organization=scim_organization,
                method="GET",
                path="/Users",
                status_code=200 + (i % 2) * 200,
                occurred_at=timezone.now() - timedelta(hours=i),
            )
            for i in range(150)
        ]
    )
    with django_assert_max_num_queries(16):
        response = admin_client.get(reverse("home"))
    assert response.context["chart"]["total"] == 150
