"""The protocol-neutral sign-in views: the direct start URL, Test sign-in, and what
happens with a verified identity (finish_sign_in) or a failed check (fail_sign_in).

The IdP round trip itself is tested in tests/sso/test_saml.py, tests/sso/test_oidc.py and
tests/e2e/. Here the protocol's ``start`` is replaced by a stand-in that answers at once
with a made-up, already verified ``SsoIdentity``, so each outcome runs through the real
URLs, middleware, sessions and services."""

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from admincenter.models import AuditEvent, Outcome, SsoConnection, SsoDomain, User, UserSource
from sso import outcome, views_oidc, views_saml
from sso.identity import SsoIdentity, SsoValidationError
from tests.conftest import ADMIN_PASSWORD
from tests.factories import UserFactory, sso_connection_make_ready
from tests.scim.helpers import ScimClient, op, patch_body

pytestmark = pytest.mark.django_db

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


class StandInIdp:
    """Plays the protocol module: records how it was started and answers with ``identity``."""

    def __init__(self):
        self.identity = SsoIdentity(email="new.person@acme.test", given_name="New", family_name="Person")
        self.starts = []
        self.force_test = False

    def start(self, request, connection, *, next_url="", test=False):
        self.starts.append({"protocol": connection.protocol, "next_url": next_url, "test": test})
        return outcome.finish_sign_in(
            request, connection=connection, identity=self.identity, next_url=next_url, test=test or self.force_test
        )


@pytest.fixture
def idp(monkeypatch):
    stand_in = StandInIdp()
    monkeypatch.setattr(views_saml, "start", stand_in.start)
    monkeypatch.setattr(views_oidc, "start", stand_in.start)
    return stand_in


@pytest.fixture
def ready(organization, sso_connection):
    """Acme's PingOne connection, ready, with acme.test verified."""
    SsoDomain.objects.filter(organization=organization).update(verified_at=timezone.now())
    return sso_connection_make_ready(sso_connection)


def login_url(connection, **params):
    return reverse("sso:login", kwargs={"public_id": connection.public_id}), params


def start_sign_in(client, connection, **params):
    url, params = login_url(connection, **params)
    return client.get(url, params)


def signed_in_user_id(client):
    return client.session.get(SESSION_KEY)


# --- The direct start URL --------------------------------------------------------------


def test_an_unknown_connection_is_404(client, db):
    response = client.get(reverse("sso:login", kwargs={"public_id": "0b6f8c1e-8a51-4b6b-9a4e-2b8f6f0c9d11"}))
    assert response.status_code == 404


def test_a_draft_connection_signs_nobody_in_and_says_so(client, sso_connection, idp):
    response = start_sign_in(client, sso_connection)
    assert response.status_code == 400
    assert b"Sign-in failed" in response.content
    assert b"not set up completely" in response.content
    assert idp.starts == []
    [event] = AuditEvent.objects.filter(action="login.failure")
    assert event.after == {"reason": "connection_not_ready", "protocol": "saml", "connection": "PingOne"}


def test_the_start_url_dispatches_by_protocol_with_a_safe_next(client, ready, idp):
    start_sign_in(client, ready, next="/users/")
    SsoConnection.objects.filter(pk=ready.pk).update(
        protocol="oidc", oidc_issuer="https://op.example.test", oidc_client_id="c", oidc_client_secret_encrypted="x"
    )
    start_sign_in(Client(), ready, next="https://evil.example/steal")
    start_sign_in(Client(), ready, next="//evil.example/steal")
    assert idp.starts == [
        {"protocol": "saml", "next_url": "/users/", "test": False},
        {"protocol": "oidc", "next_url": "", "test": False},
        {"protocol": "oidc", "next_url": "", "test": False},
    ]


# --- finish_sign_in ------------------------------------------------------------------


def test_jit_creates_the_person_signs_them_in_and_lands_them_on_my_access(client, ready, idp):
    session = client.session  # an anonymous session before the sign-in
    session["probe"] = True
    session.save()
    anonymous_session = session.session_key
    response = start_sign_in(client, ready)
    assert response.status_code == 302
    assert response["Location"] == reverse("my_access")
    user = User.objects.get(email="new.person@acme.test")
    assert (user.source, user.given_name) == (UserSource.JIT, "New")
    assert signed_in_user_id(client) == str(user.pk)
    assert client.session[BACKEND_SESSION_KEY] == MODEL_BACKEND
    assert client.session.session_key != anonymous_session  # rotated: no session fixation
    assert client.get(reverse("my_access")).status_code == 200
    assert AuditEvent.objects.get(action="login.success").after == {"method": "saml", "connection": "PingOne"}


def test_next_is_kept_through_the_round_trip(client, ready, idp):
    response = start_sign_in(client, ready, next="/users/?q=a")
    assert response["Location"] == "/users/?q=a"


def test_finish_sign_in_checks_next_again(client, ready, monkeypatch):
    """A protocol module passing on whatever next it got still cannot send people away."""
    identity = SsoIdentity(email="new.person@acme.test")

    def careless_start(request, connection, *, next_url="", test=False):
        return outcome.finish_sign_in(
            request, connection=connection, identity=identity, next_url="https://evil.example/"
        )

    monkeypatch.setattr(views_saml, "start", careless_start)
    response = start_sign_in(client, ready)
    assert response["Location"] == reverse("my_access")


def test_an_administrator_lands_on_the_dashboard(client, ready, idp):
    idp.identity = SsoIdentity(email="admin@acme.test")
    response = start_sign_in(client, ready)
    assert response["Location"] == reverse("home")


def _assert_refused(client, response, text: bytes):
    assert response.status_code == 403
    assert b"You can't sign in here" in response.content
    assert text in response.content
    assert signed_in_user_id(client) is None
    assert client.get(reverse("my_access")).status_code == 302  # still anonymous


def test_scim_mode_refuses_an_unknown_person_with_the_assign_the_app_page(client, scim_organization, ready, idp):
    idp.identity = SsoIdentity(email="newcomer@acme.test")
    response = start_sign_in(client, ready)
    _assert_refused(client, response, b"assign you the Opti ID Admin Center application")
    assert not User.objects.filter(email="newcomer@acme.test").exists()
    event = AuditEvent.objects.get(action="login.jit_refused")
    assert (event.outcome, event.after["reason"]) == (Outcome.DENIED, "not_assigned")


def test_a_deactivated_user_is_refused(client, ready, idp, manual_user):
    User.objects.filter(pk=manual_user.pk).update(is_active=False)
    idp.identity = SsoIdentity(email=manual_user.email)
    _assert_refused(client, start_sign_in(client, ready), b"deactivated")


def test_a_user_of_another_organization_is_refused(client, ready, idp, other_organization):
    idp.identity = SsoIdentity(email="hank@globex.test")
    response = start_sign_in(client, ready)
    _assert_refused(client, response, b"not managed by this organization")
    assert b"Globex" not in response.content
    assert AuditEvent.objects.get(action="login.refused").after["reason"] == "other_organization"


def test_a_refusal_leaves_the_current_session_as_it_was(client, ready, idp, admin_user):
    client.force_login(admin_user)
    idp.identity = SsoIdentity(email="hank@globex.test")
    start_sign_in(client, ready)
    assert signed_in_user_id(client) == str(admin_user.pk)


# --- Test sign-in --------------------------------------------------------------------


@pytest.fixture
def admin_session(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def test_test_sign_in_shows_what_the_idp_sent_and_signs_nobody_in(admin_session, admin_user, ready, idp):
    idp.identity = SsoIdentity(
        email="Tester@Acme.test",
        given_name="Tess",
        family_name="Ter",
        groups=("Marketing", "Sales"),
        subject="tester-nameid",
        attributes={"mail": ["Tester@Acme.test"], "department": "QA", "memberOf": ["Marketing", "Sales"]},
    )
    response = admin_session.get(reverse("sso:test", kwargs={"public_id": ready.public_id}))
    assert response.status_code == 200
    html = response.content.decode()
    shown = ("Tester@Acme.test", "Tess", "Ter", "Marketing, Sales", "tester-nameid", "department", "QA", "memberOf")
    assert [text for text in shown if text not in html] == []
    assert "Nobody was signed in" in html
    assert idp.starts == [{"protocol": "saml", "next_url": "", "test": True}]
    assert not User.objects.filter(email="tester@acme.test").exists()
    assert signed_in_user_id(admin_session) == str(admin_user.pk)
    event = AuditEvent.objects.get(action="sso_connection.test")
    assert (event.actor_label, event.target_label) == ("admin@acme.test", "PingOne")
    assert "QA" not in str(event.after)
    assert not AuditEvent.objects.filter(action="login.success").exists()


def test_test_sign_in_is_for_administrators_of_the_connections_organization(
    client, ready, idp, other_organization, organization
):
    member = UserFactory(organization=organization, email="member@acme.test", password=ADMIN_PASSWORD)
    url = reverse("sso:test", kwargs={"public_id": ready.public_id})
    assert client.get(url)["Location"].startswith(reverse("login"))
    client.force_login(member)
    assert client.get(url).status_code == 403
    client.force_login(other_organization.home_users.get(email="admin@globex.test"))
    assert client.get(url).status_code == 404
    assert idp.starts == []


def test_a_test_result_is_shown_only_to_an_administrator_of_that_organization(client, ready, idp, organization):
    """Should a test flow ever finish in another browser, nothing is shown there."""
    member = UserFactory(organization=organization, email="member@acme.test", password=ADMIN_PASSWORD)
    client.force_login(member)
    idp.force_test = True
    response = start_sign_in(client, ready)
    assert response.status_code == 403
    assert b"new.person@acme.test" not in response.content
    assert not AuditEvent.objects.filter(action="sso_connection.test").exists()


# --- fail_sign_in ---------------------------------------------------------------------


def test_a_failed_check_is_audited_and_explained_with_a_way_back(client, ready, monkeypatch):
    def failing_start(request, connection, *, next_url="", test=False):
        error = SsoValidationError("audience_mismatch", "Audience https://other/ is not ours <Assertion>")
        return outcome.fail_sign_in(request, connection=connection, error=error)

    monkeypatch.setattr(views_saml, "start", failing_start)
    response = start_sign_in(client, ready)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Sign-in failed" in html and "meant for another application" in html
    assert f'href="{reverse("login")}"' in html
    assert "Assertion" not in html
    event = AuditEvent.objects.get(action="login.failure")
    assert (event.outcome, event.after) == (
        Outcome.FAILED,
        {"reason": "audience_mismatch", "protocol": "saml", "connection": "PingOne"},
    )
    assert signed_in_user_id(client) is None


# --- Sessions end with the account (docs/sso.md, "Sessions") ------------------------------


@pytest.fixture
def signed_in_scim_user(client, scim_organization, scim_managed_user, ready, idp):
    idp.identity = SsoIdentity(email=scim_managed_user.email)
    response = start_sign_in(client, ready)
    assert response["Location"] == reverse("my_access")
    assert client.session[BACKEND_SESSION_KEY] == MODEL_BACKEND
    assert client.get(reverse("my_access")).status_code == 200
    return scim_managed_user


def test_a_scim_deactivation_ends_the_persons_session(client, signed_in_scim_user, scim_token):
    scim = ScimClient(scim_token)
    response = scim.patch(f"/Users/{signed_in_scim_user.pk}", patch_body(op("replace", "active", False)))
    assert response.status_code == 200
    response = client.get(reverse("my_access"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_scim_deletion_ends_the_persons_session(client, signed_in_scim_user, scim_token):
    assert ScimClient(scim_token).delete(f"/Users/{signed_in_scim_user.pk}").status_code == 204
    response = client.get(reverse("my_access"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_every_failure_reason_has_an_explanation_and_unknown_reasons_are_refused():
    from sso.identity import FAILURE_REASONS, SsoValidationError
    from sso.outcome import FAILURE_EXPLANATIONS

    assert set(FAILURE_EXPLANATIONS) == set(FAILURE_REASONS)
    with pytest.raises(ValueError, match="signature_bad"):
        SsoValidationError("signature_bad")
