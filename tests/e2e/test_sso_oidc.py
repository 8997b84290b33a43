"""OpenID Connect sign-in, end to end: Chromium, the app on 127.0.0.1 and panva's
oidc-provider 8.x on localhost (tests/e2e/conftest.py). Each test walks the whole redirect
flow: discovery, the authorization request with PKCE, the provider's login and consent
pages, the code exchanged with client_secret_basic, the ID token checked against the
provider's JWKS, and the sign-in rules of docs/sso.md."""

import pytest

from admincenter import services
from admincenter.models import Group, GroupKind, MembershipOwner, Role, SystemGroupKey, User, UserSource
from sso.endpoints import sp_values
from tests.e2e.cast import (
    CLAIMED_GROUPS,
    DEPARTED,
    GROUPED,
    NEW_HIRE,
    OIDC_CLIENT_ID,
    OIDC_POST_CLIENT_ID,
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
    signed_in_user,
    start_at_connection,
    start_at_login_page,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, oidc_idp, email, *, landing=""):
    start_at_login_page(page, email, oidc_idp.issuer)
    sign_in_at_oidc_provider(page, email)
    back_at_app(page, live_server, landing)


def test_jit_creates_a_new_person_in_a_verified_domain(page, live_server, oidc_idp, acme, oidc_connection):
    sign_in(page, live_server, oidc_idp, NEW_HIRE, landing="/my-access/")

    user = User.objects.get(email=NEW_HIRE)
    assert signed_in_user(page) == user
    assert (user.home_organization, user.source, user.is_active) == (acme, UserSource.JIT, True)
    assert (user.given_name, user.family_name) == ("Nia", "Newhire")
    assert user.group_memberships.filter(group__system_key=SystemGroupKey.EVERYONE).exists()
    assert login_actions(acme) == ["login.success"]
    # The specification's default client authentication, unless the connection says otherwise.
    assert oidc_idp.token_endpoint_auth()[-1] == (OIDC_CLIENT_ID, "client_secret_basic", 200)


def test_a_groups_claim_adds_a_jit_membership_to_an_existing_custom_group(
    page, live_server, oidc_idp, acme, oidc_connection
):
    marketing = services.group_create(organization=acme, name=CLAIMED_GROUPS[0], actor=OPERATOR)
    connection_update(oidc_connection, group_claims_enabled=True)

    sign_in(page, live_server, oidc_idp, GROUPED, landing="/my-access/")

    user = User.objects.get(email=GROUPED)
    assert signed_in_user(page) == user
    assert marketing.memberships.get(user=user).managed_by == MembershipOwner.JIT
    assert not Group.objects.filter(name=CLAIMED_GROUPS[1]).exists()
    assert set(user.group_memberships.values_list("group__kind", flat=True)) == {GroupKind.SYSTEM, GroupKind.CUSTOM}


def test_scim_mode_refuses_a_person_the_idp_never_provisioned(
    page, live_server, oidc_idp, acme, oidc_connection, scim_api
):
    scim_api(oidc_connection)

    sign_in(page, live_server, oidc_idp, STRANGER)

    assert "IT admin" in page.locator("main").inner_text()
    assert signed_in_user(page) is None
    assert not User.objects.filter(email=STRANGER).exists()
    assert login_actions(acme) == ["login.jit_refused"]


def test_a_scim_provisioned_person_signs_in_and_sees_their_access(
    page, live_server, oidc_idp, acme, oidc_connection, scim_api
):
    scim = scim_api(oidc_connection)
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

    sign_in(page, live_server, oidc_idp, PROVISIONED, landing="/my-access/")

    assert signed_in_user(page) == User.objects.get(pk=provisioned["id"])
    access = page.locator("main").inner_text()
    assert "Production" in access
    assert "Content Editors" in access
    assert login_actions(acme) == ["login.success"]


def test_a_person_deactivated_by_scim_is_refused(page, live_server, oidc_idp, acme, oidc_connection, scim_api):
    scim = scim_api(oidc_connection)
    departed = scim.create_user(DEPARTED, "Dee", "Departed")
    scim.deactivate_user(departed["id"])

    sign_in(page, live_server, oidc_idp, DEPARTED)

    assert "deactivated" in page.locator("main").inner_text()
    assert signed_in_user(page) is None
    assert login_events(acme) == [("login.refused", "deactivated")]


def test_an_id_token_for_another_organizations_user_is_refused(
    page, live_server, oidc_idp, acme, oidc_connection, globex
):
    # Acme's provider vouches for Hank, whose home is Globex (which verified globex.test):
    # the sign-in starts at Acme's connection, since discovery would send him to Globex.
    start_at_connection(page, sp_values(oidc_connection).login_url, oidc_idp.issuer)
    sign_in_at_oidc_provider(page, OTHER_ORG_USER)
    back_at_app(page, live_server)

    assert signed_in_user(page) is None
    assert User.objects.get(email=OTHER_ORG_USER).last_login is None
    assert login_events(acme) == [("login.refused", "other_organization")]
    assert login_events(globex) == []


def test_the_client_authenticates_with_client_secret_post_when_the_connection_says_so(
    page, live_server, oidc_idp, acme, oidc_post_connection
):
    start_at_connection(page, sp_values(oidc_post_connection).login_url, oidc_idp.issuer)
    sign_in_at_oidc_provider(page, NEW_HIRE)
    back_at_app(page, live_server, "/my-access/")

    assert signed_in_user(page) == User.objects.get(email=NEW_HIRE, source=UserSource.JIT)
    assert oidc_idp.token_endpoint_auth()[-1] == (OIDC_POST_CLIENT_ID, "client_secret_post", 200)


def test_claims_the_id_token_leaves_out_are_read_from_userinfo(
    page, live_server, oidc_idp_userinfo_only, acme, oidc_userinfo_connection
):
    connection_update(oidc_userinfo_connection, group_claims_enabled=True)
    marketing = services.group_create(organization=acme, name=CLAIMED_GROUPS[0], actor=OPERATOR)

    sign_in(page, live_server, oidc_idp_userinfo_only, GROUPED, landing="/my-access/")

    user = User.objects.get(email=GROUPED)
    assert signed_in_user(page) == user
    assert (user.source, user.given_name, user.family_name) == (UserSource.JIT, "Gus", "Grouped")
    assert marketing.memberships.filter(user=user).exists()
    assert oidc_idp_userinfo_only.userinfo_requests() == [(OIDC_CLIENT_ID, 200)]
