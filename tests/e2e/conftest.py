"""End-to-end sign-in: Playwright drives Debian's Chromium through the whole redirect flow
against real identity providers this project did not write (``tests/e2e/idp.py``).

- The app runs in a live server bound to ``127.0.0.1``; the IdPs run on ``localhost``, a
  different site, so SameSite cookie rules apply as between a real IdP and the app.
- Each IdP starts once per session and knows a fixed cast of people and the relying
  parties of ``tests/e2e/cast.py``: connections with fixed ``public_id`` values, which each
  test creates in its own (committed, then flushed) database.
- Missing tools skip the tests with the reason; with ``CI=true`` (set by ``.ci/run``) the
  same reason fails them, so a broken install cannot pass silently.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import timezone

from admincenter import services
from admincenter.models import SsoConnection, SsoDomain
from sso.endpoints import sp_values
from sso.metadata import fetch_idp_metadata
from tests.chromium import chromium_launch, chromium_missing, sync_playwright
from tests.e2e.cast import (
    OIDC_CLIENT_ID,
    OIDC_CLIENT_SECRET,
    OIDC_CONNECTION_ID,
    OIDC_PEOPLE,
    OIDC_POST_CLIENT_ID,
    OIDC_POST_CONNECTION_ID,
    OPERATOR,
    OTHER_ORG_USER,
    SAML_CONNECTION_ID,
    SAML_PEOPLE,
)
from tests.e2e.flows import APP_HOST, ScimApi
from tests.e2e.idp import (
    OidcClient,
    OidcProvider,
    SimpleSamlIdp,
    missing_oidc_provider,
    missing_simplesamlphp,
    skip_or_fail,
)
from tests.factories import globex_create

ADMIN_PASSWORD = "Correct-Horse-42"
OIDC_SCOPES = "openid email profile groups"


def pytest_collection_modifyitems(config, items):
    """Run the end-to-end tests before the others. Playwright's sync API allows one instance
    per thread at a time and tests/browser keeps its own for the whole session, so this
    package's Playwright (``chromium``) must start and end before that one starts."""
    here = Path(__file__).parent
    end_to_end = [item for item in items if item.path.is_relative_to(here)]
    if end_to_end and len(end_to_end) < len(items):
        items[:] = end_to_end + [item for item in items if not item.path.is_relative_to(here)]


# --- the app, the browser, the IdPs (once per session) -------------------------------------


@pytest.fixture(scope="session")
def live_server(django_db_setup, django_db_blocker):
    """pytest-django's live server, bound to 127.0.0.1 instead of ``localhost`` so the app
    and the IdPs are different sites."""
    from pytest_django.live_server_helper import LiveServer

    with django_db_blocker.unblock():
        server = LiveServer(f"{APP_HOST}:0")
    yield server
    # Let the request threads of the browser's last keep-alive connections (closed with the
    # browser, torn down before this fixture) finish before the in-memory SQLite connection
    # they share stops being shareable.
    for thread in threading.enumerate():
        if "process_request_thread" in thread.name:
            thread.join(timeout=5)
    server.stop()


@pytest.fixture(scope="package")
def chromium():
    """One browser for this package's tests, closed when they are done (see above)."""
    reason = chromium_missing()
    if reason:
        skip_or_fail(reason)
    with sync_playwright() as playwright:
        browser = chromium_launch(playwright)
        yield browser
        browser.close()


def _relying_party(live_server, public_id: uuid.UUID, protocol: str):
    """The values a connection with ``public_id`` will have once created (sso.endpoints)."""
    with override_settings(PUBLIC_BASE_URL=live_server.url):
        return sp_values(SsoConnection(public_id=public_id, protocol=protocol))


@pytest.fixture(scope="session")
def saml_idp(live_server, tmp_path_factory):
    reason = chromium_missing() or missing_simplesamlphp()
    if reason:
        skip_or_fail(reason)
    values = _relying_party(live_server, SAML_CONNECTION_ID, "saml")
    idp = SimpleSamlIdp(tmp_path_factory.mktemp("simplesamlphp"))
    idp.start(
        users=SAML_PEOPLE,
        service_providers=[{"entity_id": values.sp_entity_id, "acs_url": values.acs_url}],
    )
    yield idp
    idp.stop()


def _running_oidc_provider(live_server, workdir, *, conform_id_token_claims: bool):
    """oidc-provider started for this session's relying parties, stopped when the session ends."""
    reason = chromium_missing() or missing_oidc_provider()
    if reason:
        skip_or_fail(reason)
    basic = _relying_party(live_server, OIDC_CONNECTION_ID, "oidc")
    post = _relying_party(live_server, OIDC_POST_CONNECTION_ID, "oidc")
    provider = OidcProvider(workdir, conform_id_token_claims=conform_id_token_claims)
    provider.start(
        clients=[
            OidcClient(OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, [basic.oidc_redirect_uri]),
            OidcClient(
                OIDC_POST_CLIENT_ID,
                OIDC_CLIENT_SECRET,
                [post.oidc_redirect_uri],
                token_endpoint_auth_method="client_secret_post",
            ),
        ],
        accounts=OIDC_PEOPLE,
    )
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def oidc_idp(live_server, tmp_path_factory):
    """Puts the scopes' claims in the ID token (as Okta and Entra ID do for email and names)."""
    workdir = tmp_path_factory.mktemp("oidc-provider")
    yield from _running_oidc_provider(live_server, workdir, conform_id_token_claims=False)


@pytest.fixture(scope="session")
def oidc_idp_userinfo_only(live_server, tmp_path_factory):
    """oidc-provider's own default: the ID token carries only ``sub``; the claims are at userinfo."""
    workdir = tmp_path_factory.mktemp("oidc-provider-userinfo")
    yield from _running_oidc_provider(live_server, workdir, conform_id_token_claims=True)


# --- per test: a browser context, the organizations -----------------------------------------


@pytest.fixture(autouse=True)
def _public_base_url(settings, live_server):
    settings.PUBLIC_BASE_URL = live_server.url


@pytest.fixture
def page(chromium, live_server):
    """A fresh browser context (no IdP or app cookies) per test."""
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report gets where the browser stood and the IdPs' logs."""
    report = yield
    if report.when == "call" and report.failed:
        funcargs = getattr(item, "funcargs", {})
        if "page" in funcargs:
            report.sections.append(("browser", _page_state(funcargs["page"])))
        for name in ("saml_idp", "oidc_idp", "oidc_idp_userinfo_only"):
            if name in funcargs:
                report.sections.append((name, funcargs[name].diagnostics()))
    return report


def _page_state(page) -> str:
    try:
        text = page.locator("body").inner_text(timeout=2_000)[:3000]
    except Exception as exc:  # the page may be gone; the report says why
        text = f"(page text unavailable: {exc})"
    return f"URL: {page.url}\n{text}"


@pytest.fixture
def acme(db):
    """Acme, with one administrator; its IdP's domain acme.test comes with the connection."""
    return services.organization_create(
        name="Acme", slug="acme", actor=OPERATOR, admin_email="admin@acme.test", admin_password=ADMIN_PASSWORD
    )


def _connect(organization, *, name: str, protocol: str, public_id: uuid.UUID, domain: str, **protocol_settings):
    """A ready connection configured through the service, with a verified domain.

    Two things are written to the model directly. The ``public_id``: the IdPs were
    configured at session start for a fixed one, as an administrator pastes the SP values
    into the IdP once. The domain's ``verified_at``: DNS TXT verification is tested in
    tests/admincenter, against a DNS server that test starts."""
    connection = services.sso_connection_create(
        organization=organization,
        name=name,
        protocol=protocol,
        domains=[domain],
        actor=OPERATOR,
        **protocol_settings,
    )
    SsoConnection.objects.filter(pk=connection.pk).update(public_id=public_id)
    SsoDomain.objects.filter(connection=connection, domain=domain).update(
        verified_at=timezone.now(), verified_by="e2e fixture"
    )
    connection.refresh_from_db()
    assert connection.is_ready, connection
    return connection


@pytest.fixture
def saml_connection(acme, saml_idp):
    """Configured from the metadata SimpleSAMLphp publishes, as from its metadata URL."""
    metadata = fetch_idp_metadata(saml_idp.metadata_url)
    return _connect(
        acme,
        name="SimpleSAMLphp",
        protocol="saml",
        public_id=SAML_CONNECTION_ID,
        domain="acme.test",
        saml_idp_metadata_url=saml_idp.metadata_url,
        **metadata.connection_settings(),
    )


def _oidc_connection(
    organization, provider, *, name="oidc-provider", public_id=OIDC_CONNECTION_ID, client_id=OIDC_CLIENT_ID, **settings
):
    """A connection to ``provider`` as one of the relying parties it was started with (tests/e2e/cast.py)."""
    return _connect(
        organization,
        name=name,
        protocol="oidc",
        public_id=public_id,
        domain="acme.test",
        oidc_issuer=provider.issuer,
        oidc_client_id=client_id,
        oidc_client_secret=OIDC_CLIENT_SECRET,
        **settings,
    )


@pytest.fixture
def oidc_connection(acme, oidc_idp):
    """Authenticates at the token endpoint with client_secret_basic, the default."""
    return _oidc_connection(acme, oidc_idp, oidc_scopes=OIDC_SCOPES)


@pytest.fixture
def oidc_userinfo_connection(acme, oidc_idp_userinfo_only):
    """The same relying party, at the provider whose ID tokens carry no email."""
    return _oidc_connection(acme, oidc_idp_userinfo_only, oidc_scopes=OIDC_SCOPES)


@pytest.fixture
def oidc_post_connection(acme, oidc_idp):
    """Authenticates at the token endpoint with client_secret_post (and asks for the default scopes)."""
    return _oidc_connection(
        acme,
        oidc_idp,
        name="oidc-provider (post)",
        public_id=OIDC_POST_CONNECTION_ID,
        client_id=OIDC_POST_CLIENT_ID,
        oidc_token_auth_method="client_secret_post",
    )


@pytest.fixture
def globex(db):
    """Another organization that verified globex.test, with its own user Hank."""
    organization, connection = globex_create(admin_password=ADMIN_PASSWORD)
    # Verified directly, as in _connect.
    SsoDomain.objects.filter(connection=connection).update(verified_at=timezone.now(), verified_by="e2e fixture")
    services.user_create(
        organization=organization, email=OTHER_ORG_USER, given_name="Hank", family_name="Globex", actor=OPERATOR
    )
    return organization


@pytest.fixture
def scim_api(live_server):
    """Switches a connection's organization to SCIM mode and returns a SCIM client for it."""

    def switch(connection) -> ScimApi:
        services.scim_enable(organization=connection.organization, connection=connection, actor=OPERATOR)
        issued = services.scim_token_issue(organization=connection.organization, label="e2e IdP", actor=OPERATOR)
        return ScimApi(live_server.url, issued.raw)

    return switch
