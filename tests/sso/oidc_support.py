"""A small but real OpenID provider for the relying party's unit tests.

It listens on 127.0.0.1 (a random port) in a thread and serves what ``sso.oidc`` talks to:
discovery, the JWKS, the token endpoint and userinfo, over real HTTP. Its RSA keys are
generated when the test runs and its ID tokens are real JWS (joserfc). The token endpoint
checks what a real provider checks (client authentication by the configured method, the
code, the redirect URI, the PKCE verifier), so a relying party that sends the wrong thing
is refused here too.

The browser part (the authorization endpoint) is simulated by ``authorize``: it reads the
authorization URL the relying party built, as the provider would, and returns the
``code``/``state`` the provider would send the browser back with. Each grant says what the
ID token and userinfo will contain, so a test can make the provider misbehave.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

CLIENT_ID = "optiid-test-client"
CLIENT_SECRET = "client-secret-for-tests-42"
SUBJECT = "248289761001"
PERSON = {"email": "ada@acme.test", "email_verified": True, "given_name": "Ada", "family_name": "Lovelace"}
# A claim value meaning "leave this claim out of the ID token".
OMIT = object()


def new_signing_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"}, private=True)


def new_ec_signing_key(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig", "alg": "ES256"}, private=True)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(claims: dict) -> str:
    """An ``alg: none`` JWT (RFC 7519 §6.1): what an attacker sends to skip the signature."""
    header = _b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64url(json.dumps(claims).encode())}."


def hmac_token(claims: dict, secret: bytes, kid: str) -> str:
    """An HS256 JWT keyed with ``secret``: with the provider's public key as the secret, the
    classic algorithm-confusion forgery."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = _b64url(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


@dataclass
class Grant:
    """What the provider hands out for one authorization code."""

    client_id: str
    redirect_uri: str
    nonce: str
    code_challenge: str
    code_challenge_method: str
    scope: str
    id_token_claims: dict
    userinfo: dict | None
    signing_key: RSAKey | ECKey | None
    mint: Callable[[dict], str] | None


@dataclass
class RecordedRequest:
    path: str
    headers: dict
    form: dict = field(default_factory=dict)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that stops reading (the size-cap test) is expected, not a server error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class OidcProviderStandIn:
    def __init__(self, *, auth_method: str = "client_secret_basic"):
        self.auth_method = auth_method
        self.signing_key = new_signing_key("key-1")
        self.published_keys = [self.signing_key]
        self.discovery_overrides: dict = {}
        # Set to make the userinfo endpoint fail, as a provider with a problem would.
        self.userinfo_failure_status: int | None = None
        self.grants: dict[str, Grant] = {}
        self.userinfo_by_access_token: dict[str, dict | None] = {}
        self.token_requests: list[RecordedRequest] = []
        self.userinfo_requests: list[RecordedRequest] = []
        self.discovery_fetches = 0
        self.jwks_fetches = 0
        self._server: _QuietServer | None = None
        self._thread: threading.Thread | None = None
        self.issuer = ""

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> OidcProviderStandIn:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):  # keep test output quiet
                return

            def do_GET(self):
                provider._handle(self, "GET")

            def do_POST(self):
                provider._handle(self, "POST")

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)

    # --- what the provider publishes ----------------------------------------------

    def discovery_document(self) -> dict:
        document = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
        }
        document.update(self.discovery_overrides)
        return document

    def jwks(self) -> dict:
        return {"keys": [key.as_dict(private=False) for key in self.published_keys]}

    def base_claims(self, nonce: str) -> dict:
        now = int(time.time())
        return {
            "iss": self.issuer,
            "sub": SUBJECT,
            "aud": CLIENT_ID,
            "exp": now + 300,
            "iat": now,
            "nonce": nonce,
            **PERSON,
        }

    # --- the browser's visit to the authorization endpoint (simulated) --------------

    def authorize(
        self,
        authorization_url: str,
        *,
        id_token_claims: dict | None = None,
        userinfo: dict | None = None,
        signing_key: RSAKey | ECKey | None = None,
        mint: Callable[[dict], str] | None = None,
    ) -> dict:
        """Accept the authorization request and return the callback's query parameters.

        ``id_token_claims`` override the default claims (``OMIT`` drops one); ``userinfo``
        is what the userinfo endpoint answers for this grant's access token (default: the
        subject and ``PERSON``); ``signing_key`` signs with another key; ``mint`` builds the
        ID token itself from the final claims."""
        parts = urlsplit(authorization_url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{self.issuer}/authorize", authorization_url
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert params["response_type"] == "code"
        assert params["client_id"] == CLIENT_ID
        code = secrets.token_urlsafe(24)
        claims = self.base_claims(params.get("nonce", ""))
        for name, value in (id_token_claims or {}).items():
            if value is OMIT:
                claims.pop(name, None)
            else:
                claims[name] = value
        self.grants[code] = Grant(
            client_id=params["client_id"],
            redirect_uri=params["redirect_uri"],
            nonce=params.get("nonce", ""),
            code_challenge=params.get("code_challenge", ""),
            code_challenge_method=params.get("code_challenge_method", ""),
            scope=params.get("scope", ""),
            id_token_claims=claims,
            userinfo=userinfo,
            signing_key=signing_key,
            mint=mint,
        )
        return {"code": code, "state": params["state"]}

    def mint_id_token(self, claims: dict, key: RSAKey | ECKey | None = None) -> str:
        key = key or self.signing_key
        return jwt.encode({"alg": key.get("alg") or "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)

    # --- HTTP -------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = urlsplit(handler.path).path
        headers = {k.lower(): v for k, v in handler.headers.items()}
        if method == "GET" and path == "/.well-known/openid-configuration":
            self.discovery_fetches += 1
            return self._send(handler, 200, self.discovery_document())
        if method == "GET" and path == "/jwks":
            self.jwks_fetches += 1
            return self._send(handler, 200, self.jwks())
        if method == "POST" and path == "/token":
            length = int(headers.get("content-length") or 0)
            form = {k: v[0] for k, v in parse_qs(handler.rfile.read(length).decode()).items()}
            self.token_requests.append(RecordedRequest(path, headers, form))
            status, body = self._token(headers, form)
            return self._send(handler, status, body)
        if method == "GET" and path == "/userinfo":
            self.userinfo_requests.append(RecordedRequest(path, headers))
            return self._userinfo(handler, headers)
        return self._send(handler, 404, {"error": "not_found"})

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Cache-Control", "no-store")
        handler.end_headers()
        handler.wfile.write(data)

    def _client_authenticated(self, headers: dict, form: dict) -> bool:
        """RFC 6749 §2.3.1: exactly the configured method, never both."""
        authorization = headers.get("authorization", "")
        if self.auth_method == "client_secret_basic":
            expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            return hmac.compare_digest(authorization, expected) and "client_secret" not in form
        if self.auth_method == "client_secret_post":
            return (
                not authorization
                and form.get("client_id") == CLIENT_ID
                and hmac.compare_digest(form.get("client_secret", ""), CLIENT_SECRET)
            )
        return False

    def _token(self, headers: dict, form: dict) -> tuple[int, dict]:
        if not self._client_authenticated(headers, form):
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        grant = self.grants.pop(form.get("code", ""), None)  # a code is good once
        if grant is None or grant.redirect_uri != form.get("redirect_uri"):
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        challenge = _b64url(hashlib.sha256(verifier.encode()).digest())
        if grant.code_challenge_method != "S256" or not verifier or challenge != grant.code_challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        access_token = secrets.token_urlsafe(24)
        self.userinfo_by_access_token[access_token] = (
            grant.userinfo if grant.userinfo is not None else {"sub": SUBJECT, **PERSON}
        )
        claims = grant.id_token_claims
        id_token = grant.mint(claims) if grant.mint else self.mint_id_token(claims, grant.signing_key)
        return 200, {"access_token": access_token, "token_type": "Bearer", "expires_in": 300, "id_token": id_token}

    def _userinfo(self, handler: BaseHTTPRequestHandler, headers: dict) -> None:
        authorization = headers.get("authorization", "")
        token = authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else ""
        if token not in self.userinfo_by_access_token:
            return self._send(handler, 401, {"error": "invalid_token"})
        if self.userinfo_failure_status:
            return self._send(handler, self.userinfo_failure_status, {"error": "server_error"})
        return self._send(handler, 200, self.userinfo_by_access_token[token])
