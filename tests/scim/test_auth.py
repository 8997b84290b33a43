"""Bearer-token authentication (docs/domain.md#scim-token,
docs/domain.md#scim-outside-scim-mode, docs/idp-notes.md#what-every-client-gets).

The matrix: missing header, another scheme, an empty bearer, an unknown, revoked or
expired token → 401 with ``WWW-Authenticate: Bearer`` and a SCIM error body, on reads and
writes alike, and nothing changes. A live token whose organization is no longer
consistently in SCIM mode → 403.
"""

import pytest

from admincenter import services
from admincenter.models import Group, Organization, SsoConnection, User
from tests.conftest import OPERATOR
from tests.scim.helpers import (
    ScimClient,
    assert_error,
    assert_scim,
    group_body,
    op,
    patch_body,
    user_body,
)

MISSING = "Authentication required: send 'Authorization: Bearer <SCIM token>'."
NOT_BEARER = "Only bearer tokens are accepted: send 'Authorization: Bearer <SCIM token>'."
UNKNOWN = "The bearer token is not valid."
REVOKED = "The bearer token has been revoked."
EXPIRED = "The bearer token has expired."
FORBIDDEN = (
    "SCIM provisioning is not enabled for this organization. An administrator must enable SCIM "
    "in the Admin Center (Settings > Provisioning)."
)

# (case id, Authorization header or a fixture marker, expected detail)
CREDENTIALS = [
    ("missing", None, MISSING),
    ("basic", "Basic dXNlcjpwYXNzd29yZA==", NOT_BEARER),
    ("basic-with-live-token", "Basic {live}", NOT_BEARER),
    ("other-scheme-live-token", "oauth2 {live}", NOT_BEARER),
    ("bearer-without-token", "Bearer", NOT_BEARER),
    ("bearer-blank", "Bearer    ", NOT_BEARER),
    ("unknown", "Bearer optiid_scim_not-a-real-token", UNKNOWN),
    # Entra with a blank Secret Token sends a JWT it issued itself (docs/idp-notes.md#what-every-client-gets).
    ("entra-jwt", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiI4YWRmOGU2ZSJ9.c2ln", UNKNOWN),
    ("revoked", "Bearer {revoked}", REVOKED),
    ("expired", "Bearer {expired}", EXPIRED),
]


def _endpoints(user, group):
    return [
        ("GET", "/Users", None),
        ("GET", "/Users?filter=userName%20eq%20%22scim.user%40acme.test%22", None),
        ("GET", f"/Users/{user.pk}", None),
        ("POST", "/Users", user_body("new.user@acme.test")),
        ("PUT", f"/Users/{user.pk}", user_body("renamed@acme.test")),
        ("PATCH", f"/Users/{user.pk}", patch_body(op("replace", "active", False))),
        ("DELETE", f"/Users/{user.pk}", None),
        ("GET", "/Groups", None),
        ("GET", f"/Groups/{group.pk}", None),
        ("POST", "/Groups", group_body("Opti_SCIM_New")),
        ("PUT", f"/Groups/{group.pk}", group_body("Opti_SCIM_Renamed", members=[])),
        ("PATCH", f"/Groups/{group.pk}", patch_body(op("remove", "members"))),
        ("DELETE", f"/Groups/{group.pk}", None),
        ("GET", "/ServiceProviderConfig", None),
        ("GET", "/Schemas", None),
        ("GET", "/ResourceTypes", None),
    ]


def _authorization(template, scim_token, revoked_scim_token, expired_scim_token):
    if template is None:
        return None
    return template.format(live=scim_token, revoked=revoked_scim_token, expired=expired_scim_token)


@pytest.mark.parametrize(("case", "template", "detail"), CREDENTIALS, ids=[c[0] for c in CREDENTIALS])
def test_bad_credentials_get_401_on_every_endpoint_and_change_nothing(
    case, template, detail, scim_token, revoked_scim_token, expired_scim_token, scim_managed_user, scim_group
):
    authorization = _authorization(template, scim_token, revoked_scim_token, expired_scim_token)
    client = ScimClient(None, authorization=authorization)
    users_before = sorted(User.objects.values_list("email", "is_active"))
    groups_before = sorted(Group.objects.values_list("name", flat=True))
    for method, path, body in _endpoints(scim_managed_user, scim_group):
        response = client.request(method, path, body)
        assert_error(response, 401, detail=detail)
        assert response["WWW-Authenticate"].startswith("Bearer"), (method, path)
    assert sorted(User.objects.values_list("email", "is_active")) == users_before
    assert sorted(Group.objects.values_list("name", flat=True)) == groups_before


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_scheme_is_matched_case_insensitively(scheme, scim_token):
    response = ScimClient(None, authorization=f"{scheme} {scim_token}").get("/Users?count=1")
    assert_scim(response, 200)


def test_surrounding_whitespace_is_tolerated(scim_token):
    assert_scim(ScimClient(None, authorization=f"  Bearer   {scim_token}  ").get("/Users?count=1"), 200)


def test_no_user_agent_is_required(scim_token):
    """Entra's Test Connection may arrive without a User-Agent (docs/idp-notes.md#microsoft-entra-id)."""
    client = ScimClient(scim_token)
    assert "User-Agent" not in client.headers
    assert_scim(client.get("/Users?count=1"), 200)


def test_a_token_of_another_live_organization_works_only_there(scim_token, other_organization_token):
    assert_scim(ScimClient(other_organization_token).get("/Users?count=1"), 200)
    assert_scim(ScimClient(scim_token).get("/Users?count=1"), 200)


def test_token_last_used_at_is_recorded(scim_token, issued_scim_token):
    assert issued_scim_token.token.last_used_at is None
    assert_scim(ScimClient(scim_token).get("/Users?count=1"), 200)
    issued_scim_token.token.refresh_from_db()
    assert issued_scim_token.token.last_used_at is not None


def test_disabling_scim_revokes_the_token_so_it_gets_401(scim_token, scim_organization, scim_managed_user):
    services.scim_disable(organization=scim_organization, actor=OPERATOR)
    for method, path, body in (
        ("GET", "/Users", None),
        ("PATCH", f"/Users/{scim_managed_user.pk}", patch_body(op("replace", "active", False))),
    ):
        response = ScimClient(scim_token).request(method, path, body)
        assert_error(response, 401, detail=REVOKED)
        assert response["WWW-Authenticate"].startswith("Bearer")
    scim_managed_user.refresh_from_db()
    assert scim_managed_user.is_active


def test_live_token_of_an_organization_back_in_jit_mode_is_403(scim_token, scim_organization, scim_managed_user):
    """An inconsistent operator edit: the token is still live, the organization is not in
    SCIM mode (docs/domain.md#scim-outside-scim-mode)."""
    Organization.objects.filter(pk=scim_organization.pk).update(provisioning_mode="jit")
    client = ScimClient(scim_token)
    for method, path, body in (
        ("GET", "/Users", None),
        ("GET", f"/Users/{scim_managed_user.pk}", None),
        ("POST", "/Users", user_body("new.user@acme.test")),
        ("PATCH", f"/Users/{scim_managed_user.pk}", patch_body(op("replace", "active", False))),
        ("DELETE", f"/Users/{scim_managed_user.pk}", None),
        ("GET", "/Groups", None),
    ):
        response = client.request(method, path, body)
        assert_error(response, 403, detail=FORBIDDEN)
        assert "WWW-Authenticate" not in response
    scim_managed_user.refresh_from_db()
    assert scim_managed_user.is_active
    assert not User.objects.filter(email="new.user@acme.test").exists()


def test_live_token_whose_connection_lost_scim_is_403(scim_token, sso_connection):
    SsoConnection.objects.filter(pk=sso_connection.pk).update(scim_enabled=False)
    assert_error(ScimClient(scim_token).get("/Users"), 403, detail=FORBIDDEN)


def test_bad_credentials_are_checked_before_the_path(revoked_scim_token):
    """An unknown endpoint or a discovery write with a bad token is still a 401, so a
    misconfigured IdP always learns that its credential is the problem."""
    client = ScimClient(revoked_scim_token)
    assert_error(client.get("/Devices"), 401, detail=REVOKED)
    assert_error(client.post("/ServiceProviderConfig", raw="test"), 401, detail=REVOKED)
