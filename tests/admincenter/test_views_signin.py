"""The sign-in page (email first, then the IdP or the password step), where people land,
My access, Settings > Sign-in policy and the break-glass switch on a user's page."""

import re

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY
from django.test import Client
from django.urls import reverse

from admincenter.models import AuditEvent, Organization, User
from tests.conftest import ADMIN_PASSWORD
from tests.factories import sso_connection_make_ready, sso_domain_verify

pytestmark = pytest.mark.django_db

LOGIN = "/login/"


def hidden_next(response) -> str:
    match = re.search(r'<input type="hidden" name="next" value="([^"]*)">', response.content.decode())
    assert match, "the form carries next"
    return match.group(1)


@pytest.fixture
def sso_ready(organization, sso_connection):
    sso_domain_verify(organization)
    return sso_connection_make_ready(sso_connection)


# --- The email step ------------------------------------------------------------------


def test_the_sign_in_page_asks_for_the_email_first(client, organization):
    response = client.get(LOGIN)
    html = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_username">Email</label>' in html
    assert 'name="password"' not in html
    assert ">Continue</button>" in html
    assert "Sign in with a password" in html
    assert "no-store" in response["Cache-Control"]


def test_a_verified_domain_with_a_ready_connection_goes_to_its_idp_with_next(client, sso_ready):
    response = client.post(LOGIN, {"username": "Someone@ACME.test", "next": "/groups/"})
    assert response.status_code == 302
    assert (
        response["Location"] == reverse("sso:login", kwargs={"public_id": sso_ready.public_id}) + "?next=%2Fgroups%2F"
    )


def test_an_unverified_claimed_domain_shows_the_password_step(client, organization, sso_connection):
    sso_connection_make_ready(sso_connection)  # ready, but acme.test is only claimed
    response = client.post(LOGIN, {"username": "someone@acme.test", "next": "/groups/"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="password"' in html
    assert 'value="someone@acme.test"' in html
    assert hidden_next(response) == "/groups/"


def test_a_verified_domain_whose_connection_is_a_draft_shows_the_password_step(client, organization):
    sso_domain_verify(organization)
    response = client.post(LOGIN, {"username": "someone@acme.test"})
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_the_email_step_reveals_nothing_about_other_organizations(client, sso_ready, other_organization):
    """An unknown domain, a domain only claimed elsewhere and an existing user of another
    organization all get the same password step."""
    pages = [
        client.post(LOGIN, {"username": email}) for email in ("x@nowhere.test", "x@globex.test", "hank@globex.test")
    ]
    assert {p.status_code for p in pages} == {200}
    bodies = {
        p.content.decode().replace(email, "EMAIL")
        for p, email in zip(pages, ("x@nowhere.test", "x@globex.test", "hank@globex.test"), strict=True)
    }
    bodies = {re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", b) for b in bodies}
    assert len(bodies) == 1


def test_a_bad_email_is_an_error_next_to_the_field(client, organization):
    response = client.post(LOGIN, {"username": "not an email"})
    assert response.status_code == 400
    assert b'id="id_username_error"' in response.content


def test_an_external_next_is_dropped(client, sso_ready):
    for evil in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        response = client.post(LOGIN, {"username": "x@acme.test", "next": evil})
        assert response["Location"] == reverse("sso:login", kwargs={"public_id": sso_ready.public_id})
        response = client.post(LOGIN, {"username": "x@nowhere.test", "next": evil})
        assert hidden_next(response) == ""


# --- The password step ------------------------------------------------------------------


def test_a_direct_post_of_email_and_password_signs_in(client, organization, admin_user):
    response = client.post(LOGIN, {"email": "admin@acme.test", "password": ADMIN_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert client.session[SESSION_KEY] == str(admin_user.pk)
    assert client.session[BACKEND_SESSION_KEY] == "django.contrib.auth.backends.ModelBackend"
    event = AuditEvent.objects.get(action="login.success")
    assert (event.target_label, event.after) == ("admin@acme.test", {"method": "password"})


def test_next_is_kept_through_the_password_step_and_checked(client, organization, member_user):
    step = client.post(LOGIN, {"username": "member@acme.test", "next": "/my-access/?x=1"})
    response = client.post(
        LOGIN, {"username": "member@acme.test", "password": ADMIN_PASSWORD, "next": hidden_next(step)}
    )
    assert response["Location"] == "/my-access/?x=1"
    client.logout()
    response = client.post(
        LOGIN, {"username": "member@acme.test", "password": ADMIN_PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("my_access")


def test_a_non_admin_lands_on_my_access(client, member_user):
    response = client.post(LOGIN, {"username": "member@acme.test", "password": ADMIN_PASSWORD})
    assert response["Location"] == reverse("my_access")


def test_the_password_link_opens_the_password_step(client, organization):
    response = client.get(LOGIN, {"step": "password", "next": "/users/"})
    assert b'name="password"' in response.content
    assert hidden_next(response) == "/users/"


def test_a_signed_in_person_visiting_the_sign_in_page_goes_to_their_landing_page(member_client, admin_client):
    assert member_client.get(LOGIN)["Location"] == reverse("my_access")
    assert admin_client.get(LOGIN)["Location"] == reverse("home")


def test_require_sso_refuses_password_sign_in_except_for_break_glass(client, organization, admin_user, member_user):
    Organization.objects.filter(pk=organization.pk).update(require_sso=True)
    response = client.post(LOGIN, {"username": "member@acme.test", "password": ADMIN_PASSWORD})
    assert response.status_code == 403
    assert b"requires signing in with its identity provider" in response.content
    assert SESSION_KEY not in client.session
    refused = AuditEvent.objects.get(action="login.refused")
    assert refused.after == {"reason": "require_sso", "method": "password"}
    # A wrong password says nothing about the policy.
    response = client.post(LOGIN, {"username": "member@acme.test", "password": "wrong"})
    assert response.status_code == 200
    assert b"requires signing in" not in response.content

    User.objects.filter(pk=admin_user.pk).update(local_login_allowed=True)
    response = client.post(LOGIN, {"username": "admin@acme.test", "password": ADMIN_PASSWORD})
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(admin_user.pk)


def test_require_sso_does_not_touch_other_organizations(client, organization, other_organization):
    Organization.objects.filter(pk=organization.pk).update(require_sso=True)
    response = client.post(LOGIN, {"username": "admin@globex.test", "password": ADMIN_PASSWORD})
    assert response.status_code == 302


# --- Landing and My access --------------------------------------------------------------


def test_the_dashboard_sends_non_admins_to_my_access(member_client, admin_client):
    assert member_client.get(reverse("home"))["Location"] == reverse("my_access")
    assert admin_client.get(reverse("home")).status_code == 200


def test_my_access_lists_the_persons_instances_and_roles(member_client, member_editors):
    response = member_client.get(reverse("my_access"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Content Management System" in html and "Production" in html and "Content Editors" in html
    assert "Editors" in html
    assert "Go to the Admin Center dashboard" not in html


def test_my_access_without_access_says_so_and_admins_get_a_dashboard_link(member_client, admin_client):
    assert b"You have no product access yet" in member_client.get(reverse("my_access")).content
    assert b"Go to the Admin Center dashboard" in admin_client.get(reverse("my_access")).content


def test_my_access_needs_a_signed_in_person(client, db):
    response = client.get(reverse("my_access"))
    assert response["Location"] == f"{reverse('login')}?next={reverse('my_access')}"


# --- Settings > Sign-in policy ------------------------------------------------------------


def test_the_sign_in_policy_page_is_for_admins(admin_client, member_client):
    page = admin_client.get(reverse("sign_in_policy"))
    assert page.status_code == 200
    assert b"Require SSO" in page.content
    assert member_client.get(reverse("sign_in_policy")).status_code == 403
    assert member_client.post(reverse("sign_in_policy"), {"require_sso": "on"}).status_code == 403


def test_require_sso_without_its_prerequisites_is_an_error_next_to_the_field(admin_client, organization):
    response = admin_client.post(reverse("sign_in_policy"), {"require_sso": "on"})
    assert response.status_code == 403
    html = response.content.decode()
    assert re.search(r'id="id_require_sso_error"[^>]*>[^<]*no SSO connection with a verified domain', html)
    assert 'aria-describedby="id_require_sso_helptext id_require_sso_error"' in html
    assert not Organization.objects.get(pk=organization.pk).require_sso


def test_require_sso_is_switched_on_and_off_from_the_page(admin_client, ready_to_require):
    response = admin_client.post(reverse("sign_in_policy"), {"require_sso": "on"})
    assert response["Location"] == reverse("sign_in_policy")
    assert Organization.objects.get(pk=ready_to_require.pk).require_sso
    assert b"admin@acme.test" in admin_client.get(reverse("sign_in_policy")).content  # listed as break-glass
    admin_client.post(reverse("sign_in_policy"), {})
    assert not Organization.objects.get(pk=ready_to_require.pk).require_sso
    assert [e.after for e in AuditEvent.objects.filter(action="organization.require_sso").order_by("id")] == [
        {"require_sso": True},
        {"require_sso": False},
    ]


def test_the_sign_in_policy_form_is_csrf_protected(admin_user, ready_to_require):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(reverse("sign_in_policy"), {"require_sso": "on"}).status_code == 403
    assert not Organization.objects.get(pk=ready_to_require.pk).require_sso


# --- Break-glass on a user's page -----------------------------------------------------------


def test_the_user_page_has_the_break_glass_switch(admin_client, admin_user):
    html = admin_client.get(reverse("user_detail", args=[admin_user.pk])).content.decode()
    assert reverse("user_local_login", args=[admin_user.pk]) in html
    assert "Break-glass" in html


def test_break_glass_is_switched_from_the_user_page(admin_client, admin_user):
    url = reverse("user_local_login", args=[admin_user.pk])
    response = admin_client.post(url, {"local_login_allowed": "on"})
    assert response["Location"] == reverse("user_detail", args=[admin_user.pk])
    assert User.objects.get(pk=admin_user.pk).local_login_allowed
    admin_client.post(url, {})
    assert not User.objects.get(pk=admin_user.pk).local_login_allowed
    assert AuditEvent.objects.filter(action="user.local_login").count() == 2


def test_break_glass_refusals_show_next_to_the_switch(admin_client, manual_user):
    response = admin_client.post(reverse("user_local_login", args=[manual_user.pk]), {"local_login_allowed": "on"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_local_login_allowed_error"' in html and "has no password" in html
    assert not User.objects.get(pk=manual_user.pk).local_login_allowed


def test_break_glass_is_for_admins_and_own_users_only(member_client, admin_client, admin_user, other_organization):
    assert (
        member_client.post(reverse("user_local_login", args=[admin_user.pk]), {"local_login_allowed": "on"}).status_code
        == 403
    )
    hank = User.objects.get(email="hank@globex.test")
    assert (
        admin_client.post(reverse("user_local_login", args=[hank.pk]), {"local_login_allowed": "on"}).status_code == 404
    )


def test_a_person_without_a_password_is_told_break_glass_does_not_apply(admin_client, manual_user):
    html = admin_client.get(reverse("user_detail", args=[manual_user.pk])).content.decode()
    assert "has no password, so they sign in with SSO only" in html
    assert reverse("user_local_login", args=[manual_user.pk]) not in html
