"""IdP metadata: parsing pasted XML, and fetching a URL over real HTTP from a local server."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from admincenter.errors import InvalidValue
from sso.metadata import IdpMetadata, fetch_idp_metadata, parse_idp_metadata
from tests.e2e.idp import SimpleSamlIdp, missing_simplesamlphp, skip_or_fail
from tests.sso.metadata_support import (
    IDP_ENTITY_ID,
    IDP_SSO_URL,
    certificate_body,
    certificate_pem,
    idp_metadata_xml,
)

MAX_BYTES = 10_000


# --- parsing ---------------------------------------------------------------------------


def test_parse_reads_entity_id_redirect_sso_url_and_signing_certificate():
    parsed = parse_idp_metadata(idp_metadata_xml())
    assert parsed == IdpMetadata(
        entity_id=IDP_ENTITY_ID,
        sso_url=IDP_SSO_URL,
        x509_cert=certificate_body(certificate_pem()),
        nameid_format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    )
    assert parsed.connection_settings() == {
        "saml_idp_entity_id": IDP_ENTITY_ID,
        "saml_idp_sso_url": IDP_SSO_URL,
        "saml_idp_x509_cert": certificate_body(certificate_pem()),
    }


def test_parse_takes_the_first_of_several_signing_certificates():
    first, second = certificate_body(certificate_pem("one")), certificate_body(certificate_pem("two"))
    xml = idp_metadata_xml(certificate=certificate_pem("one")).replace(
        "</md:KeyDescriptor>",
        '</md:KeyDescriptor><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        f"<ds:X509Data><ds:X509Certificate>{second}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
        1,
    )
    assert parse_idp_metadata(xml).x509_cert == first


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        ("", "empty"),
        ("<not-closed", "not SAML metadata XML"),
        ("<html><body>Sign in</body></html>", "no IdP description"),
        (idp_metadata_xml(binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"), "HTTP-Redirect"),
        (
            idp_metadata_xml()
            .replace("<md:KeyDescriptor", "<md:Ignored")
            .replace("</md:KeyDescriptor", "</md:Ignored"),
            "no signing certificate",
        ),
        # An entity declaration is refused by python3-saml's parser (no "billion laughs").
        ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', "not SAML metadata XML"),
    ],
)
def test_parse_refuses_what_is_not_usable_idp_metadata(xml, message):
    with pytest.raises(InvalidValue, match=message) as error:
        parse_idp_metadata(xml)
    assert error.value.field == "saml_idp_metadata_xml"


# --- fetching over HTTP ----------------------------------------------------------------


class _MetadataHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        return

    def _send(self, status: int, body: bytes, *, content_type="application/samlmetadata+xml", length=True):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/metadata":
            self._send(200, idp_metadata_xml().encode())
        elif self.path == "/html":
            self._send(200, b"<html><body>Log in</body></html>", content_type="text/html")
        elif self.path == "/missing":
            self._send(404, b"not found", content_type="text/plain")
        elif self.path == "/oversize-declared":
            self._send(200, idp_metadata_xml(padding=MAX_BYTES).encode())
        elif self.path == "/oversize-streamed":
            # No Content-Length: only counting the streamed bytes catches it.
            self._send(200, idp_metadata_xml(padding=MAX_BYTES * 3).encode(), length=False)
        elif self.path == "/slow":
            time.sleep(2.5)
            self._send(200, idp_metadata_xml().encode())
        elif self.path == "/drip":
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.end_headers()
            for _ in range(8):  # each pause is under the timeout, the whole answer is not
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.4)
        else:
            self._send(404, b"", content_type="text/plain")


@pytest.fixture
def metadata_server(settings):
    settings.SSO_HTTP_TIMEOUT_SECONDS = 1
    settings.SSO_METADATA_MAX_BYTES = MAX_BYTES
    server = ThreadingHTTPServer(("127.0.0.1", 0), _MetadataHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_fetch_reads_and_parses_metadata_over_http(metadata_server):
    parsed = fetch_idp_metadata(f"{metadata_server}/metadata")
    assert (parsed.entity_id, parsed.sso_url) == (IDP_ENTITY_ID, IDP_SSO_URL)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/html", "no IdP description"),
        ("/missing", "answered HTTP 404"),
        ("/oversize-declared", f"larger than {MAX_BYTES} bytes"),
        ("/oversize-streamed", f"larger than {MAX_BYTES} bytes"),
        ("/slow", "took longer than 1 s"),
        ("/drip", "took longer than 1 s"),
    ],
)
def test_fetch_refusals_are_clear_and_name_the_url_field(metadata_server, path, message):
    started = time.monotonic()
    with pytest.raises(InvalidValue, match=message) as error:
        fetch_idp_metadata(f"{metadata_server}{path}")
    assert error.value.field == "saml_idp_metadata_url"
    assert time.monotonic() - started < 2.5  # bounded by the timeout, not by the server


def test_fetch_of_an_unreachable_host_is_a_clear_error(settings):
    settings.SSO_HTTP_TIMEOUT_SECONDS = 1
    with socket.socket() as probe:  # a port that nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(InvalidValue, match="could not be reached"):
        fetch_idp_metadata(f"http://127.0.0.1:{port}/metadata")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://idp.example.test/md.xml", "idp.example.test", ""])
def test_fetch_accepts_http_and_https_urls_only(url):
    with pytest.raises(InvalidValue, match="http:// or https://"):
        fetch_idp_metadata(url)


# --- a real IdP's metadata ---------------------------------------------------------------


@pytest.fixture
def simplesamlphp(tmp_path):
    reason = missing_simplesamlphp()
    if reason:
        skip_or_fail(reason)
    idp = SimpleSamlIdp(tmp_path / "simplesamlphp")
    idp.start(users=[], service_providers=[])
    yield idp
    idp.stop()


def test_fetch_reads_the_metadata_simplesamlphp_publishes(simplesamlphp, settings):
    settings.SSO_HTTP_TIMEOUT_SECONDS = 10
    parsed = fetch_idp_metadata(simplesamlphp.metadata_url)
    assert parsed.entity_id == simplesamlphp.entity_id
    assert parsed.sso_url == simplesamlphp.sso_url
    assert parsed.x509_cert == certificate_body(simplesamlphp.certificate_pem)
