"""A domain verified by one organization is closed to every other organization's IdP
(admincenter/services/users.py, ``ensure_domain_open``): creating or renaming a user
into it is a 409 ``uniqueness``, byte for byte the answer for a taken address, so the
response tells nothing about the domain or the organization that verified it."""

import pytest

from admincenter.models import User
from admincenter.services.domains import domain_verify_without_dns
from tests.conftest import OPERATOR
from tests.factories import UserFactory
from tests.scim.helpers import (
    ScimClient,
    assert_error,
    assert_scim,
    expected_user,
    op,
    patch_body,
    user_body,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def globex_verified(other_organization):
    """Globex verified globex.test; it holds one user there, hank@globex.test."""
    return domain_verify_without_dns(organization=other_organization, domain="globex.test", actor=OPERATOR)


def _without_address(response, address: str) -> tuple:
    """What a client sees of a response, with the address in it replaced."""
    headers = {k: v for k, v in response.headers.items() if k.lower() not in {"x-request-id", "date"}}
    return response.status_code, headers, response.content.decode().replace(address, "<address>")


def test_creating_a_user_in_a_domain_another_organization_verified_is_409_like_a_taken_address(scim, globex_verified):
    # Addresses of the same length, so that even Content-Length cannot tell them apart.
    UserFactory(organization=globex_verified.organization, email="old.hire@globex.test")
    closed = scim.post("/Users", user_body("New.Hire@globex.test"))
    taken = scim.post("/Users", user_body("old.hire@globex.test"))
    assert_error(closed, 409, "uniqueness", "The email address new.hire@globex.test is already in use.")
    assert _without_address(closed, "new.hire@globex.test") == _without_address(taken, "old.hire@globex.test")
    assert not User.objects.filter(email="new.hire@globex.test").exists()


def test_a_domain_claimed_but_not_verified_elsewhere_stays_open(scim, scim_organization, other_organization):
    assert not other_organization.sso_domains.get(domain="globex.test").is_verified
    body = assert_scim(scim.post("/Users", user_body("contractor@globex.test")), 201)
    assert User.objects.get(pk=body["id"]).home_organization_id == scim_organization.pk


def test_the_organization_that_verified_the_domain_provisions_users_there(
    scim, scim_organization, other_organization_token
):
    domain_verify_without_dns(organization=scim_organization, domain="acme.test", actor=OPERATOR)
    body = assert_scim(scim.post("/Users", user_body("new@acme.test")), 201)
    assert User.objects.get(pk=body["id"]).home_organization_id == scim_organization.pk
    # ... and another organization's IdP cannot.
    globex = ScimClient(other_organization_token)
    assert_error(
        globex.post("/Users", user_body("someone@acme.test")),
        409,
        "uniqueness",
        "The email address someone@acme.test is already in use.",
    )


@pytest.mark.parametrize("method", ["put", "patch"])
def test_renaming_a_user_into_a_domain_another_organization_verified_is_409(
    scim, scim_managed_user, globex_verified, method
):
    before = expected_user(scim_managed_user)
    path = f"/Users/{scim_managed_user.pk}"
    if method == "put":
        response = scim.put(path, {"userName": "scim.user@globex.test"})
    else:
        response = scim.patch(path, patch_body(op("replace", "userName", "scim.user@globex.test")))
    assert_error(response, 409, "uniqueness", "The email address scim.user@globex.test is already in use.")
    assert expected_user(scim_managed_user) == before
