"""The sign-in rules of docs/sso.md, end to end, once per protocol: each test runs against
panva's oidc-provider and against SimpleSAMLphp (tests/e2e/conftest.py), walking the whole
redirect flow from the app's email-first login page to the IdP's own login pages and back.

What only one protocol has (OIDC's token endpoint authentication and userinfo, SAML's
IdP-initiated sign-in and replayed Responses) stays in tests/e2e/test_sso_oidc.py and
tests/e2e/test_sso_saml.py."""

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from admincenter import services
from admincenter.models import Group, GroupKind, MembershipOwner, Role, SsoConnection, SystemGroupKey, User, UserSource
from sso.endpoints import sp_values
from tests.e2e.cast import (
    CLAIMED_GROUPS,
    DEPARTED,
    GROUPED,
    NEW_HIRE,
    OIDC_CLIENT_ID,
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
    sign_in_at_oidc_provider,
    sign_in_at_simplesamlphp,
    signed_in_user,
    start_at_connection,
    start_at_login_page,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@dataclass(frozen=True)
class Idp:
    """One protocol's IdP as the tests see it: where its pages are and how a person signs in there."""

    protocol: str
    server: object
    base_url: str
    connection: SsoConnection
    sign_in_at_idp: Callable
    # The region of the app's page that carries a refusal's message.
    refusal_region: str


@pytest.fixture(params=["oidc", "saml"])
def idp(request, acme):
    if request.param == "oidc":
        server = request.getfixturevalue("oidc_idp")
        return Idp(
            "oidc", server, server.issuer, request.getfixturevalue("oidc_connection"), sign_in_at_oidc_provider, "main"
        )
    server = request.getfixturevalue("saml_idp")
    return Idp(
        "saml", server, server.base_url, request.getfixturevalue("saml_connection"), sign_in_at_simplesamlphp, "body"
    )


def sign_in(page, live_server, idp, email, *, landing=""):
    start_at_login_page(page, email, idp.base_url)
    idp.sign_in_at_idp(page, email)
    back_at_app(page, live_server, landing)


def test_jit_creates_a_new_person_in_a_verified_domain(page, live_server, idp, acme):
    sign_in(page, live_server, idp, NEW_HIRE, landing="/my-access/")

    user = User.objects.get(email=NEW_HIRE)
    assert signed_in_user(page) == user
    assert (user.home_organization, user.source, user.is_active) == (acme, UserSource.JIT, True)
    assert (user.given_name, user.family_name) == ("Nia", "Newhire")
    assert user.group_memberships.filter(group__system_key=SystemGroupKey.EVERYONE).exists()
    assert login_actions(acme) == ["login.success"]
    if idp.protocol == "oidc":
        # The specification's default client authentication, unless the connection says otherwise.
        assert idp.server.token_endpoint_auth()[-1] == (OIDC_CLIENT_ID, "client_secret_basic", 200)


def test_a_group_claim_adds_a_jit_membership_to_an_existing_custom_group(page, live_server, idp, acme):
    marketing = services.group_create(organization=acme, name=CLAIMED_GROUPS[0], actor=OPERATOR)
    connection_update(idp.connection, group_claims_enabled=True)

    sign_in(page, live_server, idp, GROUPED, landing="/my-access/")

    user = User.objects.get(email=GROUPED)
    assert signed_in_user(page) == user
    assert marketing.memberships.get(user=user).managed_by == MembershipOwner.JIT
    # A claimed name that is no group of the organization creates nothing.
    assert not Group.objects.filter(name=CLAIMED_GROUPS[1]).exists()
    assert set(user.group_memberships.values_list("group__kind", flat=True)) == {GroupKind.SYSTEM, GroupKind.CUSTOM}


def test_scim_mode_refuses_a_person_the_idp_never_provisioned(page, live_server, idp, acme, scim_api):
    scim_api(idp.connection)

    sign_in(page, live_server, idp, STRANGER)

    assert "IT admin" in page.locator(idp.refusal_region).inner_text()
    assert signed_in_user(page) is None
    assert not User.objects.filter(email=STRANGER).exists()
    assert login_actions(acme) == ["login.jit_refused"]


def test_a_scim_provisioned_person_signs_in_and_sees_their_access(page, live_server, idp, acme, scim_api):
    scim = scim_api(idp.connection)
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

    sign_in(page, live_server, idp, PROVISIONED, landing="/my-access/")

    assert signed_in_user(page) == User.objects.get(pk=provisioned["id"])
    access = page.locator("main").inner_text()
    assert "Production" in access
    assert "Content Editors" in access
    assert login_actions(acme) == ["login.success"]


def test_a_person_deactivated_by_scim_is_refused(page, live_server, idp, acme, scim_api):
    scim = scim_api(idp.connection)
    departed = scim.create_user(DEPARTED, "Dee", "Departed")
    scim.deactivate_user(departed["id"])

    sign_in(page, live_server, idp, DEPARTED)

    assert "deactivated" in page.locator("main").inner_text()
    assert signed_in_user(page) is None
    assert User.objects.get(pk=departed["id"]).is_active is False
    assert login_events(acme) == [("login.refused", "deactivated")]


def test_a_sign_in_for_another_organizations_user_is_refused(page, live_server, idp, acme, globex):
    # Acme's IdP vouches for Hank, whose home is Globex (which verified globex.test):
    # the sign-in starts at Acme's connection, since discovery would send him to Globex.
    start_at_connection(page, sp_values(idp.connection).login_url, idp.base_url)
    idp.sign_in_at_idp(page, OTHER_ORG_USER)
    back_at_app(page, live_server)

    assert signed_in_user(page) is None
    hank = User.objects.get(email=OTHER_ORG_USER)
    assert hank.home_organization == globex
    assert hank.last_login is None
    assert login_events(acme) == [("login.refused", "other_organization")]
    assert login_events(globex) == []
