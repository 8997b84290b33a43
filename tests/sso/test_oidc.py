"""The OpenID Connect relying party (sso/oidc.py, sso/views_oidc.py) against a real provider
stand-in over HTTP (tests/sso/oidc_support.py): real discovery, real JWKS, real RS256 ID
tokens, a token endpoint that checks client authentication and PKCE.

The browser is Django's test client: the sign-in starts with ``views_oidc.start`` on the
client's own session, the provider's answer comes back to the callback URL. The outcome
(``sso.outcome.finish_sign_in`` / ``fail_sign_in``) is recorded by the ``outcome`` fixture,
so each negative test asserts the reason the sign-in was refused, not just that it was;
the last tests run the real sign-in views instead (JIT user, audited failure)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

import sso.outcome
from admincenter.encryption import encrypt
from admincenter.models import (
    AuditEvent,
    OidcTokenAuthMethod,
    SsoConnection,
    SsoDomain,
    SsoProtocol,
    User,
    UserSource,
)
from admincenter.services.domains import sso_domains_set
from sso import oidc, views_oidc
from sso.endpoints import sp_values
from sso.identity import SsoValidationError
from tests.factories import OrganizationFactory
from tests.sso.oidc_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    OMIT,
    PERSON,
    SUBJECT,
    OidcProviderStandIn,
    hmac_token,
    new_ec_signing_key,
    new_signing_key,
    unsigned_token,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_cache")]

# oidc-provider's default: only sub and the protocol claims in the ID token; the person's are at userinfo.
ONLY_SUB = {name: OMIT for name in PERSON}


@pytest.fixture
def provider():
    stand_in = OidcProviderStandIn().start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def organization():
    return OrganizationFactory(name="Acme", slug="acme")


def make_connection(organization, issuer: str, *, name: str = "Provider", **fields) -> SsoConnection:
    values = {
        "oidc_issuer": issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret_encrypted": encrypt(CLIENT_SECRET),
        **fields,
    }
    return SsoConnection.objects.create(organization=organization, name=name, protocol=SsoProtocol.OIDC, **values)


@pytest.fixture
def connection(organization, provider):
    return make_connection(organization, provider.issuer)


@pytest.fixture
def outcome(monkeypatch):
    """What the callback handed to the protocol-neutral sign-in views."""
    seen: dict = {}

    def finish_sign_in(request, *, connection, identity, next_url="", test=False):
        seen.update(finished=True, connection=connection, identity=identity, next_url=next_url, test=test)
        return HttpResponse("signed in")

    def fail_sign_in(request, *, connection, error):
        seen.update(finished=False, connection=connection, error=error)
        return HttpResponse("refused", status=403)

    monkeypatch.setattr(sso.outcome, "finish_sign_in", finish_sign_in)
    monkeypatch.setattr(sso.outcome, "fail_sign_in", fail_sign_in)
    return seen


def start_sign_in(client, connection, *, next_url: str = "/my-access/", test: bool = False):
    """Run ``views_oidc.start`` on the test client's session (the browser)."""
    request = RequestFactory().get(reverse("sso:login", kwargs={"public_id": connection.public_id}))
    request.session = client.session
    response = views_oidc.start(request, connection, next_url=next_url, test=test)
    request.session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = request.session.session_key
    return response


def authorization_url(client, connection, **kwargs) -> str:
    response = start_sign_in(client, connection, **kwargs)
    assert response.status_code == 302, response
    return response["Location"]


def callback(client, connection, params: dict):
    return client.get(reverse("sso:oidc_callback", kwargs={"public_id": connection.public_id}), params)


def sign_in(client, connection, provider, *, next_url: str = "/my-access/", test: bool = False, **grant):
    url = authorization_url(client, connection, next_url=next_url, test=test)
    return callback(client, connection, provider.authorize(url, **grant))


def refused_reason(outcome) -> str:
    assert outcome.get("finished") is False, outcome
    assert isinstance(outcome["error"], SsoValidationError)
    return outcome["error"].reason


def pending_entries(client) -> dict:
    return client.session.get("sso_oidc_pending", {})


# --- the authorization request -----------------------------------------------------------


def test_authorization_request_is_code_flow_with_pkce_state_and_nonce(client, connection, provider):
    url = authorization_url(client, connection, next_url="/groups/", test=True)

    parts = urlsplit(url)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{provider.issuer}/authorize"
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == sp_values(connection, RequestFactory().get("/")).oidc_redirect_uri
    assert params["scope"].split() == ["openid", "email", "profile"]
    assert params["code_challenge_method"] == "S256"
    pending = pending_entries(client)[params["state"]]
    assert params["code_challenge"] == create_s256_code_challenge(pending["code_verifier"])
    assert params["nonce"] == pending["nonce"]
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32
    assert 43 <= len(pending["code_verifier"]) <= 128
    assert pending["connection_pk"] == connection.pk
    assert pending["next_url"] == "/groups/"
    assert pending["test"] is True


def test_openid_scope_is_added_when_the_connection_leaves_it_out(client, organization, provider):
    connection = make_connection(organization, provider.issuer, oidc_scopes="email profile")

    params = parse_qs(urlsplit(authorization_url(client, connection)).query)

    assert params["scope"][0].split() == ["openid", "email", "profile"]


def test_only_a_few_started_sign_ins_are_kept_per_browser(client, connection, provider):
    states = [parse_qs(urlsplit(authorization_url(client, connection)).query)["state"][0] for _ in range(8)]

    kept = pending_entries(client)
    assert len(kept) == oidc.MAX_PENDING_SIGN_INS
    assert states[-1] in kept and states[0] not in kept


def test_expired_started_sign_ins_are_dropped_when_a_new_one_starts(client, connection, provider, settings):
    stale_state = parse_qs(urlsplit(authorization_url(client, connection)).query)["state"][0]
    session = client.session
    session["sso_oidc_pending"][stale_state]["created"] -= settings.SSO_PENDING_TTL_SECONDS + 1
    session.save()

    fresh_state = parse_qs(urlsplit(authorization_url(client, connection)).query)["state"][0]

    assert list(pending_entries(client)) == [fresh_state]


def test_discovery_and_jwks_are_cached_between_sign_ins(client, connection, provider, outcome):
    sign_in(client, connection, provider)
    sign_in(client, connection, provider)

    assert outcome["finished"] is True
    assert provider.discovery_fetches == 1
    assert provider.jwks_fetches == 1


def test_draft_connection_cannot_start(client, organization, provider, outcome):
    draft = make_connection(organization, provider.issuer, oidc_client_secret_encrypted="")

    response = start_sign_in(client, draft)

    assert response.status_code == 403
    assert refused_reason(outcome) == "connection_not_ready"
    assert provider.discovery_fetches == 0


def test_unreachable_provider_is_a_failure_page_not_a_500(client, organization, outcome):
    stopped = OidcProviderStandIn().start()
    stopped.stop()  # its port is now closed
    connection = make_connection(organization, stopped.issuer)

    response = start_sign_in(client, connection)

    assert response.status_code == 403
    assert refused_reason(outcome) == "idp_unreachable"


def test_discovery_document_larger_than_the_cap_is_refused(client, connection, provider, outcome, settings):
    settings.SSO_METADATA_MAX_BYTES = 10_000
    provider.discovery_overrides = {"padding": "x" * 20_000}

    start_sign_in(client, connection)

    assert refused_reason(outcome) == "idp_unreachable"
    assert "larger than" in outcome["error"].detail


def test_discovery_with_another_issuer_is_refused(client, connection, provider, outcome):
    provider.discovery_overrides = {"issuer": "http://127.0.0.1:1/impostor"}

    start_sign_in(client, connection)

    assert refused_reason(outcome) == "issuer_mismatch"


# --- the happy path ----------------------------------------------------------------------


def test_sign_in_returns_the_identity_from_a_verified_id_token(client, connection, provider, outcome):
    response = sign_in(client, connection, provider, next_url="/groups/", test=True)

    assert response.status_code == 200
    assert outcome["finished"] is True
    identity = outcome["identity"]
    assert identity.email == PERSON["email"]
    assert (identity.given_name, identity.family_name) == (PERSON["given_name"], PERSON["family_name"])
    assert identity.subject == SUBJECT
    assert outcome["next_url"] == "/groups/"
    assert outcome["test"] is True
    assert outcome["connection"] == connection
    # The ID token carried the email: no userinfo round trip.
    assert provider.userinfo_requests == []


def test_group_claim_reaches_the_identity(client, connection, provider, outcome):
    sign_in(client, connection, provider, id_token_claims={"groups": ["Engineering", "Support"]})

    assert outcome["identity"].groups == ("Engineering", "Support")


def test_token_request_uses_client_secret_basic_and_sends_the_pkce_verifier(client, connection, provider, outcome):
    url = authorization_url(client, connection)
    state = parse_qs(urlsplit(url).query)["state"][0]
    verifier = pending_entries(client)[state]["code_verifier"]

    callback(client, connection, provider.authorize(url))

    assert outcome["finished"] is True
    (token_request,) = provider.token_requests
    assert token_request.headers["authorization"].startswith("Basic ")
    assert "client_secret" not in token_request.form
    assert token_request.form["code_verifier"] == verifier
    assert token_request.form["redirect_uri"] == connection_redirect_uri(connection)


def connection_redirect_uri(connection) -> str:
    return sp_values(connection, RequestFactory().get("/")).oidc_redirect_uri


def test_token_request_uses_client_secret_post_when_configured(client, organization, outcome):
    provider = OidcProviderStandIn(auth_method="client_secret_post").start()
    try:
        connection = make_connection(
            organization, provider.issuer, oidc_token_auth_method=OidcTokenAuthMethod.CLIENT_SECRET_POST
        )
        sign_in(client, connection, provider)
    finally:
        provider.stop()

    assert outcome["finished"] is True
    (token_request,) = provider.token_requests
    assert "authorization" not in token_request.headers
    assert token_request.form["client_id"] == CLIENT_ID
    assert token_request.form["client_secret"] == CLIENT_SECRET


def test_provider_expecting_another_client_authentication_refuses_the_exchange(client, organization, outcome):
    provider = OidcProviderStandIn(auth_method="client_secret_post").start()
    try:
        connection = make_connection(organization, provider.issuer)  # client_secret_basic
        sign_in(client, connection, provider)
    finally:
        provider.stop()

    assert refused_reason(outcome) == "token_exchange_failed"
    assert "invalid_client" in outcome["error"].detail


def test_wrong_pkce_verifier_is_refused_by_the_provider(client, connection, provider, outcome):
    url = authorization_url(client, connection)
    state = parse_qs(urlsplit(url).query)["state"][0]
    session = client.session
    session["sso_oidc_pending"][state]["code_verifier"] = "x" * 64
    session.save()

    callback(client, connection, provider.authorize(url))

    assert refused_reason(outcome) == "token_exchange_failed"
    assert "PKCE" in outcome["error"].detail


# --- ID token validation -------------------------------------------------------------------


# Each: the ID token's claims (given the time now, in seconds), and why it is refused.
REFUSED_ID_TOKEN_CLAIMS = [
    pytest.param(lambda now: {"iss": "http://127.0.0.1:1/impostor"}, "issuer_mismatch", id="from_another_issuer"),
    pytest.param(lambda now: {"iat": now - 900, "exp": now - 600}, "expired", id="expired"),
    pytest.param(lambda now: {"iat": now + 3600, "exp": now + 4000}, "not_yet_valid", id="issued_in_the_future"),
    pytest.param(lambda now: {"nbf": now + 3600}, "not_yet_valid", id="not_valid_before_a_future_time"),
    pytest.param(lambda now: {"exp": OMIT}, "invalid_response", id="without_expiry"),
    pytest.param(lambda now: {"nonce": "a-nonce-from-another-sign-in"}, "nonce_mismatch", id="with_another_nonce"),
    pytest.param(lambda now: {"nonce": OMIT}, "nonce_mismatch", id="without_nonce"),
    pytest.param(lambda now: {"email_verified": False}, "email_unverified", id="email_verified_false"),
    pytest.param(lambda now: {"email_verified": "false"}, "email_unverified", id="email_verified_false_as_a_string"),
]


@pytest.mark.parametrize(("claims", "reason"), REFUSED_ID_TOKEN_CLAIMS)
def test_id_token_with_a_refused_claim_is_refused(client, connection, provider, outcome, claims, reason):
    sign_in(client, connection, provider, id_token_claims=claims(int(time.time())))

    assert refused_reason(outcome) == reason


def test_id_token_for_another_client_is_refused(client, connection, provider, outcome):
    sign_in(client, connection, provider, id_token_claims={"aud": "another-client"})

    assert refused_reason(outcome) == "audience_mismatch"
    # The aud check itself refused it (the azp rule would also catch this one).
    assert "'aud'" in outcome["error"].detail


def test_several_audiences_need_azp_naming_this_client(client, connection, provider, outcome):
    sign_in(client, connection, provider, id_token_claims={"aud": [CLIENT_ID, "another-client"]})
    assert refused_reason(outcome) == "audience_mismatch"

    sign_in(
        client,
        connection,
        provider,
        id_token_claims={"aud": [CLIENT_ID, "another-client"], "azp": "another-client"},
    )
    assert refused_reason(outcome) == "audience_mismatch"

    sign_in(client, connection, provider, id_token_claims={"aud": [CLIENT_ID, "another-client"], "azp": CLIENT_ID})
    assert outcome["finished"] is True


def test_id_token_expired_within_the_clock_skew_is_accepted(client, connection, provider, outcome, settings):
    settings.SSO_CLOCK_SKEW_SECONDS = 120
    now = int(time.time())
    sign_in(client, connection, provider, id_token_claims={"iat": now - 400, "exp": now - 30})

    assert outcome["finished"] is True


def test_id_token_whose_at_hash_does_not_match_the_access_token_is_refused(client, connection, provider, outcome):
    sign_in(client, connection, provider, id_token_claims={"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"})

    assert refused_reason(outcome) == "invalid_response"
    assert "at_hash" in outcome["error"].detail


def test_token_response_without_a_usable_id_token_is_refused(client, connection, provider, outcome):
    sign_in(client, connection, provider, mint=lambda claims: 12345)

    assert refused_reason(outcome) == "token_exchange_failed"


def test_unsigned_alg_none_id_token_is_refused(client, connection, provider, outcome):
    sign_in(client, connection, provider, mint=unsigned_token)

    assert refused_reason(outcome) == "signature_invalid"


def test_hs256_id_token_keyed_with_the_public_key_is_refused(client, connection, provider, outcome):
    public_pem = provider.signing_key.as_pem(private=False)

    sign_in(client, connection, provider, mint=lambda claims: hmac_token(claims, public_pem, kid="key-1"))

    assert refused_reason(outcome) == "signature_invalid"


def test_id_token_signed_with_a_key_not_in_the_jwks_is_refused(client, connection, provider, outcome):
    sign_in(client, connection, provider, signing_key=new_signing_key("rogue-key"))

    assert refused_reason(outcome) == "signature_invalid"
    # An unknown kid may be a rotation: the key set was fetched once more before refusing.
    assert provider.jwks_fetches == 2


def test_id_token_signed_with_another_key_under_a_published_kid_is_refused(client, connection, provider, outcome):
    sign_in(client, connection, provider, signing_key=new_signing_key("key-1"))

    assert refused_reason(outcome) == "signature_invalid"


def test_tampered_id_token_is_refused(client, connection, provider, outcome):
    def tampered(claims):
        header, _, signature = provider.mint_id_token(claims).split(".")
        forged_payload = provider.mint_id_token({**claims, "email": "boss@acme.test"}).split(".")[1]
        return f"{header}.{forged_payload}.{signature}"

    sign_in(client, connection, provider, mint=tampered)

    assert refused_reason(outcome) == "signature_invalid"


def test_rotated_signing_key_is_picked_up_by_refetching_the_jwks(client, connection, provider, outcome):
    sign_in(client, connection, provider)
    assert provider.jwks_fetches == 1
    rotated = new_signing_key("key-2")
    provider.published_keys.append(rotated)

    sign_in(client, connection, provider, signing_key=rotated)

    assert outcome["finished"] is True
    assert provider.jwks_fetches == 2


def test_es256_provider_is_verified_with_its_ec_key(client, connection, provider, outcome):
    ec_key = new_ec_signing_key("ec-key-1")
    provider.published_keys = [ec_key]
    provider.discovery_overrides = {"id_token_signing_alg_values_supported": ["ES256"]}

    sign_in(client, connection, provider, signing_key=ec_key)

    assert outcome["finished"] is True


def test_algorithm_the_provider_does_not_advertise_is_refused(client, connection, provider, outcome):
    ec_key = new_ec_signing_key("ec-key-1")
    provider.published_keys = [provider.signing_key, ec_key]  # advertises RS256 only

    sign_in(client, connection, provider, signing_key=ec_key)

    assert refused_reason(outcome) == "signature_invalid"
    assert "ES256" in outcome["error"].detail


def test_provider_advertising_only_symmetric_algorithms_is_refused(client, connection, provider, outcome):
    provider.discovery_overrides = {"id_token_signing_alg_values_supported": ["HS256", "none"]}

    sign_in(client, connection, provider)

    assert refused_reason(outcome) == "signature_invalid"


# --- claims ------------------------------------------------------------------------------


def test_absent_email_verified_is_accepted(client, connection, provider, outcome):
    # Entra ID never sends email_verified (see sso/oidc.py).
    sign_in(client, connection, provider, id_token_claims={"email_verified": OMIT})

    assert outcome["finished"] is True


def test_claims_missing_from_the_id_token_come_from_userinfo(client, connection, provider, outcome):
    sign_in(client, connection, provider, id_token_claims=ONLY_SUB)

    assert outcome["finished"] is True
    identity = outcome["identity"]
    assert identity.email == PERSON["email"]
    assert identity.given_name == PERSON["given_name"]
    (userinfo_request,) = provider.userinfo_requests
    assert userinfo_request.headers["authorization"].startswith("Bearer ")


# Each: what userinfo answers when the ID token left the person's claims out, and why it is refused.
REFUSED_USERINFO = [
    pytest.param({"sub": SUBJECT, **PERSON, "email_verified": False}, "email_unverified", id="email_verified_false"),
    pytest.param({"sub": "someone-else", **PERSON}, "subject_mismatch", id="about_another_subject"),
    pytest.param({"sub": SUBJECT, "given_name": "Ada"}, "no_email", id="no_email_anywhere"),
]


@pytest.mark.parametrize(("userinfo", "reason"), REFUSED_USERINFO)
def test_a_userinfo_answer_that_cannot_be_trusted_is_refused(client, connection, provider, outcome, userinfo, reason):
    sign_in(client, connection, provider, id_token_claims=ONLY_SUB, userinfo=userinfo)

    assert refused_reason(outcome) == reason


def test_failing_userinfo_endpoint_is_refused(client, connection, provider, outcome):
    provider.userinfo_failure_status = 500

    sign_in(client, connection, provider, id_token_claims=ONLY_SUB)

    assert refused_reason(outcome) == "userinfo_failed"


def test_configured_email_claim_is_used(client, organization, provider, outcome):
    connection = make_connection(organization, provider.issuer, email_attribute="upn")

    sign_in(client, connection, provider, id_token_claims={"upn": "ada.l@acme.test"})

    assert outcome["identity"].email == "ada.l@acme.test"


# --- state and the callback --------------------------------------------------------------


def test_unknown_state_is_refused(client, connection, provider, outcome):
    url = authorization_url(client, connection)
    params = provider.authorize(url)

    callback(client, connection, {**params, "state": "a-state-this-browser-never-sent"})

    assert refused_reason(outcome) == "state_mismatch"
    assert provider.token_requests == []


def test_missing_state_is_refused(client, connection, provider, outcome):
    url = authorization_url(client, connection)
    params = provider.authorize(url)

    callback(client, connection, {"code": params["code"]})

    assert refused_reason(outcome) == "state_mismatch"


def test_replayed_callback_is_refused(client, connection, provider, outcome):
    url = authorization_url(client, connection)
    params = provider.authorize(url)
    callback(client, connection, params)
    assert outcome["finished"] is True

    callback(client, connection, params)

    assert refused_reason(outcome) == "state_mismatch"
    assert len(provider.token_requests) == 1


def test_state_from_another_browser_is_refused(client, connection, provider, outcome):
    url = authorization_url(client, connection)
    params = provider.authorize(url)

    callback(Client(), connection, params)

    assert refused_reason(outcome) == "state_mismatch"


def test_state_started_for_another_connection_is_refused(client, organization, connection, provider, outcome):
    other = make_connection(organization, provider.issuer, name="Other provider")
    params = provider.authorize(authorization_url(client, other))

    callback(client, connection, params)

    assert refused_reason(outcome) == "state_mismatch"


def test_expired_started_sign_in_is_refused(client, connection, provider, outcome, settings):
    url = authorization_url(client, connection)
    state = parse_qs(urlsplit(url).query)["state"][0]
    session = client.session
    session["sso_oidc_pending"][state]["created"] -= settings.SSO_PENDING_TTL_SECONDS + 1
    session.save()

    callback(client, connection, provider.authorize(url))

    assert refused_reason(outcome) == "state_mismatch"


def test_error_from_the_provider_is_idp_error(client, connection, provider, outcome):
    url = authorization_url(client, connection)
    state = parse_qs(urlsplit(url).query)["state"][0]

    callback(client, connection, {"state": state, "error": "access_denied", "error_description": "User cancelled"})

    assert refused_reason(outcome) == "idp_error"
    assert "access_denied" in outcome["error"].detail
    # The started sign-in is used up by the answer, whatever it was.
    assert state not in pending_entries(client)


def test_callback_for_an_unknown_connection_is_404(client, outcome):
    response = client.get(reverse("sso:oidc_callback", kwargs={"public_id": "00000000-0000-0000-0000-000000000000"}))

    assert response.status_code == 404
    assert outcome == {}


def test_callback_for_a_saml_connection_is_404(client, organization, outcome):
    saml = SsoConnection.objects.create(organization=organization, name="SAML IdP", protocol=SsoProtocol.SAML)

    response = client.get(reverse("sso:oidc_callback", kwargs={"public_id": saml.public_id}), {"state": "x"})

    assert response.status_code == 404


def test_callback_refuses_post(client, connection):
    response = client.post(reverse("sso:oidc_callback", kwargs={"public_id": connection.public_id}))

    assert response.status_code == 405


# --- through the real sign-in views (sso/views.py, admincenter/services/signin.py) ---------


@pytest.fixture
def jit_connection(connection):
    """The connection with acme.test verified: a new person there is created at sign-in (JIT)."""
    sso_domains_set(connection=connection, domains=["acme.test"])
    SsoDomain.objects.filter(connection=connection).update(verified_at=timezone.now())
    return connection


def test_oidc_sign_in_creates_the_jit_user_and_signs_them_in(client, jit_connection, provider):
    start = client.get(reverse("sso:login", kwargs={"public_id": jit_connection.public_id}), {"next": "/groups/"})
    assert start.status_code == 302

    response = callback(client, jit_connection, provider.authorize(start["Location"]))

    assert response.status_code == 302
    user = User.objects.get(email=PERSON["email"])
    assert user.source == UserSource.JIT
    assert (user.given_name, user.family_name) == (PERSON["given_name"], PERSON["family_name"])
    assert client.session.get(SESSION_KEY) == str(user.pk)
    assert AuditEvent.objects.filter(action="login.success").exists()


def test_refused_callback_is_a_400_page_and_an_audited_failure(client, jit_connection, provider):
    start = client.get(reverse("sso:login", kwargs={"public_id": jit_connection.public_id}))
    params = provider.authorize(start["Location"], id_token_claims={"nonce": "not-the-one-sent"})

    response = callback(client, jit_connection, params)

    assert response.status_code == 400
    assert SESSION_KEY not in client.session
    assert not User.objects.filter(email=PERSON["email"]).exists()
    [event] = AuditEvent.objects.filter(action="login.failure")
    assert event.after == {"reason": "nonce_mismatch", "protocol": "oidc", "connection": jit_connection.name}
