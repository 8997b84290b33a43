"""The Admin Center in a real browser: an administrator's workflows with mouse and
keyboard, from sign-in to the access export (issue "Admin Center", Tests).

Screenshots of the dashboard and the token page go to test-artifacts/ (git-ignored).
"""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from admincenter import services
from admincenter.models import (
    AuditEvent,
    Group,
    GroupGrant,
    GroupMembership,
    ScimRequestLog,
    ScimToken,
    UserSource,
)
from admincenter.services import Actor
from admincenter.services.tokens import hash_token
from tests.conftest import ADMIN_PASSWORD
from tests.factories import GroupFactory, UserFactory

pytestmark = [pytest.mark.browser]

OPERATOR = Actor.operator("tests")


@pytest.fixture
def acme(scim_organization, sso_connection, cms_instance):
    """Acme in SCIM mode with a SCIM group, a SCIM-managed user, a local user and a week
    of SCIM traffic for the chart."""
    scim_user = UserFactory(
        organization=scim_organization,
        email="scim.user@acme.test",
        given_name="Sara",
        family_name="Scim",
        source=UserSource.SCIM,
        scim_connection=sso_connection,
    )
    UserFactory(organization=scim_organization, email="manual@acme.test", given_name="Manu", family_name="Al")
    GroupFactory(
        organization=scim_organization,
        name="Opti_SCIM_Engineering",
        kind="scim",
        scim_connection=sso_connection,
        members=[scim_user],
    )
    now = timezone.now()
    ScimRequestLog.objects.bulk_create(
        [
            ScimRequestLog(
                organization=scim_organization,
                method="PATCH" if i % 3 else "GET",
                path="/Users",
                status_code=409 if i % 11 == 0 else 200,
                occurred_at=now - timedelta(minutes=37 * i),
            )
            for i in range(260)
        ]
    )
    return scim_organization


def sign_in_with_the_keyboard(page):
    page.goto("/login/")
    # The email field has autofocus; the rest is Tab and Enter, no mouse.
    page.wait_for_function("document.activeElement && document.activeElement.id === 'id_username'")
    page.keyboard.type("admin@acme.test")
    # Email first: acme.test has no verified domain, so the password step follows, focused.
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'id_password'")
    page.keyboard.type(ADMIN_PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/") and "/login/" not in page.url


def test_an_admin_does_every_workflow_in_the_browser(page, acme, live_server, artifacts):
    # Anonymous visitors land on the login page.
    page.goto("/users/")
    assert "/login/" in page.url
    sign_in_with_the_keyboard(page)
    assert page.get_by_role("heading", name="Acme", level=1).is_visible()
    assert page.get_by_text("SCIM via PingOne").first.is_visible()
    assert page.locator("svg[role=img] rect.ok").count() > 0
    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)

    # --- Generate a SCIM token: shown once, with a copy button.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="SCIM tokens").first.click()
    page.get_by_label("Label").fill("Okta production")
    page.get_by_label("Expires after").select_option("90")
    page.get_by_role("button", name="Generate token").click()
    raw = page.get_by_test_id("new-token").inner_text().strip()
    assert re.fullmatch(r"optiid_scim_[A-Za-z0-9_-]{40,}", raw)
    assert page.get_by_text("This is the only time the token is shown.").is_visible()
    assert page.get_by_role("button", name="Copy token").is_visible()
    page.screenshot(path=str(artifacts / "tokens.png"), full_page=True)
    token = ScimToken.objects.get(token_hash=hash_token(raw))
    assert token.label == "Okta production"
    # The IdP can use it...
    scim = page.request.get(f"{live_server.url}/api/scim/v2/Users", headers={"Authorization": f"Bearer {raw}"})
    assert scim.status == 200
    # ...and it is never shown again.
    page.goto("/settings/scim-tokens/")
    assert raw not in page.content()
    assert page.get_by_text(token.token_prefix).count() == 1

    # --- Revoke it, with a confirmation.
    page.get_by_role("link", name="Revoke Okta production").click()
    assert page.get_by_role("heading", name="Revoke Okta production?").is_visible()
    page.get_by_role("button", name="Revoke token").click()
    assert page.get_by_text("was revoked").is_visible()
    assert page.get_by_role("cell", name="Revoked").count() == 1
    scim = page.request.get(f"{live_server.url}/api/scim/v2/Users", headers={"Authorization": f"Bearer {raw}"})
    assert scim.status == 401

    # --- Create a custom group and add a member with the type-ahead picker.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Groups").click()
    page.get_by_role("link", name="Create a custom group").click()
    page.get_by_label("Group name").fill("Web team")
    page.get_by_role("button", name="Create group").click()
    assert page.get_by_role("heading", name="Web team").is_visible()
    member_input = page.get_by_label("Add a member by email")
    member_input.press_sequentially("manu", delay=30)
    page.wait_for_selector("#user-picker-options option[value='manual@acme.test']", state="attached")
    member_input.fill("manual@acme.test")
    page.get_by_role("button", name="Add member").click()
    assert page.get_by_text("manual@acme.test was added to Web team.").is_visible()
    web_team = Group.objects.get(organization=acme, name="Web team")
    assert GroupMembership.objects.filter(group=web_team, user__email="manual@acme.test").exists()

    # --- Grant an instance role to the SCIM group; its members stay read-only.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Groups").click()
    page.get_by_role("navigation", name="Group kinds").get_by_role("link", name="SCIM").click()
    page.get_by_role("link", name="Opti_SCIM_Engineering").click()
    assert page.get_by_text("Read-only: membership is managed in your identity provider.").is_visible()
    assert page.get_by_label("Add a member by email").count() == 0
    page.get_by_label("Product instance").select_option(label="Content Management System – Production")
    page.get_by_label("Content Editors").check()
    page.get_by_role("button", name="Add access").click()
    assert page.get_by_text("Opti_SCIM_Engineering now has Content Editors").is_visible()
    assert GroupGrant.objects.filter(group__name="Opti_SCIM_Engineering", role__name="Content Editors").exists()

    # --- A SCIM-managed user's name cannot be edited.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    page.get_by_label("Search").fill("scim.user")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name="Sara Scim").click()
    assert page.get_by_text("Managed by your identity provider.").is_visible()
    assert page.get_by_label("Given name").count() == 0
    assert page.get_by_role("button", name="Save profile").count() == 0
    assert page.get_by_role("cell", name="Content Editors").is_visible()  # effective access via the SCIM group

    # --- Download the access export.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    page.get_by_role("link", name="Access export").click()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("access-acme-")
    with open(download.path(), encoding="utf-8") as exported:
        rows = list(csv.DictReader(io.StringIO(exported.read())))
    assert {
        "email": "scim.user@acme.test",
        "role": "Content Editors",
        "group": "Opti_SCIM_Engineering",
        "source": "scim",
    }.items() <= next(r for r in rows if r["email"] == "scim.user@acme.test").items()

    # Every change above was made through the services, so it is in the audit log.
    actions = set(
        AuditEvent.objects.filter(organization=acme, actor_label="admin@acme.test").values_list("action", flat=True)
    )
    assert {"scim.token.create", "scim.token.revoke", "group.create", "group.member.add", "group.grant.add"} <= actions


def test_a_non_admin_sees_the_403_page_and_can_sign_out(page, organization):
    UserFactory(organization=organization, email="member@acme.test", password=ADMIN_PASSWORD)
    page.goto("/login/")
    page.get_by_label("Email").fill("member@acme.test")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # Non-admins land on My access; the Admin Center pages still answer with the 403 page.
    assert page.get_by_role("heading", name="My access").is_visible()
    page.goto("/users/")
    assert page.get_by_role("heading", name="You don't have access to the Admin Center").is_visible()
    page.get_by_role("button", name="Sign in as someone else").click()
    assert page.get_by_role("heading", name="Sign in").is_visible()


LABEL_CHECK = """
() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden' && !el.closest('[hidden]'))
  .filter(el => !(el.labels && el.labels.length))
  .filter(el => !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map(el => el.name || el.id)
"""


def test_every_field_has_a_label_and_focus_is_visible(page, acme):
    sign_in_with_the_keyboard(page)
    scim_group = Group.objects.get(organization=acme, name="Opti_SCIM_Engineering")
    manual = acme.home_users.get(email="manual@acme.test")
    custom = services.group_create(organization=acme, name="Marketing", actor=OPERATOR)
    pages = [
        "/",
        "/users/",
        "/users/add/",
        f"/users/{manual.pk}/",
        "/groups/",
        "/groups/new/",
        f"/groups/{custom.pk}/",
        f"/groups/{scim_group.pk}/",
        "/products/",
        "/export/",
        "/settings/sso/",
        "/settings/sso/new/",
        "/settings/provisioning/",
        "/settings/scim-tokens/",
        "/settings/connect-idp/",
        "/account/password/",
    ]
    for path in pages:
        page.goto(path)
        assert page.evaluate(LABEL_CHECK) == [], path
    # Keyboard users can reach the main navigation and see where the focus is.
    page.goto("/")
    page.keyboard.press("Tab")  # the skip link
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
