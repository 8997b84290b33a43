"""The steps of an end-to-end sign-in, as a person and an IdP would take them.

- ``start_at_login_page``: the app's email-first sign-in page (home realm discovery).
- ``sign_in_at_simplesamlphp`` / ``sign_in_at_oidc_provider``: the IdP's own login pages.
- ``ScimApi``: the IdP's provisioning side, real SCIM 2.0 requests to the live server.
- ``signed_in_user``: who the browser's app session belongs to, read from the session store.
"""

from __future__ import annotations

import re
from importlib import import_module
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import requests
from django.conf import settings

from admincenter import services
from admincenter.models import AuditEvent, Organization, SsoConnection, User
from tests.e2e.cast import OPERATOR

if TYPE_CHECKING:  # Playwright is imported by the conftest only when it is installed
    from playwright.sync_api import Page

APP_HOST = "127.0.0.1"


def app_url(live_server, path: str = "") -> re.Pattern:
    """Any URL of the app starting with ``path``."""
    return re.compile("^" + re.escape(f"{live_server.url}{path}"))


def start_at_login_page(page: Page, email: str, idp_base_url: str, *, next_url: str = "") -> None:
    """Type the email on /login/ and follow home realm discovery to the IdP."""
    page.goto(f"/login/?{urlencode({'next': next_url})}" if next_url else "/login/")
    email_field = page.get_by_label("Email", exact=False).first
    email_field.fill(email)
    email_field.press("Enter")
    page.wait_for_url(re.compile("^" + re.escape(idp_base_url)))


def start_at_connection(page: Page, login_url: str, idp_base_url: str) -> None:
    """The connection's direct start URL (``sp_values(connection).login_url``)."""
    page.goto(login_url)
    page.wait_for_url(re.compile("^" + re.escape(idp_base_url)))


def sign_in_at_simplesamlphp(page: Page, email: str, password: str = "idp-password") -> None:
    """SimpleSAMLphp's username/password page; it then auto-posts the Response to our ACS."""
    page.locator("#username").fill(email)
    page.locator("#password").fill(password)
    page.locator("#password").press("Enter")


def sign_in_at_oidc_provider(page: Page, login: str) -> None:
    """oidc-provider's development login page (any password), then its consent page."""
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any-password")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def back_at_app(page: Page, live_server, path: str = "") -> None:
    """Wait for the browser to settle on a page of the app after the IdP's redirect."""
    page.wait_for_url(app_url(live_server, path))
    page.wait_for_load_state("load")


def signed_in_user(page: Page) -> User | None:
    """The user the app's session cookie in this browser context belongs to, if any."""
    cookies = {c["name"]: c["value"] for c in page.context.cookies() if c["domain"] == APP_HOST}
    session_key = cookies.get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    user_id = store.get("_auth_user_id")
    return User.objects.filter(pk=user_id).first() if user_id else None


def login_actions(organization: Organization) -> list[str]:
    """The organization's sign-in audit actions, oldest first."""
    return [action for action, _ in login_events(organization)]


def login_events(organization: Organization) -> list[tuple[str, str]]:
    """The organization's sign-in audit events as (action, reason), oldest first."""
    events = AuditEvent.objects.filter(organization=organization, action__startswith="login.").order_by(
        "occurred_at", "id"
    )
    return [(event.action, str((event.after or {}).get("reason", ""))) for event in events]


def connection_update(connection: SsoConnection, **changes) -> SsoConnection:
    """Change a connection's settings as an administrator would (the service)."""
    return services.sso_connection_update(
        organization=connection.organization, connection=connection, actor=OPERATOR, **changes
    )


SCIM_USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
SCIM_PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class ScimApi:
    """The IdP's provisioning side: SCIM 2.0 requests over HTTP to the live server."""

    def __init__(self, base_url: str, token: str):
        self.base = f"{base_url}/api/scim/v2"
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"})

    def _send(self, method: str, path: str, body: dict, expected: int) -> dict:
        response = self.session.request(method, f"{self.base}{path}", json=body, timeout=10)
        assert response.status_code == expected, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def create_user(self, email: str, given_name: str, family_name: str) -> dict:
        body = {
            "schemas": [SCIM_USER_URN],
            "userName": email,
            "externalId": f"idp-{email}",
            "name": {"givenName": given_name, "familyName": family_name},
            "emails": [{"value": email, "type": "work", "primary": True}],
            "active": True,
        }
        return self._send("POST", "/Users", body, 201)

    def deactivate_user(self, user_id: str) -> dict:
        body = {"schemas": [SCIM_PATCH_URN], "Operations": [{"op": "replace", "path": "active", "value": False}]}
        return self._send("PATCH", f"/Users/{user_id}", body, 200)

    def create_group(self, name: str, member_ids: list[str]) -> dict:
        body = {
            "schemas": [SCIM_GROUP_URN],
            "displayName": name,
            "externalId": f"idp-{name}",
            "members": [{"value": member_id} for member_id in member_ids],
        }
        return self._send("POST", "/Groups", body, 201)
