"""Start the two real identity providers of the end-to-end tests as child processes.

- SimpleSAMLphp 1.19 (Debian package ``simplesamlphp``) under PHP's built-in server, its
  configuration rendered from ``tests/e2e/simplesamlphp/`` into a temp dir that
  ``SIMPLESAMLPHP_CONFIG_DIR`` points at, with a signing key and certificate made here.
- panva's ``oidc-provider`` 8.x (``tests/e2e/oidc_provider/``, installed by ``npm ci``).

Both listen on ``localhost`` while the app under test runs on ``127.0.0.1``: different sites,
so the browser applies SameSite cookie rules as it would between a real IdP and the app.
``missing_*`` return why a provider cannot start here (empty when it can).
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from tests.certificates import self_signed_certificate

E2E_DIR = Path(__file__).resolve().parent
SIMPLESAMLPHP_TEMPLATES = E2E_DIR / "simplesamlphp"
SIMPLESAMLPHP_HOME = Path(os.environ.get("SIMPLESAMLPHP_HOME", "/usr/share/simplesamlphp"))
OIDC_PROVIDER_DIR = E2E_DIR / "oidc_provider"
IDP_HOST = "localhost"
STARTUP_SECONDS = 20


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def skip_or_fail(reason: str) -> None:
    """Skip on a laptop without the tools; fail in CI (CI=true, set by .ci/run, which installs
    them), so a broken install cannot pass as a skip."""
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        pytest.fail(f"CI=true but the tests that need a real IdP cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def missing_simplesamlphp() -> str:
    php = shutil.which("php")
    if not php:
        return "needs PHP: apt-get install php-cli php-xml php-mbstring"
    if not (SIMPLESAMLPHP_HOME / "www" / "saml2" / "idp" / "SSOService.php").exists():
        return f"needs SimpleSAMLphp at {SIMPLESAMLPHP_HOME}: apt-get install simplesamlphp"
    modules = subprocess.run([php, "-m"], capture_output=True, text=True, check=False).stdout.lower().split()
    absent = [name for name in ("dom", "mbstring", "openssl") if name not in modules]
    if absent:
        return f"needs PHP extensions {', '.join(absent)}: apt-get install php-xml php-mbstring"
    return ""


def missing_oidc_provider() -> str:
    if not shutil.which("node"):
        return "needs Node.js 18+ for oidc-provider: apt-get install nodejs npm"
    if not (OIDC_PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        return f"needs the npm packages of {OIDC_PROVIDER_DIR.relative_to(E2E_DIR.parents[1])}: run `npm ci` there"
    return ""


def _wait_until_serving(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    last_error = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            response = requests.get(url, timeout=2)
            if response.status_code == 200:
                return
            last_error = f"HTTP {response.status_code}: {response.text[:500]}"
        except requests.RequestException as exc:
            last_error = str(exc)
        time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"{url} did not answer within {STARTUP_SECONDS}s ({last_error}):\n{log_path.read_text()}")


def _stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@dataclass
class SamlUser:
    """A person SimpleSAMLphp knows: signs in with ``email`` / ``password``."""

    email: str
    given_name: str = ""
    family_name: str = ""
    groups: tuple[str, ...] = ()
    password: str = "idp-password"

    def attributes(self) -> dict[str, list[str]]:
        attributes = {"email": [self.email], "givenName": [self.given_name], "sn": [self.family_name]}
        if self.groups:
            attributes["groups"] = list(self.groups)
        return {name: values for name, values in attributes.items() if values != [""]}


@dataclass
class SimpleSamlIdp:
    """SimpleSAMLphp 1.19 serving one IdP with the given users, answering the given SPs."""

    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    certificate_pem: str = ""

    @property
    def base_url(self) -> str:
        return f"http://{IDP_HOST}:{self.port}/"

    @property
    def entity_id(self) -> str:
        return f"{self.base_url}saml2/idp/metadata.php"

    @property
    def metadata_url(self) -> str:
        return self.entity_id

    @property
    def sso_url(self) -> str:
        return f"{self.base_url}saml2/idp/SSOService.php"

    @property
    def log_path(self) -> Path:
        return self.workdir / "php-server.log"

    def _settings_path(self) -> Path:
        return self.workdir / "settings.json"

    def configure(self, *, users: list[SamlUser], service_providers: list[dict[str, str]]) -> None:
        """Write the users and registered SPs ({"entity_id", "acs_url"}); PHP reads them per request."""
        settings = json.loads(self._settings_path().read_text()) if self._settings_path().exists() else {}
        settings.update(
            {
                "base_url": self.base_url,
                "idp_entity_id": self.entity_id,
                "secret_salt": "optiid-e2e-salt-not-a-secret",
                "admin_password": "optiid-e2e-admin-not-a-secret",
                "users": {f"{user.email}:{user.password}": user.attributes() for user in users},
                "service_providers": service_providers,
            }
        )
        self._settings_path().write_text(json.dumps(settings, indent=2))

    def start(self, *, users: list[SamlUser], service_providers: list[dict[str, str]]) -> SimpleSamlIdp:
        shutil.copytree(SIMPLESAMLPHP_TEMPLATES, self.workdir, dirs_exist_ok=True)
        for name in ("cert", "log", "data", "tmp", "sessions"):
            (self.workdir / name).mkdir(exist_ok=True)
        key_pem, self.certificate_pem = self_signed_certificate(
            IDP_HOST,
            backdated=datetime.timedelta(minutes=5),
            valid_for=datetime.timedelta(days=2),
            key_format=serialization.PrivateFormat.TraditionalOpenSSL,
        )
        (self.workdir / "cert" / "idp.key").write_text(key_pem)
        (self.workdir / "cert" / "idp.crt").write_text(self.certificate_pem)
        self.configure(users=users, service_providers=service_providers)
        env = {**os.environ, "SIMPLESAMLPHP_CONFIG_DIR": str(self.workdir)}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    shutil.which("php") or "php",
                    "-d",
                    f"error_log={self.workdir / 'log' / 'php-errors.log'}",
                    "-d",
                    "log_errors=1",
                    "-S",
                    f"{IDP_HOST}:{self.port}",
                    "-t",
                    str(SIMPLESAMLPHP_HOME / "www"),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _wait_until_serving(self.metadata_url, self.process, self.log_path)
        return self

    def diagnostics(self) -> str:
        """The server's logs, for a failing test's report."""
        parts = []
        for path in (
            self.log_path,
            self.workdir / "log" / "php-errors.log",
            self.workdir / "log" / "simplesamlphp.log",
        ):
            if path.exists():
                parts.append(f"--- {path.name} (last 4000 chars)\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        _stop(self.process)


@dataclass
class OidcAccount:
    """A person oidc-provider knows: the dev login page takes ``login`` and any password."""

    login: str
    email: str
    given_name: str = ""
    family_name: str = ""
    groups: tuple[str, ...] = ()
    email_verified: bool = True

    def claims(self) -> dict:
        claims = {
            "email": self.email,
            "email_verified": self.email_verified,
            "given_name": self.given_name,
            "family_name": self.family_name,
        }
        if self.groups:
            claims["groups"] = list(self.groups)
        return claims


@dataclass
class OidcClient:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    token_endpoint_auth_method: str = "client_secret_basic"


@dataclass
class OidcProvider:
    """panva's oidc-provider 8.x with the given clients and accounts."""

    workdir: Path
    # True: the scopes' claims only at the userinfo endpoint (oidc-provider's default);
    # False: in the ID token as well.
    conform_id_token_claims: bool = False
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def issuer(self) -> str:
        return f"http://{IDP_HOST}:{self.port}"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def config_path(self) -> Path:
        return self.workdir / "oidc-provider.json"

    @property
    def log_path(self) -> Path:
        return self.workdir / "oidc-provider.log"

    def configure(self, *, clients: list[OidcClient], accounts: list[OidcAccount]) -> None:
        """Clients are read at start; accounts at each sign-in (the server re-reads the file)."""
        config = {
            "issuer": self.issuer,
            "port": self.port,
            "conform_id_token_claims": self.conform_id_token_claims,
            "clients": [client.__dict__ for client in clients],
            "accounts": {account.login: account.claims() for account in accounts},
        }
        self.config_path.write_text(json.dumps(config, indent=2))

    def start(self, *, clients: list[OidcClient], accounts: list[OidcAccount]) -> OidcProvider:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.configure(clients=clients, accounts=accounts)
        env = {**os.environ, "OIDC_E2E_CONFIG": str(self.config_path)}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [shutil.which("node") or "node", str(OIDC_PROVIDER_DIR / "server.js")],
                cwd=OIDC_PROVIDER_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _wait_until_serving(self.discovery_url, self.process, self.log_path)
        return self

    def token_endpoint_auth(self) -> list[tuple[str, str, int]]:
        """(client_id, client authentication method, HTTP status) of each token request so far."""
        requests_seen = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("token-endpoint-auth "):
                _, client_id, method, status = line.split()
                requests_seen.append((client_id, method, int(status)))
        return requests_seen

    def userinfo_requests(self) -> list[tuple[str, int]]:
        """(client_id, HTTP status) of each userinfo request so far."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [(line.split()[1], int(line.split()[2])) for line in lines if line.startswith("userinfo ")]

    def diagnostics(self) -> str:
        if not self.log_path.exists():
            return ""
        return f"--- {self.log_path.name} (last 4000 chars)\n{self.log_path.read_text(errors='replace')[-4000:]}"

    def stop(self) -> None:
        _stop(self.process)
