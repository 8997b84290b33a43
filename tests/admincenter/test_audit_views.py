"""Admin Center > Audit log: who may see it, filters, database paging, detail, the SCIM
request log, and exports (streamed for small ranges, a Celery job with progress for large)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from admincenter import services
from admincenter.audit import export, processing, selectors
from admincenter.models import AuditEvent, AuditExport, AuditExportStatus, Outcome, ScimRequestLog
from admincenter.services import Actor
from tests.admincenter.audit_support import bulk_events, fixture_eager_celery, fixture_fresh_breaker  # noqa: F401 (fixtures)
from tests.conftest import ADMIN_PASSWORD
from tests.factories import UserFactory

OPERATOR = Actor.operator("tests")
DAY = datetime(2026, 2, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def export_dir(settings, tmp_path):
    settings.AUDIT_EXPORT_DIR = tmp_path / "exports"
    return settings.AUDIT_EXPORT_DIR


AUDIT_GET_PAGES = ["audit_log", "audit_requests"]


@pytest.mark.parametrize("name", AUDIT_GET_PAGES)
def test_anonymous_visitors_go_to_the_login_page(client, organization, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", AUDIT_GET_PAGES)
def test_members_who_are_not_admin_center_administrators_get_403(client, organization, name):
    member = UserFactory(organization=organization, email="member@acme.test", password=ADMIN_PASSWORD)
    client.force_login(member)
    assert client.get(reverse(name)).status_code == 403
    assert client.post(reverse("audit_export"), {"format": "csv"}).status_code == 403


def test_every_audit_view_is_guarded():
    from admincenter.audit import urls

    audit = [p for p in urls.urlpatterns if (getattr(p, "name", "") or "").startswith("audit")]
    assert len(audit) == 6
    for pattern in audit:
        assert getattr(pattern.callback, "admin_required", False), pattern.name


def test_the_log_lists_only_this_organizations_events_newest_first(admin_client, organization, other_organization):
    services.group_create(organization=organization, name="Sales", actor=OPERATOR)
    services.group_create(organization=other_organization, name="Globex only", actor=OPERATOR)

    response = admin_client.get(reverse("audit_log"))

    assert response.status_code == 200
    events = list(response.context["page"])
    assert events[0].action == "group.create" and events[0].target_label == "Sales"
    assert all(e.organization_id == organization.pk for e in events)
    assert [e.occurred_at for e in events] == sorted((e.occurred_at for e in events), reverse=True)
    assert b"Globex only" not in response.content


def test_another_organizations_event_is_404(admin_client, organization, other_organization):
    foreign = AuditEvent.objects.filter(organization=other_organization).first()
    assert admin_client.get(reverse("audit_detail", args=[foreign.pk])).status_code == 404


def test_filters_combine_in_the_database(admin_client, organization, django_assert_max_num_queries):
    bulk_events(organization, 3, action="user.update", when=DAY)
    bulk_events(organization, 2, action="group.delete", when=DAY + timedelta(days=1), actor_type="admin_user")
    AuditEvent.objects.filter(action="group.delete").update(actor_label="ann@acme.test", outcome=Outcome.DENIED)
    url = reverse("audit_log")

    def found(**params):
        response = admin_client.get(url, params)
        assert response.status_code == 200
        return response.context["page"].paginator.count

    assert found(since="2026-02-10", until="2026-02-10") == 3
    assert found(since="2026-02-11") >= 2
    assert found(action="group.delete") == 2
    assert found(action="group.", until="2026-02-11") == 2
    assert found(actor_type="admin_user", until="2026-02-11") == 2
    assert found(actor="ANN@acme", outcome="denied") == 2
    assert found(target="user2@acme.test") == 1
    assert found(request_id="req-0", action="user.update") == 1
    assert found(q="user2@") == 1
    response = admin_client.get(url, {"since": "2026-02-12", "until": "2026-02-10"})
    assert "until" in response.context["form"].errors
    with django_assert_max_num_queries(8):
        admin_client.get(url, {"q": "user", "page": "1"})


def test_paging_happens_in_the_database(admin_client, organization, django_assert_max_num_queries):
    bulk_events(organization, 120, when=DAY)
    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("audit_log"), {"page": 3, "until": "2026-02-10"})
    page = response.context["page"]
    assert (page.number, len(page.object_list), page.paginator.count) == (3, 20, 120)
    assert b"Newer" in response.content and b"Older" not in response.content


def test_the_detail_shows_before_and_after_and_the_scim_request(admin_client, organization):
    user = services.user_create(organization=organization, email="bob@acme.test", given_name="Bob", actor=OPERATOR)
    actor = Actor.admin(organization.home_users.get(email="admin@acme.test")).with_request(request_id="r-77")
    services.user_update(organization=organization, user=user, given_name="Robert", actor=actor)
    services.user_set_active(organization=organization, user=user, active=False, actor=actor)
    ScimRequestLog.objects.create(
        organization=organization, method="PATCH", path="/api/scim/v2/Users/1", status_code=200, request_id="r-77"
    )
    event = AuditEvent.objects.get(action="user.update")

    response = admin_client.get(reverse("audit_detail", args=[event.pk]))

    assert response.status_code == 200
    assert response.context["changes"] == [("given_name", "Bob", "Robert")]
    assert response.context["related"] == 1
    assert response.context["scim_request"].request_id == "r-77"
    body = response.content.decode()
    assert "Robert" in body and "PATCH /api/scim/v2/Users/1" in body
    assert f"{reverse('audit_log')}?request_id=r-77" in body


def test_the_scim_request_log_links_each_request_to_its_events(admin_client, organization):
    ScimRequestLog.objects.create(
        organization=organization, method="POST", path="/Users", status_code=201, request_id="rq-1", user_agent="Okta/1"
    )
    ScimRequestLog.objects.create(organization=organization, method="GET", path="/Users", status_code=401)
    bulk_events(organization, 2, request_id="rq-1")
    processing.audit_backlog_process()

    response = admin_client.get(reverse("audit_requests"))
    body = response.content.decode()
    assert f"{reverse('audit_log')}?request_id=rq-1" in body and "2 events" in body
    assert admin_client.get(reverse("audit_requests"), {"errors_only": "on"}).context["page"].paginator.count == 1
    assert admin_client.get(reverse("audit_requests"), {"idp": "Okta"}).context["page"].paginator.count == 1
    events = admin_client.get(reverse("audit_log"), {"request_id": "rq-1"}).context["page"]
    assert events.paginator.count == 2


def _streamed(response) -> str:
    return b"".join(response.streaming_content).decode()


def _command_export(organization, *args) -> str:
    out = io.StringIO()
    call_command("audit", "export", "--org", organization.slug, *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_small_export_streams_the_same_rows_as_the_command(admin_client, organization, fmt):
    bulk_events(organization, 30, when=DAY)
    bulk_events(organization, 5, when=DAY + timedelta(days=3))
    processing.audit_backlog_process()

    response = admin_client.post(reverse("audit_export"), {"format": fmt, "since": "2026-02-10", "until": "2026-02-11"})

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="audit-acme-2026-02-10-2026-02-11.{fmt}"'
    streamed = _streamed(response)
    assert streamed == _command_export(organization, "--since", "2026-02-10", "--until", "2026-02-11", "--format", fmt)
    lines = streamed.splitlines()
    assert len(lines) == (31 if fmt == "csv" else 30)
    if fmt == "jsonl":
        first = json.loads(lines[0])
        assert first["after"] == {"given_name": "B"} and first["summary"].startswith("PingOne")


def test_a_large_export_runs_as_a_job_with_progress_and_a_download_link(
    admin_client, organization, settings, export_dir, eager_celery, django_capture_on_commit_callbacks
):
    settings.AUDIT_EXPORT_STREAM_MAX_ROWS = 10
    bulk_events(organization, 25, when=DAY)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("audit_export"), {"format": "csv", "until": "2026-02-10"})

    job = AuditExport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("audit_export_detail", args=[job.pk])
    assert (job.status, job.written, job.total, job.percent) == (AuditExportStatus.DONE, 25, 25, 100)
    page = admin_client.get(response["Location"])
    assert reverse("audit_export_download", args=[job.pk]) in page.content.decode()
    download = admin_client.get(reverse("audit_export_download", args=[job.pk]))
    assert download["Content-Disposition"] == 'attachment; filename="audit-acme-2026-02-10.csv"'
    content = b"".join(download.streaming_content).decode()
    assert content == _command_export(organization, "--until", "2026-02-10")


def test_a_queued_export_shows_a_progress_bar_that_refreshes(admin_client, organization):
    job = AuditExport.objects.create(
        organization=organization, status=AuditExportStatus.RUNNING, total=1000, written=250
    )
    response = admin_client.get(reverse("audit_export_detail", args=[job.pk]))
    body = response.content.decode()
    assert '<progress id="export-progress" max="100" value="25">' in body
    assert 'http-equiv="refresh"' in body
    assert admin_client.get(reverse("audit_export_download", args=[job.pk])).status_code == 404


def test_exports_of_another_organization_are_404(admin_client, other_organization, export_dir):
    job = AuditExport.objects.create(organization=other_organization, status=AuditExportStatus.DONE, file_name="x.csv")
    assert admin_client.get(reverse("audit_export_detail", args=[job.pk])).status_code == 404
    assert admin_client.get(reverse("audit_export_download", args=[job.pk])).status_code == 404


def test_an_export_job_run_twice_writes_once(organization, export_dir):
    bulk_events(organization, 3, when=DAY)
    job = export.export_job_create(organization=organization, filters=selectors.AuditFilters(), fmt="jsonl")
    first = export.export_job_run(job_id=job.pk)
    second = export.export_job_run(job_id=job.pk)
    assert first.status == AuditExportStatus.DONE and second is None
    assert len(list(export_dir.iterdir())) == 1


def test_an_invalid_export_request_is_400(admin_client, organization):
    response = admin_client.post(reverse("audit_export"), {"format": "xml"})
    assert response.status_code == 400
    assert not AuditExport.objects.exists()


def test_the_csv_export_defuses_spreadsheet_formulas(organization):
    services.group_create(organization=organization, name="=HYPERLINK(1)", actor=OPERATOR)
    csv_text = "".join(export.export_lines(organization=organization, filters=selectors.AuditFilters(), fmt="csv"))
    assert ",'=HYPERLINK(1)," in csv_text


@pytest.mark.django_db
def test_admin_of_another_organization_cannot_read_this_log(organization, other_organization):
    client = Client()
    client.force_login(other_organization.home_users.get(email="admin@globex.test"))
    response = client.get(reverse("audit_log"))
    assert response.status_code == 200
    assert all(e.organization_id == other_organization.pk for e in response.context["page"])
