"""SAML 2.0 sign-in, end to end: Chromium, the app on 127.0.0.1 and SimpleSAMLphp 1.19 on
localhost (tests/e2e/conftest.py). Each test walks the whole redirect flow: the app's
AuthnRequest (HTTP-Redirect), SimpleSAMLphp's login page, its signed Response posted
cross-site to the ACS, and the sign-in rules of docs/sso.md."""

from urllib.parse import parse_qsl, urlencode

import pytest

from admincenter import services
from admincenter.models import Group, GroupKind, MembershipOwner, Role, SystemGroupKey, User, UserSource
from sso.endpoints import sp_values
from tests.e2e.cast import (
    ADMIN,
    CLAIMED_GROUPS,
    DEPARTED,
    GROUPED,
    NEW_HIRE,
    OPERATOR,
    OTHER_ORG_USER,
    PROVISIONED,
    STRANGER,
)
from tests.e2e.flows import (
    back_at_app,
    connection_update,
    login_actions,
    login_events,
    sign_in_at_simplesamlphp,
    signed_in_user,
    start_at_connection,
    start_at_login_page,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, saml_idp, email, *, landing="", next_url=""):
    start_at_login_page(page, email, saml_idp.base_url, next_url=next_url)
    sign_in_at_simplesamlphp(page, email)
    back_at_app(page, live_server, landing)


def test_jit_creates_a_new_person_in_a_verified_domain(page, live_server, saml_idp, acme, saml_connection):
    sign_in(page, live_server, saml_idp, NEW_HIRE, landing="/my-access/")

    user = User.objects.get(email=NEW_HIRE)
    assert signed_in_user(page) == user
    assert (user.home_organization, user.source, user.is_active) == (acme, UserSource.JIT, True)
    assert (user.given_name, user.family_name) == ("Nia", "Newhire")
    assert user.group_memberships.filter(group__system_key=SystemGroupKey.EVERYONE).exists()
    assert login_actions(acme) == ["login.success"]


def test_a_group_claim_adds_a_jit_membership_to_an_existing_custom_group(
    page, live_server, saml_idp, acme, saml_connection
):
    marketing = services.group_create(organization=acme, name=CLAIMED_GROUPS[0], actor=OPERATOR)
    connection_update(saml_connection, group_claims_enabled=True)

    sign_in(page, live_server, saml_idp, GROUPED, landing="/my-access/")

    user = User.objects.get(email=GROUPED)
    assert signed_in_user(page) == user
    membership = marketing.memberships.get(user=user)
    assert membership.managed_by == MembershipOwner.JIT
    # A claimed name that is no group of the organization creates nothing.
    assert not Group.objects.filter(name=CLAIMED_GROUPS[1]).exists()
    assert set(user.group_memberships.values_list("group__kind", flat=True)) == {GroupKind.SYSTEM, GroupKind.CUSTOM}


def test_scim_mode_refuses_a_person_the_idp_never_provisioned(
    page, live_server, saml_idp, acme, saml_connection, scim_api
):
    scim_api(saml_connection)

    sign_in(page, live_server, saml_idp, STRANGER)

    assert "IT admin" in page.locator("body").inner_text()
    assert signed_in_user(page) is None
    assert not User.objects.filter(email=STRANGER).exists()
    assert login_actions(acme) == ["login.jit_refused"]


def test_a_scim_provisioned_person_signs_in_and_sees_their_access(
    page, live_server, saml_idp, acme, saml_connection, scim_api
):
    scim = scim_api(saml_connection)
    provisioned = scim.create_user(PROVISIONED, "Pat", "Provisioned")
    editors = scim.create_group("Opti_SCIM_Web_Editors", [provisioned["id"]])
    instance = services.product_instance_create(
        organization=acme, product_code="cms", nickname="Production", actor=OPERATOR
    )
    services.group_grant_add(
        organization=acme,
        group=Group.objects.get(pk=editors["id"]),
        instance=instance,
        roles=[Role.objects.get(product=instance.product, key="content_editors")],
        actor=OPERATOR,
    )

    sign_in(page, live_server, saml_idp, PROVISIONED, landing="/my-access/")

    assert signed_in_user(page) == User.objects.get(pk=provisioned["id"])
    access = page.locator("main").inner_text()
    assert "Production" in access
    assert "Content Editors" in access
    assert login_actions(acme) == ["login.success"]


def test_a_person_deactivated_by_scim_is_refused(page, live_server, saml_idp, acme, saml_connection, scim_api):
    scim = scim_api(saml_connection)
    departed = scim.create_user(DEPARTED, "Dee", "Departed")
    scim.deactivate_user(departed["id"])

    sign_in(page, live_server, saml_idp, DEPARTED)

    assert "deactivated" in page.locator("main").inner_text()
    assert signed_in_user(page) is None
    assert User.objects.get(pk=departed["id"]).is_active is False
    assert login_events(acme) == [("login.refused", "deactivated")]


def test_an_assertion_for_another_organizations_user_is_refused(
    page, live_server, saml_idp, acme, saml_connection, globex
):
    # Acme's IdP vouches for Hank, whose home is Globex (which verified globex.test):
    # the sign-in starts at Acme's connection, since discovery would send him to Globex.
    start_at_connection(page, sp_values(saml_connection).login_url, saml_idp.base_url)
    sign_in_at_simplesamlphp(page, OTHER_ORG_USER)
    back_at_app(page, live_server)

    assert signed_in_user(page) is None
    hank = User.objects.get(email=OTHER_ORG_USER)
    assert hank.home_organization == globex
    assert hank.last_login is None
    assert login_events(acme) == [("login.refused", "other_organization")]
    assert login_events(globex) == []


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
