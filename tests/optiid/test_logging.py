"""Structured logs and the request id (optiid/logging.py, optiid/middleware.py).

With ``LOG_FORMAT=json`` every line the console handler writes is one JSON object carrying
the request id the response echoed, the organization, the method and the path template (the
URL pattern, never the raw path with its ids). The request id is the client's
``X-Request-ID`` when it is sane, else a new one, and the same id lands in the SCIM
request-log row and the audit events.
"""

from __future__ import annotations

import io
import json
import logging
import logging.config
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.urls import reverse

from admincenter.models import AuditEvent, Group, ScimRequestLog
from optiid.logging import logging_config
from tests.scim.helpers import OKTA_UA, ScimClient, user_body

ROOT = Path(__file__).resolve().parents[2]
HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture
def json_log():
    """Applies the LOG_FORMAT=json configuration with the console handler writing to a buffer;
    returns a function giving the lines written so far, parsed. The previous configuration of
    the root logger (pytest's capture handlers included) is put back afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    db_logger = logging.getLogger("django.db.backends")
    saved_db_level = db_logger.level
    buffer = io.StringIO()
    config = logging_config("json", "INFO")
    config["handlers"]["console"]["stream"] = buffer
    logging.config.dictConfig(config)

    def lines() -> list[dict]:
        text = buffer.getvalue()
        assert text.endswith("\n")
        return [json.loads(line) for line in text.splitlines()]

    yield lines
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)
    db_logger.setLevel(saved_db_level)


@pytest.fixture
def scim(scim_token):
    return ScimClient(scim_token, user_agent=OKTA_UA)


def test_a_scim_request_logs_json_lines_with_its_request_id_and_path_template(
    json_log, scim, scim_organization, scim_managed_user
):
    response = scim.get(f"/Users/{scim_managed_user.pk}?attributes=userName")
    assert response.status_code == 200
    request_id = response["X-Request-ID"]
    assert HEX32.match(request_id)

    lines = json_log()
    assert lines, "the request wrote no log line"
    for line in lines:
        assert line["request_id"] == request_id
        assert line["path"] == "api/scim/v2/Users/<pk>"
        assert str(scim_managed_user.pk) not in json.dumps(line)
    access = [line for line in lines if line["logger"] == "optiid.request"]
    assert len(access) == 1
    assert access[0]["level"] == "INFO"
    assert (access[0]["method"], access[0]["status"], access[0]["organization"]) == (
        "GET",
        200,
        scim_organization.slug,
    )
    assert isinstance(access[0]["duration_ms"], float) and access[0]["duration_ms"] >= 0
    assert access[0]["time"].startswith(str(ScimRequestLog.objects.get(request_id=request_id).occurred_at.year))


def test_an_admin_center_request_logs_json_lines_with_its_request_id_and_path_template(
    json_log, admin_client, organization
):
    missing = uuid.uuid4()
    response = admin_client.get(reverse("group_detail", args=[missing]))
    assert response.status_code == 404
    request_id = response["X-Request-ID"]
    assert HEX32.match(request_id)

    lines = json_log()
    by_logger = {line["logger"]: line for line in lines}
    # Django's own 404 warning is written inside the request and carries its context too.
    assert {"django.request", "optiid.request"} <= set(by_logger)
    for line in lines:
        assert line["request_id"] == request_id
        assert line["path"] == "groups/<uuid:group_id>/"
        assert line["organization"] == organization.slug
        assert str(missing) not in json.dumps({k: v for k, v in line.items() if k != "message"})
    assert "request" not in by_logger["django.request"]  # Django's extra would spell the raw path
    assert (by_logger["optiid.request"]["status"], by_logger["optiid.request"]["method"]) == (404, "GET")


def test_a_line_outside_any_request_has_empty_request_fields(json_log):
    logging.getLogger("optiid.test").warning("worker says %s", "hello")
    (line,) = json_log()
    assert (line["message"], line["level"], line["logger"]) == ("worker says hello", "WARNING", "optiid.test")
    assert line["request_id"] is None and line["path"] is None and line["status"] is None


@pytest.mark.parametrize(
    "sent",
    ["has space", "x" * 65, "semi;colon", "new\nline", ""],
    ids=["space", "too-long", "semicolon", "newline", "empty"],
)
def test_an_invalid_incoming_request_id_is_replaced(scim, scim_organization, sent):
    response = scim.get("/Users", headers={"X-Request-ID": sent})
    request_id = response["X-Request-ID"]
    assert request_id != sent and HEX32.match(request_id)
    assert ScimRequestLog.objects.get().request_id == request_id


def test_a_valid_incoming_request_id_lands_in_the_scim_log_row_and_the_audit_event(scim, scim_organization):
    sent = "okta:corr-1234.AB_cd"
    response = scim.post("/Users", user_body("traced@acme.test"), headers={"X-Request-ID": sent})
    assert response.status_code == 201
    assert response["X-Request-ID"] == sent
    assert ScimRequestLog.objects.get().request_id == sent
    traced = AuditEvent.objects.filter(organization=scim_organization, request_id=sent)
    assert "user.create" in set(traced.values_list("action", flat=True))


def test_the_admin_center_keeps_a_valid_id_and_replaces_an_invalid_one(admin_client, organization):
    kept = admin_client.post(reverse("group_create"), {"name": "Kept"}, HTTP_X_REQUEST_ID="lb-7f3a:1")
    replaced = admin_client.post(reverse("group_create"), {"name": "Replaced"}, HTTP_X_REQUEST_ID="<script>")
    assert kept["X-Request-ID"] == "lb-7f3a:1"
    assert HEX32.match(replaced["X-Request-ID"])
    events = AuditEvent.objects.filter(organization=organization, action="group.create")
    kept_group = Group.objects.get(organization=organization, name="Kept")
    assert events.get(target_id=str(kept_group.pk)).request_id == "lb-7f3a:1"
    replaced_group = Group.objects.get(organization=organization, name="Replaced")
    assert events.get(target_id=str(replaced_group.pk)).request_id == replaced["X-Request-ID"]


# --- the LOG_FORMAT setting, in fresh interpreters (settings are read once per process) ------------

_LOG_ONE_LINE = (
    "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','optiid.settings'); django.setup()\n"
    "import logging; logging.getLogger('optiid.check').warning('disk %s', 'low')\n"
)


def _run(**env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _LOG_ONE_LINE],
        env={"PYTHONDONTWRITEBYTECODE": "1", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_log_format_json_writes_one_json_object_per_line():
    result = _run(LOG_FORMAT="JSON")
    assert result.returncode == 0, result.stderr
    (line,) = [json.loads(text) for text in result.stderr.splitlines()]
    assert (line["level"], line["logger"], line["message"]) == ("WARNING", "optiid.check", "disk low")
    assert {"time", "request_id", "organization", "method", "path", "status", "duration_ms"} <= set(line)


def test_celery_workers_keep_the_json_configuration():
    code = (
        "import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','optiid.settings')\n"
        "from optiid.celery import app; print(app.conf.worker_hijack_root_logger)"
    )
    outputs = []
    for env in ({"LOG_FORMAT": "json"}, {}):
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout.strip())
    assert outputs == ["False", "True"]


def test_the_text_format_stays_the_default():
    result = _run()
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING optiid\.check disk low\n", result.stderr)


def test_an_unknown_log_format_stops_start_up_naming_the_variable():
    result = _run(LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "ImproperlyConfigured: LOG_FORMAT='xml' must be text or json." in result.stderr
