"""``manage.py sso_connection`` with protocol settings: add, update and show, exactly as the
issue writes them, with metadata from a file and from a real local HTTP server."""

from __future__ import annotations

import io
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command

from admincenter.encryption import decrypt
from admincenter.models import AuditEvent, SsoConnection
from admincenter.services.sso import certificate_fingerprint
from tests.admincenter.test_commands import fails, manage, operator_events, run
from tests.sso.metadata_support import (
    IDP_ENTITY_ID,
    IDP_SSO_URL,
    certificate_der,
    certificate_pem,
    idp_metadata_xml,
)

SECRET = "cli-s3cr3t-value"


class _MetadataHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        return

    def do_GET(self):
        body = idp_metadata_xml().encode() if self.path == "/metadata" else b"nope"
        self.send_response(200 if self.path == "/metadata" else 404)
        self.send_header("Content-Type", "application/samlmetadata+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def metadata_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _MetadataHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/metadata"
    server.shutdown()
    server.server_close()


@pytest.fixture
def metadata_file(tmp_path):
    path = tmp_path / "idp-metadata.xml"
    path.write_text(idp_metadata_xml())
    return path


def assert_saml_from_metadata(connection: SsoConnection) -> None:
    assert connection.saml_idp_entity_id == IDP_ENTITY_ID
    assert connection.saml_idp_sso_url == IDP_SSO_URL
    assert certificate_der(connection.saml_idp_x509_cert) == certificate_der(certificate_pem())
    assert connection.is_ready


# --- add ---------------------------------------------------------------------------------


def test_add_saml_with_a_metadata_url(organization, metadata_url):
    out, err = run(
        "sso_connection", "add", "--org", "acme", "--name", "Okta", "--protocol", "saml",
        "--metadata-url", metadata_url, "--domains", "okta.acme.com,acme.org",
    )  # fmt: skip
    assert out == "Created SSO connection 'Okta' (SAML 2.0) in acme; domains: acme.org, okta.acme.com.\n"
    assert "sso_connection show --org acme" in err
    connection = organization.sso_connections.get(name="Okta")
    assert_saml_from_metadata(connection)
    assert connection.saml_idp_metadata_url == metadata_url
    event = operator_events("sso_connection.create", "sso_connection").get(target_label="Okta")
    assert event.after["saml_idp_entity_id"] == IDP_ENTITY_ID
    assert event.after["saml_idp_x509_cert"] == certificate_fingerprint(connection.saml_idp_x509_cert)


def test_add_saml_with_a_metadata_file(organization, metadata_file):
    out, _ = run(
        "sso_connection", "add", "--org", "acme", "--name", "Entra", "--protocol", "saml",
        "--metadata-file", str(metadata_file),
    )  # fmt: skip
    assert out == "Created SSO connection 'Entra' (SAML 2.0) in acme; domains: none.\n"
    connection = organization.sso_connections.get(name="Entra")
    assert_saml_from_metadata(connection)
    assert connection.saml_idp_metadata_url == ""


def test_add_oidc_stores_the_secret_encrypted_and_never_prints_or_audits_it(organization):
    out, err = run(
        "sso_connection", "add", "--org", "acme", "--name", "Entra ID", "--protocol", "oidc",
        "--issuer", "https://login.microsoftonline.com/tenant/v2.0", "--client-id", "app-123",
        "--client-secret", SECRET, "--domains", "acme.org",
    )  # fmt: skip
    assert out == "Created SSO connection 'Entra ID' (OpenID Connect) in acme; domains: acme.org.\n"
    assert SECRET not in out + err
    connection = organization.sso_connections.get(name="Entra ID")
    assert connection.is_ready
    assert (connection.oidc_issuer, connection.oidc_client_id) == (
        "https://login.microsoftonline.com/tenant/v2.0",
        "app-123",
    )
    assert decrypt(connection.oidc_client_secret_encrypted) == SECRET
    event = operator_events("sso_connection.create", "sso_connection").get(target_label="Entra ID")
    assert event.after["oidc_client_secret"] == "changed"
    assert SECRET not in json.dumps(list(AuditEvent.objects.values_list("before", "after")))


def test_add_oidc_reads_the_secret_from_stdin(organization, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET + "\n"))
    run(
        "sso_connection", "add", "--org", "acme", "--name", "Okta OIDC", "--protocol", "oidc",
        "--issuer", "https://acme.okta.com", "--client-id", "0oa1", "--client-secret", "-",
    )  # fmt: skip
    connection = organization.sso_connections.get(name="Okta OIDC")
    assert decrypt(connection.oidc_client_secret_encrypted) == SECRET


def test_plain_add_makes_a_draft_connection(organization):
    out, err = run("sso_connection", "add", "--org", "acme", "--name", "Later", "--protocol", "saml")
    assert out == "Created SSO connection 'Later' (SAML 2.0) in acme; domains: none.\n"
    assert "Draft: it signs nobody in" in err
    assert not organization.sso_connections.get(name="Later").is_ready


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--protocol", "oidc", "--metadata-url", "https://idp.example.test/md"], "--metadata-url does not apply"),
        (["--protocol", "saml", "--issuer", "https://login.example"], "--issuer does not apply"),
        (["--protocol", "oidc", "--issuer", "not-a-url"], "The issuer must be an http:// or https:// URL."),
        (["--protocol", "oidc", "--scopes", "email"], "The scopes must include openid."),
        (["--protocol", "saml", "--metadata-file", "/nonexistent/md.xml"], "Cannot read the metadata file"),
        (["--protocol", "saml", "--metadata-url", "ftp://idp.example.test/md"], "http:// or https://"),
    ],
)
def test_add_refusals_are_one_line_and_change_nothing(organization, args, message):
    assert message in fails("sso_connection", "add", "--org", "acme", "--name", "Bad", *args)
    assert not organization.sso_connections.filter(name="Bad").exists()


def test_add_with_a_file_that_is_not_metadata(organization, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    message = fails(
        "sso_connection", "add", "--org", "acme", "--name", "Bad", "--protocol", "saml", "--metadata-file", str(path)
    )
    assert message.startswith("This is not SAML metadata XML")


def test_metadata_url_and_file_are_exclusive(organization, metadata_file):
    message = fails(
        "sso_connection", "add", "--org", "acme", "--name", "Both", "--protocol", "saml",
        "--metadata-url", "https://idp.example.test/md", "--metadata-file", str(metadata_file),
    )  # fmt: skip
    assert "not allowed with argument --metadata-url" in message
    assert not organization.sso_connections.filter(name="Both").exists()


# --- update --------------------------------------------------------------------------------


def test_update_takes_the_same_options(organization, sso_connection, metadata_file):
    out, _ = run(
        "sso_connection", "update", "--org", "acme", "--name", "pingone",
        "--metadata-file", str(metadata_file), "--domains", "acme.test,acme.eu", "--new-name", "PingOne EU",
    )  # fmt: skip
    assert out == "Updated SSO connection 'PingOne EU' (SAML 2.0) in acme; domains: acme.eu, acme.test.\n"
    sso_connection.refresh_from_db()
    assert sso_connection.name == "PingOne EU"
    assert_saml_from_metadata(sso_connection)
    event = operator_events("sso_connection.update", "sso_connection").get()
    assert event.before["name"] == "PingOne" and event.after["name"] == "PingOne EU"
    assert set(event.after) >= {"saml_idp_entity_id", "saml_idp_sso_url", "saml_idp_x509_cert", "domains"}


def test_update_to_oidc_and_a_secret_that_stays_when_not_given(organization, sso_connection):
    run(
        "sso_connection", "update", "--org", "acme", "--name", "PingOne", "--protocol", "oidc",
        "--issuer", "https://auth.pingone.eu/env/as", "--client-id", "ping-client", "--client-secret", SECRET,
    )  # fmt: skip
    sso_connection.refresh_from_db()
    assert sso_connection.is_oidc and sso_connection.is_ready
    stored = sso_connection.oidc_client_secret_encrypted

    run("sso_connection", "update", "--org", "acme", "--name", "PingOne", "--token-auth-method", "client_secret_post")
    sso_connection.refresh_from_db()
    assert sso_connection.oidc_client_secret_encrypted == stored
    assert sso_connection.oidc_token_auth_method == "client_secret_post"
    assert SECRET not in json.dumps(list(AuditEvent.objects.values_list("before", "after")))


def test_update_with_a_metadata_url(organization, sso_connection, metadata_url):
    run("sso_connection", "update", "--org", "acme", "--name", "PingOne", "--metadata-url", metadata_url)
    sso_connection.refresh_from_db()
    assert_saml_from_metadata(sso_connection)
    assert sso_connection.saml_idp_metadata_url == metadata_url


def test_update_with_an_unreachable_metadata_url_changes_nothing(organization, sso_connection, metadata_url):
    message = fails(
        "sso_connection", "update", "--org", "acme", "--name", "PingOne", "--metadata-url", metadata_url + "-gone"
    )
    assert message == "The metadata URL answered HTTP 404."
    sso_connection.refresh_from_db()
    assert not sso_connection.is_ready
    assert not AuditEvent.objects.filter(action="sso_connection.update").exists()


def test_update_unknown_connection(organization):
    message = fails("sso_connection", "update", "--org", "acme", "--name", "Nope", "--client-id", "x")
    assert message == "No SSO connection named 'Nope' in organization 'acme' (existing: PingOne)."


# --- show ----------------------------------------------------------------------------------


def test_show_prints_one_key_value_line_each(organization, sso_connection, settings):
    settings.PUBLIC_BASE_URL = "https://id.acme.example"
    out, err = run("sso_connection", "show", "--org", "acme", "--name", "pingone")
    base = f"https://id.acme.example/sso/{sso_connection.public_id}"
    assert out == (
        f"sp_entity_id: {base}/saml/metadata/\n"
        f"acs_url: {base}/saml/acs/\n"
        f"sp_metadata_url: {base}/saml/metadata/\n"
        f"oidc_redirect_uri: {base}/oidc/callback/\n"
        f"login_url: {base}/login/\n"
    )
    assert "is a draft" in err


def test_show_without_public_base_url_uses_the_laptop_origin(organization, sso_connection, settings):
    settings.PUBLIC_BASE_URL = ""
    out, _ = run("sso_connection", "show", "--org", "acme", "--name", "PingOne")
    assert f"login_url: http://localhost:8000/sso/{sso_connection.public_id}/login/\n" in out
    assert [line.split(": ", 1)[0] for line in out.splitlines()] == [
        "sp_entity_id",
        "acs_url",
        "sp_metadata_url",
        "oidc_redirect_uri",
        "login_url",
    ]


# --- list ----------------------------------------------------------------------------------


def test_list_shows_ready_and_draft(organization, metadata_file):
    run(
        "sso_connection", "add", "--org", "acme", "--name", "Okta", "--protocol", "saml",
        "--metadata-file", str(metadata_file),
    )  # fmt: skip
    out, _ = run("sso_connection", "list", "--org", "acme")
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["NAME", "PROTOCOL", "STATE"]
    assert lines[1].split()[:3] == ["PingOne", "saml", "draft"]
    assert lines[2].split()[:3] == ["Okta", "saml", "ready"]


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("sso_connection", ["add", "update", "show", "list", "delete"]),
        ("sso_connection add", ["--metadata-url", "--metadata-file", "--issuer", "--client-id", "--client-secret"]),
        ("sso_connection update", ["--new-name", "--metadata-url", "--client-secret", "write-only"]),
        ("sso_connection show", ["sp_entity_id", "acs_url", "sp_metadata_url", "oidc_redirect_uri", "login_url"]),
    ],
)
def test_help(command, words, capsys):
    with pytest.raises(SystemExit):
        call_command(*command.split(), "--help")
    text = capsys.readouterr().out
    for word in words:
        assert word in text


# --- the real command line ---------------------------------------------------------------------


def test_the_command_line_as_the_issue_writes_it(tmp_path, metadata_file, monkeypatch):
    """``manage.py`` in a subprocess: the options parse exactly as documented, and ``show``
    prints five ``key: value`` lines built on PUBLIC_BASE_URL."""
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://id.acme.example")
    db = tmp_path / "db.sqlite3"
    assert manage(db, "migrate", "--noinput", "-v", "0").returncode == 0
    assert manage(db, "create_organization", "--name", "Acme", "--slug", "acme").returncode == 0

    added = manage(
        db, "sso_connection", "add", "--org", "acme", "--name", "Okta", "--protocol", "saml",
        "--metadata-file", str(metadata_file), "--domains", "acme.com,acme.de",
    )  # fmt: skip
    assert (added.returncode, added.stdout) == (
        0,
        "Created SSO connection 'Okta' (SAML 2.0) in acme; domains: acme.com, acme.de.\n",
    )
    oidc = manage(
        db, "sso_connection", "add", "--org", "acme", "--name", "Entra", "--protocol", "oidc",
        "--issuer", "https://login.example/v2.0", "--client-id", "app", "--client-secret", SECRET,
    )  # fmt: skip
    assert oidc.returncode == 0 and SECRET not in oidc.stdout + oidc.stderr

    shown = manage(db, "sso_connection", "show", "--org", "acme", "--name", "okta")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [
        "sp_entity_id",
        "acs_url",
        "sp_metadata_url",
        "oidc_redirect_uri",
        "login_url",
    ]
    assert all(re.fullmatch(r"\w+: https://id\.acme\.example/sso/[0-9a-f-]{36}/[a-z/]+/", line) for line in lines)

    listed = manage(db, "sso_connection", "list", "--org", "acme")
    assert [line.split()[:3] for line in listed.stdout.splitlines()[1:]] == [
        ["Okta", "saml", "ready"],
        ["Entra", "oidc", "ready"],
    ]
    usage = manage(db, "sso_connection", "add", "--org", "acme", "--name", "X", "--protocol", "saml",
                   "--metadata-url", "https://a.example/md", "--metadata-file", str(metadata_file))  # fmt: skip
    assert usage.returncode == 2 and "not allowed with argument" in usage.stderr
