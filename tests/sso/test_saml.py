"""The SAML 2.0 service provider (sso.saml, sso.views_saml) against real signed XML.

Responses are built and signed in tests/sso/saml_support.py with python3-saml's own
signer; nothing of python3-saml is mocked. The view tests replace only the sign-in
outcome functions of ``sso.outcome`` (owned by the sign-in work) with recorders, so they
check what this module hands over."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import time
import zlib
from importlib import import_module
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants

from admincenter.models import SamlNameIdFormat
from sso import saml, views_saml
from sso.endpoints import sp_values
from sso.identity import SsoValidationError
from tests.sso.saml_support import PERSISTENT_FORMAT, STATUS_RESPONDER, build_response, encode, make_idp

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_cache")]

IDP = make_idp()
# Same entity ID and URL, another key: what an attacker without the IdP's key can sign with.
IMPOSTOR = make_idp(key_name="impostor")


@pytest.fixture
def connection(sso_connection):
    """The ``organization`` fixture's PingOne connection, configured with the test IdP."""
    sso_connection.saml_idp_entity_id = IDP.entity_id
    sso_connection.saml_idp_sso_url = IDP.sso_url
    sso_connection.saml_idp_x509_cert = IDP.cert_pem
    sso_connection.save()
    return sso_connection


@pytest.fixture
def values(connection):
    return sp_values(connection, RequestFactory().get("/"))


def acs_request(connection, xml: str, **extra):
    path = reverse("sso:saml_acs", kwargs={"public_id": connection.public_id})
    return RequestFactory().post(path, {"SAMLResponse": encode(xml)}, **extra)


def validate(connection, xml: str, *, expected_request_id: str | None = "req-1", **extra):
    return saml.validate_response(
        connection, acs_request(connection, xml, **extra), expected_request_id=expected_request_id
    )


def respond(values, **kwargs) -> str:
    kwargs.setdefault("in_response_to", "req-1")
    return build_response(IDP, audience=values.sp_entity_id, acs_url=values.acs_url, **kwargs)


def refused(connection, xml: str, **kwargs) -> str:
    with pytest.raises(SsoValidationError) as caught:
        validate(connection, xml, **kwargs)
    return caught.value.reason


# --- What a valid response gives ------------------------------------------------------


def test_signed_assertion_gives_the_identity(connection, values):
    xml = respond(values, attributes={"givenName": ["Alice"], "sn": ["Liddell"], "groups": ["Sales", "Ops"]})

    identity = validate(connection, xml)

    assert identity.email == "alice@acme.test"
    assert (identity.given_name, identity.family_name) == ("Alice", "Liddell")
    assert identity.groups == ("Sales", "Ops")
    assert identity.subject == "alice@acme.test"
    assert identity.attributes["givenName"] == ["Alice"]


def test_signed_response_around_an_unsigned_assertion_is_accepted(connection, values):
    xml = respond(values, sign_assertion=False, sign_response=True)

    assert validate(connection, xml).email == "alice@acme.test"


def test_response_and_assertion_both_signed_are_accepted(connection, values):
    assert validate(connection, respond(values, sign_response=True)).email == "alice@acme.test"


def test_email_attribute_is_used_with_a_persistent_nameid(connection, values):
    connection.saml_nameid_format = SamlNameIdFormat.PERSISTENT
    connection.email_attribute = "mail"
    connection.save()
    xml = respond(values, nameid="a1b2c3", nameid_format=PERSISTENT_FORMAT, attributes={"mail": ["alice@acme.test"]})

    identity = validate(connection, xml)

    assert (identity.email, identity.subject) == ("alice@acme.test", "a1b2c3")


def test_a_persistent_nameid_without_an_email_attribute_is_no_email(connection, values):
    connection.saml_nameid_format = SamlNameIdFormat.PERSISTENT
    connection.save()

    assert refused(connection, respond(values, nameid="a1b2c3", nameid_format=PERSISTENT_FORMAT)) == "no_email"


def test_destination_is_checked_against_the_public_base_url(connection, settings):
    """Behind a proxy the app sees http://testserver; the IdP was given PUBLIC_BASE_URL."""
    settings.PUBLIC_BASE_URL = "https://id.example.com"
    public = sp_values(connection)
    xml = build_response(IDP, audience=public.sp_entity_id, acs_url=public.acs_url, in_response_to="req-1")

    assert validate(connection, xml).email == "alice@acme.test"


# --- Signatures -----------------------------------------------------------------------


def test_python3_saml_itself_rejects_a_fully_unsigned_response(connection, values):
    """Not only our settings: with no signature anywhere python3-saml's own check fires."""
    xml = respond(values, sign_assertion=False, sign_response=False)
    with pytest.raises(SsoValidationError) as caught:
        validate(connection, xml)

    assert caught.value.reason == "signature_invalid"
    assert "No Signature found" in caught.value.detail


def test_tampered_signed_value_is_refused(connection, values):
    xml = respond(values).replace("alice@acme.test", "mallory@acme.test")
    assert "mallory@acme.test" in xml

    assert refused(connection, xml) == "signature_invalid"


def test_tampered_signed_response_is_refused(connection, values):
    xml = respond(values, sign_assertion=False, sign_response=True).replace("alice@acme.test", "mallory@acme.test")

    assert refused(connection, xml) == "signature_invalid"


def test_signature_by_another_certificate_is_refused(connection, values):
    assert refused(connection, respond(values, signing_idp=IMPOSTOR)) == "signature_invalid"
    assert refused(connection, respond(values, signing_idp=IMPOSTOR, sign_response=True)) == "signature_invalid"


def test_signature_wrapping_with_an_unsigned_assertion_is_refused(connection, values):
    """XSW: keep the signed assertion for the signature check, add a forged one to be read."""
    response = etree.fromstring(respond(values).encode())
    ns = {"saml": OneLogin_Saml2_Constants.NS_SAML, "ds": OneLogin_Saml2_Constants.NS_DS}
    signed = response.find("saml:Assertion", ns)
    forged = copy.deepcopy(signed)
    forged.remove(forged.find("ds:Signature", ns))
    forged.set("ID", "_forged")
    forged.find("saml:Subject/saml:NameID", ns).text = "mallory@acme.test"
    signed.addprevious(forged)

    with pytest.raises(SsoValidationError) as caught:
        validate(connection, etree.tostring(response).decode())

    assert caught.value.reason == "invalid_response"
    assert "must contain 1 assertion" in caught.value.detail


def test_sha1_signature_is_refused(connection, values):
    xml = respond(
        values, sign_algorithm=OneLogin_Saml2_Constants.RSA_SHA1, digest_algorithm=OneLogin_Saml2_Constants.SHA1
    )

    assert refused(connection, xml) == "signature_invalid"


# --- Audience, destination, issuer, status -------------------------------------------


def test_wrong_audience_is_refused(connection, values):
    xml = build_response(
        IDP, audience="https://other-sp.example/metadata", acs_url=values.acs_url, in_response_to="req-1"
    )

    assert refused(connection, xml) == "audience_mismatch"


def test_audience_of_another_connection_is_refused(connection, values, other_organization):
    other = other_organization.sso_connections.get()
    other_values = sp_values(other, RequestFactory().get("/"))
    xml = build_response(IDP, audience=other_values.sp_entity_id, acs_url=values.acs_url, in_response_to="req-1")

    assert refused(connection, xml) == "audience_mismatch"


def test_wrong_destination_is_refused(connection, values):
    xml = respond(values, destination="https://elsewhere.example/acs/")

    assert refused(connection, xml) == "destination_mismatch"


def test_wrong_recipient_is_refused(connection, values):
    xml = respond(values, destination=None, recipient="https://elsewhere.example/acs/")

    assert refused(connection, xml) == "destination_mismatch"


def test_wrong_issuer_is_refused(connection, values):
    xml = respond(values, issuer="https://evil.example/idp")

    assert refused(connection, xml) == "issuer_mismatch"


def test_idp_error_status_is_refused(connection, values):
    assert refused(connection, respond(values, status=STATUS_RESPONDER)) == "idp_error"


# --- Time -----------------------------------------------------------------------------


def test_expired_beyond_the_clock_skew_is_refused(connection, values, settings):
    settings.SSO_CLOCK_SKEW_SECONDS = 120
    now = dt.datetime.now(dt.UTC)
    xml = respond(
        values, not_before=now - dt.timedelta(minutes=10), not_on_or_after=now - dt.timedelta(seconds=121 + 5)
    )

    assert refused(connection, xml) == "expired"


def test_conditions_expired_within_the_clock_skew_is_accepted(connection, values, settings):
    settings.SSO_CLOCK_SKEW_SECONDS = 120
    now = dt.datetime.now(dt.UTC)
    xml = respond(
        values,
        not_before=now - dt.timedelta(minutes=5),
        not_on_or_after=now - dt.timedelta(seconds=60),
        subject_not_on_or_after=now + dt.timedelta(minutes=1),
    )

    assert validate(connection, xml).email == "alice@acme.test"


def test_expired_subject_confirmation_is_refused_as_expired(connection, values):
    now = dt.datetime.now(dt.UTC)
    xml = respond(values, subject_not_on_or_after=now - dt.timedelta(seconds=5))

    assert refused(connection, xml) == "expired"


def test_not_yet_valid_beyond_the_clock_skew_is_refused(connection, values, settings):
    settings.SSO_CLOCK_SKEW_SECONDS = 120
    now = dt.datetime.now(dt.UTC)
    early = respond(values, not_before=now + dt.timedelta(seconds=60))
    too_early = respond(values, not_before=now + dt.timedelta(seconds=300))

    assert validate(connection, early).email == "alice@acme.test"
    assert refused(connection, too_early) == "expired"


# --- Replay and InResponseTo ----------------------------------------------------------


def test_the_same_assertion_twice_is_replayed(connection, values):
    xml = respond(values)
    validate(connection, xml)

    assert refused(connection, xml) == "replayed"


def _seconds_left(cache_key: str) -> float:
    """The remaining lifetime of a cache entry, from the backend's own bookkeeping."""
    key = cache.make_and_validate_key(cache_key)
    if hasattr(cache, "_expire_info"):  # LocMemCache
        return cache._expire_info[key] - time.time()
    return cache._cache.get_client(key).ttl(key)  # RedisCache


def test_replay_is_remembered_until_the_assertion_expires(connection, values, settings):
    settings.SSO_CLOCK_SKEW_SECONDS = 120
    validate(connection, respond(values, assertion_id="_assertion-1"))

    # Five minutes of validity plus two of skew.
    assert 5 * 60 + 120 - 10 <= _seconds_left(f"sso:saml:assertion:{connection.pk}:_assertion-1") <= 5 * 60 + 120 + 1


def test_replay_is_remembered_at_least_a_minute(connection, values):
    now = dt.datetime.now(dt.UTC)
    xml = respond(values, assertion_id="_assertion-2", not_on_or_after=now + dt.timedelta(seconds=1))
    validate(connection, xml)

    assert _seconds_left(f"sso:saml:assertion:{connection.pk}:_assertion-2") >= 60 - 2


def test_replay_is_per_connection_and_assertion(connection, values):
    validate(connection, respond(values))

    assert validate(connection, respond(values)).email == "alice@acme.test"


def test_wrong_in_response_to_is_refused(connection, values):
    xml = respond(values, in_response_to="req-someone-else")

    assert refused(connection, xml, expected_request_id="req-1") == "in_response_to_mismatch"


def test_assertion_answering_another_request_is_refused(connection, values):
    """Only the assertion is signed, so the Response's InResponseTo can be rewritten."""
    xml = respond(values, in_response_to="req-1", assertion_in_response_to="req-stolen")

    assert refused(connection, xml, expected_request_id="req-1") == "in_response_to_mismatch"


def test_unsolicited_response_is_refused_by_default(connection, values):
    xml = respond(values, in_response_to=None)

    assert refused(connection, xml, expected_request_id=None) == "unsolicited_refused"


def test_unsolicited_response_is_accepted_when_the_connection_allows_it(connection, values):
    connection.saml_allow_idp_initiated = True
    connection.save()

    identity = validate(connection, respond(values, in_response_to=None), expected_request_id=None)

    assert identity.email == "alice@acme.test"


def test_unsolicited_response_carrying_a_solicited_assertion_is_refused(connection, values):
    connection.saml_allow_idp_initiated = True
    connection.save()
    xml = respond(values, in_response_to=None, assertion_in_response_to="req-of-someone")

    assert refused(connection, xml, expected_request_id=None) == "in_response_to_mismatch"


# --- Input that is not a SAML response, and draft connections ---------------------------


@pytest.mark.parametrize("posted", ["", "not base64 at all!", base64.b64encode(b"<not-closed").decode()])
def test_garbage_is_an_invalid_response(connection, posted):
    path = reverse("sso:saml_acs", kwargs={"public_id": connection.public_id})
    request = RequestFactory().post(path, {"SAMLResponse": posted})
    with pytest.raises(SsoValidationError) as caught:
        saml.validate_response(connection, request, expected_request_id="req-1")

    assert caught.value.reason == "invalid_response"


def test_xml_with_a_dtd_is_an_invalid_response(connection, values):
    xml = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "x">]>' + respond(values)

    assert refused(connection, xml) == "invalid_response"


def test_draft_connection_is_not_ready(sso_connection):
    assert not sso_connection.is_ready
    values = sp_values(sso_connection, RequestFactory().get("/"))

    assert refused(sso_connection, respond(values)) == "connection_not_ready"


# --- AuthnRequest and metadata --------------------------------------------------------


def _decoded_authn_request(url: str) -> etree._Element:
    query = parse_qs(urlsplit(url).query)
    return etree.fromstring(zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15))


def test_authn_request_names_this_connection(connection, values):
    url, request_id = saml.authn_request_redirect(connection, RequestFactory().get("/"))

    assert url.startswith(IDP.sso_url + "?SAMLRequest=")
    assert "RelayState" not in parse_qs(urlsplit(url).query)
    request = _decoded_authn_request(url)
    assert request.get("ID") == request_id
    assert request.get("Destination") == IDP.sso_url
    assert request.get("AssertionConsumerServiceURL") == values.acs_url
    assert request.findtext(f"{{{OneLogin_Saml2_Constants.NS_SAML}}}Issuer") == values.sp_entity_id
    policy = request.find(f"{{{OneLogin_Saml2_Constants.NS_SAMLP}}}NameIDPolicy")
    assert policy.get("Format") == SamlNameIdFormat.EMAIL


def test_metadata_endpoint_serves_the_values_to_paste(client, connection, values):
    response = client.get(values.sp_metadata_url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/samlmetadata+xml"
    root = etree.fromstring(response.content)
    md = {"md": OneLogin_Saml2_Constants.NS_MD}
    assert root.get("entityID") == values.sp_entity_id
    assert root.get("validUntil") is None
    acs = root.find("md:SPSSODescriptor/md:AssertionConsumerService", md)
    assert (acs.get("Location"), acs.get("Binding")) == (values.acs_url, OneLogin_Saml2_Constants.BINDING_HTTP_POST)
    assert root.findtext("md:SPSSODescriptor/md:NameIDFormat", namespaces=md) == values.nameid_format


def test_metadata_is_served_for_a_draft_connection(client, sso_connection):
    url = reverse("sso:saml_metadata", kwargs={"public_id": sso_connection.public_id})

    assert client.get(url).status_code == 200


def test_metadata_of_an_oidc_or_unknown_connection_is_404(client, connection):
    connection.protocol = "oidc"
    connection.save()

    assert client.get(reverse("sso:saml_metadata", kwargs={"public_id": connection.public_id})).status_code == 404
    unknown = "00000000-0000-0000-0000-000000000000"
    assert client.get(reverse("sso:saml_metadata", kwargs={"public_id": unknown})).status_code == 404


# --- Views: start -> IdP -> ACS -> complete ---------------------------------------------


@pytest.fixture
def outcomes(monkeypatch):
    """Record what the SAML views hand to sso.outcome instead of signing anyone in."""
    recorded = {"finished": [], "failed": []}

    def finish_sign_in(request, *, connection, identity, next_url="", test=False):
        recorded["finished"].append(
            {"connection": connection, "identity": identity, "next_url": next_url, "test": test}
        )
        return HttpResponse("signed in")

    def fail_sign_in(request, *, connection, error):
        recorded["failed"].append(error.reason)
        return HttpResponse("refused", status=403)

    monkeypatch.setattr("sso.outcome.finish_sign_in", finish_sign_in)
    monkeypatch.setattr("sso.outcome.fail_sign_in", fail_sign_in)
    return recorded


def start_in_browser(browser: Client, connection, *, next_url="/my-access/", test=False) -> str:
    """Run views_saml.start in ``browser``'s session; return the AuthnRequest ID."""
    engine = import_module(django_settings.SESSION_ENGINE)
    session = engine.SessionStore()
    request = RequestFactory().get("/sso/start/")
    request.session = session
    response = views_saml.start(request, connection, next_url=next_url, test=test)
    assert response.status_code == 302
    session.save()
    browser.cookies[django_settings.SESSION_COOKIE_NAME] = session.session_key
    return _decoded_authn_request(response["Location"]).get("ID")


def post_to_acs(connection, xml: str) -> HttpResponse:
    """The IdP's auto-submitted form: a cross-site POST, so without our session cookie."""
    return Client().post(
        reverse("sso:saml_acs", kwargs={"public_id": connection.public_id}), {"SAMLResponse": encode(xml)}
    )


def test_start_remembers_the_request_in_the_cache_and_the_session(connection, outcomes):
    browser = Client()
    request_id = start_in_browser(browser, connection, next_url="/next/", test=True)

    assert cache.get(f"sso:saml:req:{request_id}") == {"connection": connection.pk, "next_url": "/next/", "test": True}
    assert browser.session["sso_saml_pending"] == [request_id]


def test_start_keeps_only_the_last_few_requests(connection, outcomes):
    engine = import_module(django_settings.SESSION_ENGINE)
    request = RequestFactory().get("/")
    request.session = engine.SessionStore()
    for _ in range(views_saml.PENDING_PER_SESSION + 2):
        views_saml.start(request, connection)

    assert len(request.session["sso_saml_pending"]) == views_saml.PENDING_PER_SESSION


def test_start_with_a_draft_connection_is_refused(sso_connection, outcomes):
    request = RequestFactory().get("/")
    request.session = {}

    views_saml.start(request, sso_connection)

    assert outcomes["failed"] == ["connection_not_ready"]


def test_sign_in_round_trip(connection, values, outcomes):
    browser = Client()
    request_id = start_in_browser(browser, connection, next_url="/my-access/")

    acs = post_to_acs(connection, respond(values, in_response_to=request_id))
    assert acs.status_code == 303
    complete_url = reverse("sso:saml_complete", kwargs={"public_id": connection.public_id})
    assert acs["Location"].startswith(complete_url + "?k=")
    done = browser.get(acs["Location"])

    assert done.content == b"signed in"
    [finished] = outcomes["finished"]
    assert finished["connection"] == connection
    assert finished["identity"].email == "alice@acme.test"
    assert (finished["next_url"], finished["test"]) == ("/my-access/", False)
    assert browser.session["sso_saml_pending"] == []
    assert cache.get(f"sso:saml:req:{request_id}") is None


def test_acs_sets_no_session_cookie(connection, values, outcomes):
    """The cross-site POST carries no session cookie; answering with a new one would replace
    the browser's own session and lose the pending request before ``complete``."""
    request_id = start_in_browser(Client(), connection)

    acs = post_to_acs(connection, respond(values, in_response_to=request_id))

    assert acs.status_code == 303
    assert django_settings.SESSION_COOKIE_NAME not in acs.cookies


def test_completion_in_another_browser_is_refused(connection, values, outcomes):
    request_id = start_in_browser(Client(), connection)
    acs = post_to_acs(connection, respond(values, in_response_to=request_id))

    other_browser = Client()
    other_browser.get(acs["Location"])

    assert outcomes == {"finished": [], "failed": ["state_mismatch"]}


def test_completion_key_works_once(connection, values, outcomes):
    browser = Client()
    request_id = start_in_browser(browser, connection)
    acs = post_to_acs(connection, respond(values, in_response_to=request_id))
    browser.get(acs["Location"])
    browser.get(acs["Location"])

    assert len(outcomes["finished"]) == 1
    assert outcomes["failed"] == ["state_mismatch"]


def test_acs_refuses_a_request_id_this_connection_did_not_send(connection, values, outcomes, other_organization):
    other = other_organization.sso_connections.get()
    other.saml_idp_entity_id, other.saml_idp_sso_url, other.saml_idp_x509_cert = (
        IDP.entity_id,
        IDP.sso_url,
        IDP.cert_pem,
    )
    other.save()
    request_of_other = start_in_browser(Client(), other)

    unknown = post_to_acs(connection, respond(values, in_response_to="req-never-sent"))
    foreign = post_to_acs(connection, respond(values, in_response_to=request_of_other))

    assert (unknown.status_code, foreign.status_code) == (403, 403)
    assert outcomes["failed"] == ["in_response_to_mismatch", "in_response_to_mismatch"]


def test_acs_uses_a_pending_request_once(connection, values, outcomes):
    request_id = start_in_browser(Client(), connection)
    post_to_acs(connection, respond(values, in_response_to=request_id))
    # A second, freshly signed response to the same request (not a replayed assertion).
    second = post_to_acs(connection, respond(values, in_response_to=request_id))

    assert second.status_code == 403
    assert outcomes["failed"] == ["in_response_to_mismatch"]


def test_acs_refuses_an_unsolicited_response_by_default(connection, values, outcomes):
    response = post_to_acs(connection, respond(values, in_response_to=None))

    assert response.status_code == 403
    assert outcomes["failed"] == ["unsolicited_refused"]


def test_acs_accepts_an_unsolicited_response_when_allowed(connection, values, outcomes):
    connection.saml_allow_idp_initiated = True
    connection.save()
    path = reverse("sso:saml_acs", kwargs={"public_id": connection.public_id})

    acs = Client().post(path, {"SAMLResponse": encode(respond(values, in_response_to=None)), "RelayState": "/apps/"})
    Client().get(acs["Location"])

    [finished] = outcomes["finished"]
    assert (finished["identity"].email, finished["next_url"]) == ("alice@acme.test", "/apps/")


def test_acs_ignores_an_offsite_relay_state(connection, values, outcomes):
    connection.saml_allow_idp_initiated = True
    connection.save()
    path = reverse("sso:saml_acs", kwargs={"public_id": connection.public_id})

    acs = Client().post(
        path, {"SAMLResponse": encode(respond(values, in_response_to=None)), "RelayState": "//evil.test/"}
    )
    Client().get(acs["Location"])

    assert outcomes["finished"][0]["next_url"] == ""


def test_acs_passes_validation_failures_to_fail_sign_in(connection, values, outcomes):
    request_id = start_in_browser(Client(), connection)

    response = post_to_acs(connection, respond(values, in_response_to=request_id, signing_idp=IMPOSTOR))

    assert response.status_code == 403
    assert outcomes["failed"] == ["signature_invalid"]


@pytest.mark.parametrize("body", [{}, {"SAMLResponse": "%%%garbage"}, {"SAMLResponse": encode("<a>")}])
def test_acs_answers_400_to_something_that_is_not_a_saml_response(connection, outcomes, body):
    response = Client().post(reverse("sso:saml_acs", kwargs={"public_id": connection.public_id}), body)

    assert response.status_code == 400
    assert outcomes["failed"] == ["invalid_response"]


def test_acs_of_a_draft_connection_is_not_ready(sso_connection, outcomes):
    values = sp_values(sso_connection, RequestFactory().get("/"))
    response = post_to_acs(sso_connection, respond(values))

    assert response.status_code == 403
    assert outcomes["failed"] == ["connection_not_ready"]


def test_acs_only_takes_posts(client, connection):
    assert client.get(reverse("sso:saml_acs", kwargs={"public_id": connection.public_id})).status_code == 405


def test_acs_of_an_unknown_or_oidc_connection_is_404(connection, values):
    unknown = "00000000-0000-0000-0000-000000000000"
    assert Client().post(reverse("sso:saml_acs", kwargs={"public_id": unknown}), {}).status_code == 404
    connection.protocol = "oidc"
    connection.save()
    assert post_to_acs(connection, respond(values)).status_code == 404
