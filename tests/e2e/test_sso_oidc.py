"""OpenID Connect sign-in, end to end: Chromium, the app on 127.0.0.1 and panva's
oidc-provider 8.x on localhost (tests/e2e/conftest.py). Each test walks the whole redirect
flow: discovery, the authorization request with PKCE, the provider's login and consent
pages, the code exchanged with client_secret_basic, the ID token checked against the
provider's JWKS. What only OIDC has: client_secret_post and claims read from userinfo; the
sign-in rules of docs/sso.md both protocols share are in tests/e2e/test_sso_sign_in.py."""

import pytest

from admincenter import services
from admincenter.models import User, UserSource
from sso.endpoints import sp_values
from tests.e2e.cast import (
    CLAIMED_GROUPS,
    GROUPED,
    NEW_HIRE,
    OIDC_CLIENT_ID,
    OIDC_POST_CLIENT_ID,
    OPERATOR,
)
from tests.e2e.flows import (
    back_at_app,
    connection_update,
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
