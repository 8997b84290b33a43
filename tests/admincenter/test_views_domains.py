"""Settings > Domains (admincenter/views/domains.py) against a DNS server the test starts,
and the Admin Center's user forms refusing addresses in a domain another organization
verified."""

import html

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from admincenter.models import AuditEvent, SsoDomain, User
from admincenter.services.domains import domain_verify_without_dns, verification_record
from admincenter.views import domains as domain_views
from tests.admincenter.test_views_common import last_event
from tests.conftest import ADMIN_PASSWORD, OPERATOR
from tests.dns_server import fixture_dns_server  # noqa: F401 (fixtures)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_domain(organization) -> SsoDomain:
    return organization.sso_domains.get(domain="acme.test")


@pytest.fixture
def non_admin_client(organization):
    client = Client()
    client.force_login(UserFactory(organization=organization, email="member@acme.test", password=ADMIN_PASSWORD))
    return client


def _verify_url(domain: SsoDomain) -> str:
    return reverse("domain_verify", args=[domain.pk])


def test_the_page_lists_the_domains_with_the_txt_record_to_add(admin_client, organization, other_organization):
    acme_domain = organization.sso_domains.get()
    response = admin_client.get(reverse("domain_list"))
    assert response.status_code == 200
    page = response.content.decode()
    record = verification_record(acme_domain)
    assert "<code>acme.test</code>" in page
    assert "PingOne" in page
    assert "Not verified" in page
    # Name and value of the record, each with a copy button.
    assert f'<code id="txt-name-{acme_domain.pk}">acme.test</code>' in page
    assert f'<code id="txt-value-{acme_domain.pk}">{record}</code>' in page
    assert f'data-copy-target="txt-name-{acme_domain.pk}"' in page
    assert f'data-copy-target="txt-value-{acme_domain.pk}"' in page
    assert f'action="{_verify_url(acme_domain)}"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    # Only this organization's domains.
    assert "globex.test" not in page


def test_a_verified_domain_shows_when_and_by_whom_and_no_button(admin_client, organization, acme_domain):
    domain_verify_without_dns(organization=organization, domain="acme.test", actor=OPERATOR)
    page = admin_client.get(reverse("domain_list")).content.decode()
    assert "Verified</span>" in page
    verified_at = timezone.localtime(organization.sso_domains.get().verified_at)
    assert f"{verified_at:%Y-%m-%d %H:%M} by tests</span>" in page  # OPERATOR is Actor.operator("tests")
    assert f'action="{_verify_url(acme_domain)}"' not in page


def test_the_settings_index_and_tabs_link_to_the_page(admin_client):
    assert f'href="{reverse("domain_list")}"' in admin_client.get(reverse("settings")).content.decode()
    page = admin_client.get(reverse("domain_list")).content.decode()
    assert f'<a href="{reverse("domain_list")}" aria-current="page">Domains</a>' in page


def test_verify_with_the_record_published(admin_client, organization, admin_user, acme_domain, dns_server):
    dns_server.records["acme.test"] = [verification_record(acme_domain)]
    response = admin_client.post(_verify_url(acme_domain))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('domain_list')}?verified={acme_domain.pk}#domain-{acme_domain.pk}"
    acme_domain.refresh_from_db()
    assert acme_domain.is_verified
    assert acme_domain.verified_by == f"admin_user:{admin_user.email}"
    event = last_event(organization, "domain.verify")
    assert (event.actor_label, event.target_label) == (admin_user.email, "acme.test")
    page = admin_client.get(response["Location"]).content.decode()
    assert 'data-testid="domain-verified">acme.test is verified.</p>' in page


def test_verify_without_the_record_shows_the_error_next_to_the_domain(
    admin_client, organization, acme_domain, dns_server
):
    dns_server.records["acme.test"] = ["optiid-domain-verification=not-this-one"]
    response = admin_client.post(_verify_url(acme_domain))
    assert response.status_code == 400
    [row] = [r for r in response.context["rows"] if r["error"]]
    assert row["domain"].pk == acme_domain.pk
    assert row["error"].startswith("Could not verify acme.test: none of the TXT records at acme.test")
    page = response.content.decode()
    assert 'data-testid="domain-error">' in page
    assert html.escape(f'"{verification_record(acme_domain)}"') in page
    acme_domain.refresh_from_db()
    assert not acme_domain.is_verified
    assert last_event(organization, "domain.verify_failed").target_label == "acme.test"


def test_verify_a_domain_another_organization_verified_is_a_409_naming_nobody(
    admin_client, organization, other_organization, dns_server
):
    domain_verify_without_dns(organization=other_organization, domain="globex.test", actor=OPERATOR)
    claim = SsoDomain.objects.create(
        connection=organization.sso_connections.get(),
        organization=organization,
        domain="globex.test",
        verification_token="ours",
    )
    dns_server.records["globex.test"] = [verification_record(claim)]
    response = admin_client.post(_verify_url(claim))
    assert response.status_code == 409
    page = response.content.decode()
    assert "globex.test is already verified by another organization." in page
    for hint in ("Globex", "Okta", "admin@globex.test"):
        assert hint not in page
    assert dns_server.queries == []


def test_another_organizations_domain_is_a_404(admin_client, other_organization):
    theirs = other_organization.sso_domains.get(domain="globex.test")
    assert admin_client.post(_verify_url(theirs)).status_code == 404
    theirs.refresh_from_db()
    assert not theirs.is_verified
    assert not AuditEvent.objects.filter(action__startswith="domain.").exists()


def test_only_admins_see_or_verify_domains(client, non_admin_client, acme_domain, dns_server):
    dns_server.records["acme.test"] = [verification_record(acme_domain)]
    assert client.get(reverse("domain_list")).status_code == 302
    assert client.post(_verify_url(acme_domain)).status_code == 302
    assert non_admin_client.get(reverse("domain_list")).status_code == 403
    assert non_admin_client.post(_verify_url(acme_domain)).status_code == 403
    acme_domain.refresh_from_db()
    assert not acme_domain.is_verified
    assert dns_server.queries == []


def test_verify_is_post_only_and_csrf_protected(admin_client, admin_user, acme_domain, dns_server):
    dns_server.records["acme.test"] = [verification_record(acme_domain)]
    assert admin_client.get(_verify_url(acme_domain)).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    assert strict.post(_verify_url(acme_domain)).status_code == 403
    acme_domain.refresh_from_db()
    assert not acme_domain.is_verified


# --- The user forms ------------------------------------------------------------------


def test_adding_a_user_in_a_domain_another_organization_verified_is_a_form_error(
    admin_client, organization, other_organization
):
    domain_verify_without_dns(organization=other_organization, domain="globex.test", actor=OPERATOR)
    response = admin_client.post(reverse("user_add"), {"action": "create", "create-email": "New.Hire@globex.test"})
    assert response.status_code == 409
    assert response.context["create_form"].errors["email"] == [
        "The email address new.hire@globex.test is already in use."
    ]
    assert b'id="id_create-email_error"' in response.content
    assert b"Globex" not in response.content
    assert not User.objects.filter(email="new.hire@globex.test").exists()


def test_adding_a_user_in_a_domain_only_claimed_elsewhere_works(admin_client, organization, other_organization):
    response = admin_client.post(reverse("user_add"), {"action": "create", "create-email": "temp@globex.test"})
    assert response.status_code == 302
    assert User.objects.get(email="temp@globex.test").home_organization_id == organization.pk


def test_changing_an_email_into_a_domain_another_organization_verified_is_a_form_error(
    admin_client, organization, other_organization, manual_user
):
    domain_verify_without_dns(organization=other_organization, domain="globex.test", actor=OPERATOR)
    response = admin_client.post(reverse("user_edit", args=[manual_user.pk]), {"email": "manual@globex.test"})
    assert response.status_code == 409
    assert response.context["profile_form"].errors["email"] == [
        "The email address manual@globex.test is already in use."
    ]
    manual_user.refresh_from_db()
    assert manual_user.email == "manual@acme.test"


def test_a_domain_removed_while_verifying_gets_its_error_at_the_top(
    admin_client, organization, acme_domain, monkeypatch
):
    real_verify = domain_views.domain_verify

    def removed_meanwhile(**kwargs):
        SsoDomain.objects.filter(pk=acme_domain.pk).delete()  # e.g. another admin edited the connection
        return real_verify(**kwargs)

    monkeypatch.setattr(domain_views, "domain_verify", removed_meanwhile)
    response = admin_client.post(_verify_url(acme_domain))
    assert response.status_code == 404
    assert response.context["page_error"] == "acme.test is not a domain of this organization's SSO connections."
    assert b'class="alert alert-error" role="alert">acme.test is not a domain' in response.content
