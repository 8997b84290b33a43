"""SAML 2.0 sign-in, end to end: Chromium, the app on 127.0.0.1 and SimpleSAMLphp 1.19 on
localhost (tests/e2e/conftest.py). Each test walks the whole redirect flow: the app's
AuthnRequest (HTTP-Redirect), SimpleSAMLphp's login page, its signed Response posted
cross-site to the ACS. What only SAML has: IdP-initiated sign-in, the relay of ``next``,
a replayed Response, and a session ended by SCIM; the sign-in rules both protocols share
are in tests/e2e/test_sso_sign_in.py."""

from urllib.parse import parse_qsl, urlencode

import pytest

from admincenter.models import User
from sso.endpoints import sp_values
from tests.e2e.cast import ADMIN, NEW_HIRE, PROVISIONED
from tests.e2e.flows import (
    back_at_app,
    connection_update,
    login_actions,
    login_events,
    sign_in_at_simplesamlphp,
    signed_in_user,
    start_at_login_page,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, saml_idp, email, *, landing="", next_url=""):
    start_at_login_page(page, email, saml_idp.base_url, next_url=next_url)
    sign_in_at_simplesamlphp(page, email)
    back_at_app(page, live_server, landing)


def test_a_scim_deactivation_ends_the_session_of_a_signed_in_person(
    page, live_server, saml_idp, acme, saml_connection, scim_api
):
    scim = scim_api(saml_connection)
    provisioned = scim.create_user(PROVISIONED, "Pat", "Provisioned")
    sign_in(page, live_server, saml_idp, PROVISIONED, landing="/my-access/")
    assert signed_in_user(page) is not None

    scim.deactivate_user(provisioned["id"])
    page.goto("/my-access/")

    assert page.url.startswith(f"{live_server.url}/login/")


def idp_initiated_sign_in(page, live_server, saml_idp, connection, email):
    """SimpleSAMLphp's unsolicited sign-in: its SSO URL with the SP's entity ID, no AuthnRequest."""
    page.goto(f"{saml_idp.sso_url}?{urlencode({'spentityid': sp_values(connection).sp_entity_id})}")
    sign_in_at_simplesamlphp(page, email)
    back_at_app(page, live_server)


def test_an_idp_initiated_response_is_refused_by_default(page, live_server, saml_idp, acme, saml_connection):
    idp_initiated_sign_in(page, live_server, saml_idp, saml_connection, NEW_HIRE)

    assert signed_in_user(page) is None
    assert not User.objects.filter(email=NEW_HIRE).exists()
    assert login_events(acme) == [("login.failure", "unsolicited_refused")]


def test_an_idp_initiated_response_signs_in_when_the_connection_allows_it(
    page, live_server, saml_idp, acme, saml_connection
):
    connection_update(saml_connection, saml_allow_idp_initiated=True)

    idp_initiated_sign_in(page, live_server, saml_idp, saml_connection, NEW_HIRE)

    assert page.url.startswith(f"{live_server.url}/my-access/")
    assert signed_in_user(page) == User.objects.get(email=NEW_HIRE)
    assert login_actions(acme) == ["login.success"]


def test_an_administrator_lands_on_the_dashboard(page, live_server, saml_idp, acme, saml_connection):
    sign_in(page, live_server, saml_idp, ADMIN)

    assert page.url == f"{live_server.url}/"
    assert page.title().startswith("Dashboard · Acme")
    assert signed_in_user(page) == User.objects.get(email=ADMIN)


def test_next_is_kept_through_the_round_trip(page, live_server, saml_idp, acme, saml_connection):
    sign_in(page, live_server, saml_idp, ADMIN, next_url="/users/?q=acme", landing="/users/?q=acme")

    assert signed_in_user(page) == User.objects.get(email=ADMIN)


def test_a_response_replayed_from_another_browser_is_refused(
    page, chromium, live_server, saml_idp, acme, saml_connection
):
    acs_url = sp_values(saml_connection).acs_url
    with page.expect_request(lambda request: request.url == acs_url and request.method == "POST") as posted:
        sign_in(page, live_server, saml_idp, NEW_HIRE, landing="/my-access/")
    captured = dict(parse_qsl(posted.value.post_data))
    assert "SAMLResponse" in captured

    # Someone who copied the signed Response posts it again from their own browser.
    attacker = chromium.new_context(base_url=live_server.url)
    try:
        replay = attacker.request.post(acs_url, form=captured)
        assert replay.status < 500
        assert signed_in_user(attacker.new_page()) is None
    finally:
        attacker.close()
    actions = login_events(acme)
    assert [action for action, _ in actions] == ["login.success", "login.failure"]
    # Which check stops it first (the assertion ID seen before, or a request this browser
    # never started) is the SP's business; either way it is refused and audited.
    assert actions[-1][1] in {"replayed", "in_response_to_mismatch"}
