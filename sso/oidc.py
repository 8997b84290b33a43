"""OpenID Connect relying party for one SSO connection, on Authlib.

Authlib does the protocol and the cryptography: the token request with the connection's
client authentication (``OAuth2Session``), PKCE (RFC 7636), the JWS signature check
(joserfc, the JOSE library Authlib 1.9 itself verifies ID tokens with; ``authlib.jose`` is
deprecated) and the ID token claim rules of OpenID Connect Core §3.1.3.7
(``authlib.oidc.core.CodeIDToken``: iss, aud, azp, exp, iat, nonce, at_hash). This module
only:
- fetches and checks the provider's discovery document and JWKS (timeout, size cap,
  exact issuer), cached so a sign-in costs no extra round trip;
- keeps the started sign-in (state, nonce, PKCE verifier) in the browser's session;
- restricts signatures to the asymmetric algorithms the provider advertises;
- fills claims the ID token leaves out from the userinfo endpoint (same ``sub``);
- turns every failure into ``SsoValidationError`` with a short reason (docs/sso.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from django.conf import settings
from django.core.cache import cache
from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from admincenter.encryption import SecretUnreadable, decrypt
from admincenter.models import OidcTokenAuthMethod, SsoConnection
from sso.endpoints import sp_values
from sso.identity import SsoIdentity, SsoValidationError, attribute_names, identity_from_attributes

logger = logging.getLogger(__name__)

# Discovery documents and key sets change rarely; a key rotation is picked up at once
# anyway, because an unknown ``kid`` refetches the key set (``_decode_id_token``).
METADATA_CACHE_SECONDS = 3600

# Only public-key signatures: with a symmetric algorithm the "key" would be the client
# secret or, in the classic confusion attack, the provider's public key. Never "none".
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"}
)
# OpenID Connect Discovery §3: RS256 is the default when the provider lists none.
DEFAULT_ID_TOKEN_ALGORITHMS = ("RS256",)
_ASYMMETRIC_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})

_PENDING_SESSION_KEY = "sso_oidc_pending"
# A browser may start a few sign-ins at once (two tabs, a retry); older ones are dropped.
MAX_PENDING_SIGN_INS = 5

# joserfc names the claim that failed; the reason says what it means for the sign-in.
# Time claims are sorted out in ``_claim_failure_reason``; anything else is invalid_response.
_REASON_BY_CLAIM = {
    "iss": "issuer_mismatch",
    "aud": "audience_mismatch",
    "azp": "audience_mismatch",
    "nonce": "nonce_mismatch",
}


@dataclass(frozen=True)
class PendingSignIn:
    """A sign-in this browser started, waiting for the provider to come back."""

    connection_pk: int
    nonce: str
    code_verifier: str
    redirect_uri: str
    next_url: str
    test: bool
    created: int


def _cache_key(kind: str, url: str) -> str:
    return f"sso:oidc:{kind}:{hashlib.sha256(url.encode()).hexdigest()}"


def _get_json(url: str, *, what: str, reason: str, headers: dict | None = None) -> dict:
    """GET a JSON object with the SSO timeout and size cap; any failure is ``reason``."""
    limit = settings.SSO_METADATA_MAX_BYTES
    try:
        with requests.get(
            url,
            timeout=settings.SSO_HTTP_TIMEOUT_SECONDS,
            stream=True,
            headers={"Accept": "application/json", **(headers or {})},
        ) as response:
            if response.status_code != 200:
                raise SsoValidationError(reason, f"{what} at {url} answered HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_content(chunk_size=65536):
                body.extend(chunk)
                if len(body) > limit:
                    raise SsoValidationError(reason, f"{what} at {url} is larger than {limit} bytes")
    except requests.RequestException as exc:
        raise SsoValidationError(reason, f"{what} at {url} could not be fetched: {exc}") from exc
    try:
        document = json.loads(bytes(body))
    except ValueError as exc:
        raise SsoValidationError(reason, f"{what} at {url} is not JSON") from exc
    if not isinstance(document, dict):
        raise SsoValidationError(reason, f"{what} at {url} is not a JSON object")
    return document


def discovery_url(issuer: str) -> str:
    # OpenID Connect Discovery §4: a trailing slash of the issuer is dropped before appending.
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def discovery(connection: SsoConnection) -> dict:
    """The provider's discovery document, checked and cached.

    Its ``issuer`` must equal the configured issuer exactly (OpenID Connect Discovery §4.3):
    otherwise one provider could pass for another, and every ID token would fail anyway."""
    issuer = connection.oidc_issuer
    if not issuer:
        raise SsoValidationError("connection_not_ready", "the connection has no issuer")
    key = _cache_key("discovery", issuer)
    document = cache.get(key)
    if document is not None:
        return document
    document = _get_json(discovery_url(issuer), what="discovery document", reason="idp_unreachable")
    if document.get("issuer") != issuer:
        raise SsoValidationError(
            "issuer_mismatch",
            f"discovery says issuer {document.get('issuer')!r}, the connection is configured with {issuer!r}",
        )
    for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = document.get(endpoint)
        if not isinstance(value, str) or not value.startswith(("https://", "http://")):
            raise SsoValidationError("idp_unreachable", f"discovery document has no usable {endpoint}")
    cache.set(key, document, METADATA_CACHE_SECONDS)
    return document


def signing_keys(metadata: dict, *, refresh: bool = False) -> KeySet:
    """The provider's public signing keys (symmetric and encryption keys are left out)."""
    jwks_uri = metadata["jwks_uri"]
    key = _cache_key("jwks", jwks_uri)
    jwks = None if refresh else cache.get(key)
    if jwks is None:
        jwks = _get_json(jwks_uri, what="JWKS", reason="idp_unreachable")
        cache.set(key, jwks, METADATA_CACHE_SECONDS)
    keys = [
        k
        for k in jwks.get("keys") or []
        if isinstance(k, dict) and k.get("kty") in _ASYMMETRIC_KEY_TYPES and k.get("use", "sig") == "sig"
    ]
    if not keys:
        raise SsoValidationError("signature_invalid", f"the JWKS at {jwks_uri} has no public signing key")
    try:
        return KeySet.import_key_set({"keys": keys})
    except (JoseError, ValueError, TypeError) as exc:
        raise SsoValidationError("signature_invalid", f"the JWKS at {jwks_uri} is unusable: {exc}") from exc


def _scopes(connection: SsoConnection) -> list[str]:
    scopes = connection.oidc_scopes.split()
    # Without "openid" the request is plain OAuth 2.0 and no ID token comes back.
    if "openid" not in scopes:
        scopes.insert(0, "openid")
    return scopes


def _require_ready(connection: SsoConnection) -> None:
    if not connection.is_oidc or not connection.is_ready:
        raise SsoValidationError("connection_not_ready", "the OIDC connection lacks its issuer, client ID or secret")


# --- starting a sign-in ---------------------------------------------------------------


def _store_pending(request, state: str, pending: PendingSignIn) -> None:
    now = int(time.time())
    entries = {
        s: entry
        for s, entry in (request.session.get(_PENDING_SESSION_KEY) or {}).items()
        if now - int(entry.get("created", 0)) < settings.SSO_PENDING_TTL_SECONDS
    }
    newest = sorted(entries.items(), key=lambda item: item[1]["created"])[-(MAX_PENDING_SIGN_INS - 1) :]
    entries = dict(newest)
    entries[state] = asdict(pending)
    request.session[_PENDING_SESSION_KEY] = entries


def authorization_redirect(connection: SsoConnection, request, *, next_url: str = "", test: bool = False) -> str:
    """The provider's authorization URL for a new sign-in (code flow, PKCE S256, state, nonce).

    The state, nonce and PKCE verifier stay in this browser's session: the provider sends the
    browser back with a top-level GET, which carries our SameSite=Lax session cookie."""
    _require_ready(connection)
    metadata = discovery(connection)
    redirect_uri = sp_values(connection, request).oidc_redirect_uri
    state = generate_token(48)
    nonce = generate_token(48)
    # RFC 7636 §4.1: 43 to 128 unreserved characters; generate_token uses letters and digits.
    code_verifier = generate_token(64)
    client = OAuth2Session(
        client_id=connection.oidc_client_id,
        scope=_scopes(connection),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )
    with client:
        url, _ = client.create_authorization_url(
            metadata["authorization_endpoint"], state=state, code_verifier=code_verifier, nonce=nonce
        )
    _store_pending(
        request,
        state,
        PendingSignIn(
            connection_pk=connection.pk,
            nonce=nonce,
            code_verifier=code_verifier,
            redirect_uri=redirect_uri,
            next_url=next_url,
            test=test,
            created=int(time.time()),
        ),
    )
    return url


def pop_pending(request, *, state: str, connection: SsoConnection) -> PendingSignIn:
    """Take (once) the sign-in this browser started with ``state`` for ``connection``."""
    entries = dict(request.session.get(_PENDING_SESSION_KEY) or {})
    entry = entries.pop(state, None) if state else None
    if entry is None:
        raise SsoValidationError("state_mismatch", "no sign-in with this state was started in this browser")
    request.session[_PENDING_SESSION_KEY] = entries
    try:
        pending = PendingSignIn(**entry)
    except TypeError as exc:  # an entry written by an older version of this module
        raise SsoValidationError("state_mismatch", "the started sign-in is unreadable") from exc
    if pending.connection_pk != connection.pk:
        raise SsoValidationError("state_mismatch", "the state belongs to a sign-in with another connection")
    if int(time.time()) - pending.created >= settings.SSO_PENDING_TTL_SECONDS:
        raise SsoValidationError("state_mismatch", "the sign-in was started too long ago")
    if not pending.nonce:
        raise SsoValidationError("state_mismatch", "the started sign-in has no nonce")
    return pending


# --- finishing a sign-in --------------------------------------------------------------


def exchange_code(connection: SsoConnection, *, code: str, pending: PendingSignIn) -> dict:
    """The token endpoint's answer for ``code``, sent with the PKCE verifier and the
    connection's client authentication (client_secret_basic unless configured otherwise)."""
    _require_ready(connection)
    metadata = discovery(connection)
    try:
        secret = decrypt(connection.oidc_client_secret_encrypted)
    except SecretUnreadable as exc:
        raise SsoValidationError("connection_not_ready", "the stored client secret cannot be decrypted") from exc
    method = connection.oidc_token_auth_method or OidcTokenAuthMethod.CLIENT_SECRET_BASIC
    if method not in OidcTokenAuthMethod.values:
        raise SsoValidationError("connection_not_ready", f"unsupported client authentication {method!r}")
    client = OAuth2Session(
        client_id=connection.oidc_client_id,
        client_secret=secret,
        token_endpoint_auth_method=str(method),
        redirect_uri=pending.redirect_uri,
        default_timeout=settings.SSO_HTTP_TIMEOUT_SECONDS,
    )
    try:
        with client:
            token = client.fetch_token(
                metadata["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                code_verifier=pending.code_verifier,
            )
    except (AuthlibBaseError, requests.RequestException, ValueError) as exc:
        raise SsoValidationError("token_exchange_failed", f"token endpoint refused the code: {exc}") from exc
    if not isinstance(token.get("id_token"), str) or not token["id_token"]:
        raise SsoValidationError("token_exchange_failed", "the token response has no id_token")
    return dict(token)


def _id_token_algorithms(metadata: dict) -> list[str]:
    advertised = metadata.get("id_token_signing_alg_values_supported") or DEFAULT_ID_TOKEN_ALGORITHMS
    algorithms = [alg for alg in advertised if alg in ASYMMETRIC_ALGORITHMS]
    if not algorithms:
        raise SsoValidationError(
            "signature_invalid", f"the provider advertises no public-key signature algorithm ({advertised})"
        )
    return algorithms


def _decode_id_token(id_token: str, metadata: dict):
    registry = JWSRegistry(algorithms=_id_token_algorithms(metadata), strict_check_header=False)
    try:
        try:
            return jwt.decode(id_token, signing_keys(metadata), registry=registry)
        except InvalidKeyIdError:
            # The provider may have rotated its keys since we cached them: fetch them once more.
            return jwt.decode(id_token, signing_keys(metadata, refresh=True), registry=registry)
    except JoseError as exc:
        raise SsoValidationError("signature_invalid", f"ID token signature not verified: {exc}") from exc
    except ValueError as exc:
        raise SsoValidationError("signature_invalid", f"ID token is malformed: {exc}") from exc


def _claim_failure_reason(error: ClaimError, claims: dict) -> str:
    if isinstance(error, ExpiredTokenError):
        return "expired"
    claim = error.claim.split(",")[0]
    if claim in ("iat", "nbf"):
        # A well-formed time in the future beyond the allowed clock skew: the clocks disagree.
        value = claims.get(claim)
        is_time = isinstance(value, int | float) and not isinstance(value, bool)
        return "not_yet_valid" if is_time else "invalid_response"
    return _REASON_BY_CLAIM.get(claim, "invalid_response")


def verify_id_token(connection: SsoConnection, id_token: str, *, nonce: str, access_token: str = "") -> dict:
    """The claims of ``id_token`` once its signature and claims are verified."""
    metadata = discovery(connection)
    token = _decode_id_token(id_token, metadata)
    claims = CodeIDToken(
        token.claims,
        token.header,
        options={
            "iss": {"essential": True, "value": connection.oidc_issuer},
            "aud": {"essential": True, "value": connection.oidc_client_id},
            "sub": {"essential": True},
        },
        params={"nonce": nonce, "client_id": connection.oidc_client_id, "access_token": access_token or None},
    )
    try:
        claims.validate(leeway=settings.SSO_CLOCK_SKEW_SECONDS)
    except ClaimError as exc:
        raise SsoValidationError(_claim_failure_reason(exc, token.claims), f"ID token: {exc}") from exc
    except JoseError as exc:
        raise SsoValidationError("invalid_response", f"ID token: {exc}") from exc
    return dict(claims)


def fetch_userinfo(connection: SsoConnection, access_token: str) -> dict:
    metadata = discovery(connection)
    endpoint = metadata.get("userinfo_endpoint")
    if not endpoint:
        return {}
    return _get_json(
        endpoint, what="userinfo", reason="userinfo_failed", headers={"Authorization": f"Bearer {access_token}"}
    )


def _has_email(connection: SsoConnection, claims: dict) -> bool:
    return any(claims.get(name) for name in attribute_names(connection, "email"))


def sign_in_claims(connection: SsoConnection, id_claims: dict, *, access_token: str) -> dict:
    """The ID token's claims, completed from userinfo when they carry no email.

    Providers such as oidc-provider put only ``sub`` in the ID token and the scope claims
    (email, names) in userinfo. Userinfo answers are only believed for the same ``sub``
    (OpenID Connect Core §5.3.2): otherwise they may describe someone else."""
    claims = dict(id_claims)
    if not _has_email(connection, claims) and access_token:
        userinfo = fetch_userinfo(connection, access_token)
        if userinfo:
            if userinfo.get("sub") != claims.get("sub"):
                raise SsoValidationError(
                    "subject_mismatch", "the userinfo answer is about another subject than the ID token"
                )
            for name, value in userinfo.items():
                claims.setdefault(name, value)
    # An explicit "email_verified: false" means the provider does not vouch for the address,
    # so it must not sign in whoever owns that address here. An absent claim is accepted:
    # Entra ID never sends email_verified, and its addresses are tenant-managed.
    if "email" in attribute_names(connection, "email") and claims.get("email"):
        verified = claims.get("email_verified")
        if verified is False or (isinstance(verified, str) and verified.strip().lower() == "false"):
            raise SsoValidationError("email_unverified", "the provider says the email address is not verified")
    return claims


def complete_sign_in(connection: SsoConnection, request) -> tuple[SsoIdentity, PendingSignIn]:
    """Verify the provider's answer on the callback and return who signed in."""
    if not connection.is_oidc:
        raise SsoValidationError("connection_not_ready", "not an OIDC connection")
    pending = pop_pending(request, state=request.GET.get("state", ""), connection=connection)
    error = request.GET.get("error")
    if error:
        description = request.GET.get("error_description", "")[:300]
        raise SsoValidationError("idp_error", f"the provider answered {error[:100]!r}: {description}")
    code = request.GET.get("code")
    if not code:
        raise SsoValidationError("idp_error", "the provider sent neither a code nor an error")
    token = exchange_code(connection, code=code, pending=pending)
    access_token = token.get("access_token") or ""
    id_claims = verify_id_token(connection, token["id_token"], nonce=pending.nonce, access_token=access_token)
    claims = sign_in_claims(connection, id_claims, access_token=access_token)
    identity = identity_from_attributes(connection, claims, subject=str(id_claims["sub"]))
    return identity, pending
