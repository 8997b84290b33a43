"""``/metrics`` (optiid/metrics.py, admincenter/metrics.py): who may scrape it, and that what
happens during a test (SCIM requests, refusals, sign-ins, pending audit rows) shows in the scrape."""

import ipaddress
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import OperationalError
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from admincenter import metrics
from admincenter.models import AuditEvent, ScimRequestLog, ScimToken
from admincenter.services import signin
from admincenter.services.signin import SignInContext, SignInRefused
from sso.identity import SsoIdentity, SsoValidationError
from tests.scim.helpers import ScimClient

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-test-token-0123456789"


@pytest.fixture
def scrape_token(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []


def scrape(client=None, **headers) -> dict[tuple, float]:
    """Every sample of a scrape, keyed by (name, sorted labels)."""
    response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **headers)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain")
    return samples(response.content.decode())


def samples(text: str) -> dict[tuple, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in found, f"{key} appears twice"
            found[key] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def scim_requests(found, method, resource, status_class) -> float:
    return value(found, "optiid_scim_requests_total", method=method, resource=resource, status_class=status_class)


# --- access ---------------------------------------------------------------------------


def test_metrics_are_off_when_neither_a_token_nor_networks_are_configured(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN, "Bearer "])
def test_a_scrape_without_the_token_is_refused_without_details(scrape_token, authorization):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = Client().get("/metrics", **headers)
    assert response.status_code == 401
    assert response.content == b""
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


def test_a_scrape_with_the_token_is_answered(scrape_token):
    found = scrape()
    assert ("optiid_audit_backlog_rows", (("table", "audit_event"),)) in found


def test_the_network_allowlist_admits_its_clients_and_refuses_others(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.20.0.0/16"), ipaddress.ip_network("2001:db8::/32")]
    assert Client(REMOTE_ADDR="10.20.3.4").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="2001:db8::7").get("/metrics").status_code == 200
    refused = Client(REMOTE_ADDR="10.21.0.1").get("/metrics")
    assert (refused.status_code, refused.content) == (403, b"")
    assert Client(REMOTE_ADDR="10.21.0.1").get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 403


def test_with_both_configured_either_the_network_or_the_token_is_enough(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.20.0.0/16")]
    assert Client(REMOTE_ADDR="10.20.3.4").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="192.0.2.1").get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert Client(REMOTE_ADDR="192.0.2.1").get("/metrics").status_code == 401


def test_only_get_scrapes(scrape_token):
    assert Client().post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


# --- what the scrape shows ------------------------------------------------------------------


def test_a_scim_request_and_a_401_made_during_the_test_show_in_the_scrape(scrape_token, scim_token):
    before = scrape()
    assert ScimClient(scim_token).get("/Users").status_code == 200
    assert ScimClient("not-a-token").get("/Groups").status_code == 401
    after = scrape()

    assert scim_requests(after, "GET", "Users", "2xx") == scim_requests(before, "GET", "Users", "2xx") + 1
    assert scim_requests(after, "GET", "Groups", "4xx") == scim_requests(before, "GET", "Groups", "4xx") + 1
    assert value(after, "optiid_scim_auth_failures_total") == value(before, "optiid_scim_auth_failures_total") + 1
    count = ("optiid_scim_request_duration_seconds_count", (("resource", "Users"),))
    assert after[count] == before.get(count, 0) + 1


def test_an_unknown_scim_path_counts_as_resource_other_and_labels_stay_bounded(scrape_token, scim_token):
    before = scrape()
    client = ScimClient(scim_token)
    for path in ("/Nope/123", "/Users/7/extra/segments", "/Bulk", "/random-user-id-4711"):
        assert client.get(path).status_code in (404, 501)
    after = scrape()

    assert scim_requests(after, "GET", "other", "4xx") == scim_requests(before, "GET", "other", "4xx") + 3
    assert scim_requests(after, "GET", "other", "5xx") == scim_requests(before, "GET", "other", "5xx") + 1
    resources = {dict(labels).get("resource") for name, labels in after if name.startswith("optiid_scim_request")}
    assert resources <= {"Users", "Groups", "ServiceProviderConfig", "Schemas", "ResourceTypes", "other"}
    every_label = {key for name, labels in after if name.startswith("optiid_") for key, _ in labels}
    assert every_label <= {"method", "resource", "status_class", "table", "outcome", "le"}


def test_a_429_is_counted(scrape_token, scim_token, settings):
    settings.SCIM_RATE_LIMIT_PER_MINUTE = 1
    before = value(scrape(), "optiid_scim_rate_limited_total")
    client = ScimClient(scim_token)
    statuses = [client.get("/ServiceProviderConfig").status_code for _ in range(3)]
    assert 429 in statuses
    assert value(scrape(), "optiid_scim_rate_limited_total") == before + statuses.count(429)


def test_a_database_connection_error_in_a_scim_request_is_counted(scrape_token, scim_token, monkeypatch):
    from admincenter.services import scim as scim_services

    def refuse(**row):
        raise OperationalError("simulated: server closed the connection")

    before = value(scrape(), "optiid_database_connection_errors_total")
    monkeypatch.setattr(scim_services, "scim_request_log_record", refuse)
    assert ScimClient(scim_token).get("/Users").status_code == 500
    monkeypatch.undo()
    assert value(scrape(), "optiid_database_connection_errors_total") == before + 1


def test_sign_ins_are_counted_by_outcome(
    scrape_token, scim_organization, sso_connection, manual_user, scim_managed_user
):
    context = SignInContext(request_id="req-1", ip="198.51.100.4", user_agent="Firefox/131")

    def sign_in(email):
        return signin.sso_sign_in(connection=sso_connection, identity=SsoIdentity(email=email), context=context)

    def counts():
        found = scrape()
        return {o: value(found, "optiid_sign_ins_total", method="sso", outcome=o) for o in metrics.SIGN_IN_OUTCOMES}

    before = counts()
    assert sign_in(scim_managed_user.email) == scim_managed_user
    with pytest.raises(SignInRefused):  # SCIM mode: a user the IdP did not provision
        sign_in(manual_user.email)
    with pytest.raises(SignInRefused):  # SCIM mode: JIT is off for an unknown person
        sign_in("nobody@acme.test")
    signin.sso_validation_failed(
        connection=sso_connection, error=SsoValidationError("signature_invalid"), context=context
    )
    after = counts()
    assert {o: after[o] - before[o] for o in after} == {"success": 1, "refused": 1, "jit_refused": 1, "failure": 1}


def test_an_unknown_sign_in_outcome_is_a_programming_error():
    with pytest.raises(ValueError):
        metrics.sign_in_count(method="sso", outcome="maybe")


def test_the_backlog_gauges_reflect_pending_rows_read_at_scrape_time(scrape_token, organization):
    AuditEvent.objects.update(processed_at=timezone.now())
    ScimRequestLog.objects.update(processed_at=timezone.now())
    empty = scrape()
    assert value(empty, "optiid_audit_backlog_rows", table="audit_event") == 0
    assert value(empty, "optiid_audit_backlog_oldest_seconds", table="audit_event") == 0

    old = timezone.now() - timedelta(minutes=30)
    AuditEvent.objects.bulk_create(
        [AuditEvent(organization=organization, actor_type="system", action="user.create", occurred_at=old)] * 1
        + [AuditEvent(organization=organization, actor_type="system", action="user.create") for _ in range(2)]
    )
    ScimRequestLog.objects.create(organization=organization, method="GET", path="/x", status_code=200)
    found = scrape()
    assert value(found, "optiid_audit_backlog_rows", table="audit_event") == 3
    assert value(found, "optiid_audit_backlog_rows", table="scim_request_log") == 1
    assert 30 * 60 <= value(found, "optiid_audit_backlog_oldest_seconds", table="audit_event") < 31 * 60


def test_tokens_expiring_within_seven_days_are_counted(scrape_token, scim_token):
    token = ScimToken.objects.get()
    baseline = value(scrape(), "optiid_scim_tokens_expiring")
    ScimToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() + timedelta(days=3))
    assert value(scrape(), "optiid_scim_tokens_expiring") == baseline + 1
    ScimToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() + timedelta(days=8))
    assert value(scrape(), "optiid_scim_tokens_expiring") == baseline


def test_the_celery_queue_length_is_absent_without_a_redis_broker(scrape_token, settings):
    settings.CELERY_BROKER_URL = ""
    assert not any(name == "optiid_celery_queue_length" for name, _ in scrape())


@pytest.mark.redis
def test_the_celery_queue_length_is_the_length_of_the_default_queue_on_redis(scrape_token, settings):
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    queue = "metrics-test-queue"
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    client.delete(queue)
    try:
        client.rpush(queue, "a", "b")
        assert value(scrape(), "optiid_celery_queue_length") == 2
    finally:
        client.delete(queue)


def test_an_unreachable_broker_leaves_the_queue_length_out_but_the_scrape_answers(scrape_token, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    found = scrape()
    assert not any(name == "optiid_celery_queue_length" for name, _ in found)
    assert ("optiid_audit_backlog_rows", (("table", "audit_event"),)) in found


# --- gunicorn workers --------------------------------------------------------------------


def test_in_multiprocess_mode_the_workers_counts_add_up_and_the_scrape_time_figures_appear_once(
    scrape_token, tmp_path, monkeypatch
):
    """Two worker processes count one SCIM request each into PROMETHEUS_MULTIPROC_DIR; the
    process answering the scrape reports their sum, and reads the backlog once."""
    worker = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','optiid.settings'); django.setup()\n"
        "from admincenter import metrics\n"
        "metrics.scim_request_observe(method='GET', resource='Users', status=200, seconds=0.01)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-c", worker], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    found = scrape()  # ``samples`` fails on any series reported twice
    assert scim_requests(found, "GET", "Users", "2xx") == 2
    assert value(found, "optiid_scim_request_duration_seconds_count", resource="Users") == 2
    assert ("optiid_audit_backlog_rows", (("table", "audit_event"),)) in found


# --- settings, in fresh interpreters (settings and label sets are read once per process) ----------


def _run(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


_SETUP = "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','optiid.settings'); django.setup()\n"


@pytest.mark.parametrize("raw", ["10.0.0.0/33", "not-a-network", "10.0.0.1/8"])
def test_a_malformed_allowed_network_stops_start_up_naming_the_variable(raw):
    result = _run(_SETUP, METRICS_ALLOWED_NETWORKS=f"192.168.0.0/16,{raw}")
    assert result.returncode != 0
    assert f"METRICS_ALLOWED_NETWORKS: {raw!r} is not a network" in result.stderr


def test_per_organization_labels_only_when_the_operator_opts_in():
    code = _SETUP + (
        "from types import SimpleNamespace\n"
        "from prometheus_client import generate_latest\n"
        "from admincenter import metrics\n"
        "org = SimpleNamespace(slug='acme')\n"
        "metrics.scim_request_observe(method='GET', resource='Users', status=401, seconds=0.01, organization=org)\n"
        "metrics.sign_in_count(method='sso', outcome='success', organization=org)\n"
        "print(generate_latest().decode())\n"
    )
    opted_in = samples(_run(code, METRICS_PER_ORGANIZATION="true").stdout)
    assert (
        value(
            opted_in,
            "optiid_scim_requests_total",
            method="GET",
            resource="Users",
            status_class="4xx",
            organization="acme",
        )
        == 1
    )
    assert value(opted_in, "optiid_scim_auth_failures_total", organization="acme") == 1
    assert value(opted_in, "optiid_sign_ins_total", method="sso", outcome="success", organization="acme") == 1
    default = samples(_run(code).stdout)
    assert value(default, "optiid_scim_requests_total", method="GET", resource="Users", status_class="4xx") == 1
    assert not any("organization" in dict(labels) for _, labels in default)
