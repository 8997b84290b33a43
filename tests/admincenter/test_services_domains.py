"""Verified domains (admincenter/services/domains.py): the DNS TXT check against a real
DNS server started by the test (tests/dns_server.py), and the rule that a domain
verified by one organization is closed to every other organization's users."""

import time

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone

from admincenter import services
from admincenter.errors import Conflict, InvalidValue, NotFound
from admincenter.models import AuditEvent, Outcome, SsoDomain, User
from admincenter.services import domains
from admincenter.services.domains import (
    VERIFICATION_RECORD_PREFIX,
    domain_verify,
    domain_verify_without_dns,
    verification_record,
)
from tests.conftest import OPERATOR
from tests.dns_server import SilentUdpPort, fixture_dns_server, fixture_silent_dns  # noqa: F401 (fixtures)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def actor(admin_user):
    return services.Actor.admin(admin_user)


@pytest.fixture
def acme_domain(organization) -> SsoDomain:
    return organization.sso_domains.get(domain="acme.test")


def _claim(organization, domain: str) -> SsoDomain:
    """``organization``'s first connection also serves ``domain`` (unverified)."""
    connection = organization.sso_connections.order_by("pk").first()
    services.sso_connection_update(
        organization=organization,
        connection=connection,
        domains=[*connection.domain_names, domain],
        actor=OPERATOR,
    )
    return organization.sso_domains.get(domain=domain)


def _events(action: str):
    return AuditEvent.objects.filter(action=action).order_by("id")


# --- The TXT record ------------------------------------------------------------------


def test_the_record_to_publish_carries_the_domains_token(acme_domain):
    assert verification_record(acme_domain) == f"optiid-domain-verification={acme_domain.verification_token}"
    assert verification_record(acme_domain).startswith(VERIFICATION_RECORD_PREFIX)
    assert len(acme_domain.verification_token) >= 32


def test_each_claimed_domain_gets_its_own_token(organization, acme_domain):
    other = _claim(organization, "acme-labs.test")
    assert other.verification_token and other.verification_token != acme_domain.verification_token


def test_a_matching_txt_record_verifies_the_domain(organization, acme_domain, actor, admin_user, dns_server):
    dns_server.records["acme.test"] = [verification_record(acme_domain)]
    verified = domain_verify(organization=organization, domain="acme.test", actor=actor)
    assert verified.pk == acme_domain.pk and verified.is_verified
    acme_domain.refresh_from_db()
    assert acme_domain.verified_at is not None
    assert acme_domain.verified_by == actor.display
    assert dns_server.queries == ["acme.test"]
    event = _events("domain.verify").get()
    assert (event.organization_id, event.actor_id, event.target_label) == (
        organization.pk,
        str(admin_user.pk),
        "acme.test",
    )
    assert event.after == {"method": "dns", "connection": "PingOne"}
    assert event.outcome == Outcome.SUCCESS
    # Home realm discovery now finds it.
    assert domains.verified_domain_for("someone@ACME.test").pk == acme_domain.pk


def test_the_record_is_found_among_other_txt_records(organization, acme_domain, actor, dns_server):
    dns_server.records["acme.test"] = ["v=spf1 -all", verification_record(acme_domain), "google-site-verification=x"]
    assert domain_verify(organization=organization, domain=" ACME.test. ", actor=actor).is_verified


def test_a_value_split_into_several_strings_is_read_whole(dns_server):
    # Over 255 bytes, a TXT value travels as several character-strings (RFC 1035 §3.3.14).
    dns_server.records["long.test"] = ["a" * 300, "short"]
    assert sorted(domains.txt_values("long.test")) == sorted(["a" * 300, "short"])


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        ({"acme.test": ["optiid-domain-verification=someone-elses-token"]}, "none of the TXT records at acme.test"),
        ({"acme.test": []}, "acme.test has no TXT record"),
        ({}, "the domain acme.test does not exist in DNS"),
        # The record on a sub-name does not count: it must be on the domain itself.
        ({"_optiid.acme.test": ["{record}"], "acme.test": []}, "acme.test has no TXT record"),
    ],
    ids=["wrong-value", "no-txt-record", "nxdomain", "record-on-another-name"],
)
def test_without_the_record_the_domain_stays_unverified_and_the_failure_is_audited(
    organization, acme_domain, actor, dns_server, records, reason
):
    expected = verification_record(acme_domain)
    dns_server.records.update({name: [v.format(record=expected) for v in values] for name, values in records.items()})
    with pytest.raises(InvalidValue) as refusal:
        domain_verify(organization=organization, domain="acme.test", actor=actor)
    assert reason in refusal.value.message
    # The message says which record to add, where.
    assert f'Add a TXT record at acme.test with the value "{expected}"' in refusal.value.message
    assert refusal.value.field == "domain"
    acme_domain.refresh_from_db()
    assert acme_domain.verified_at is None
    # The failure event survives the refusal (written outside the failing transaction).
    event = _events("domain.verify_failed").get()
    assert (event.target_label, event.outcome) == ("acme.test", Outcome.FAILED)
    assert reason in event.after["reason"]
    assert not _events("domain.verify").exists()


def test_a_dns_server_that_does_not_answer_times_out_with_a_clear_error(
    organization, acme_domain, actor, silent_dns, settings
):
    assert settings.SSO_DNS_TIMEOUT_SECONDS == 1
    started = time.monotonic()
    with pytest.raises(InvalidValue, match="the DNS servers did not answer in time"):
        domain_verify(organization=organization, domain="acme.test", actor=actor)
    assert time.monotonic() - started < 5
    acme_domain.refresh_from_db()
    assert acme_domain.verified_at is None
    assert _events("domain.verify_failed").get().after == {"reason": "the DNS servers did not answer in time"}


def test_a_domain_already_verified_here_is_a_no_op(organization, acme_domain, actor, dns_server):
    domain_verify_without_dns(organization=organization, domain="acme.test", actor=OPERATOR)
    acme_domain.refresh_from_db()
    events = AuditEvent.objects.count()
    again = domain_verify(organization=organization, domain="acme.test", actor=actor)
    assert again.verified_at == acme_domain.verified_at
    assert dns_server.queries == []  # no record needed any more
    assert AuditEvent.objects.count() == events


def test_a_domain_verified_by_another_organization_cannot_be_verified(
    organization, other_organization, actor, dns_server
):
    theirs = _claim(other_organization, "shared.test")
    ours = _claim(organization, "shared.test")  # claiming it is allowed, verifying it is not
    domain_verify_without_dns(organization=other_organization, domain="shared.test", actor=OPERATOR)
    dns_server.records["shared.test"] = [verification_record(ours)]  # even with our record published
    with pytest.raises(Conflict) as refusal:
        domain_verify(organization=organization, domain="shared.test", actor=actor)
    assert refusal.value.message.startswith("shared.test is already verified by another organization.")
    for hint in (other_organization.name, other_organization.slug, "okta"):
        assert hint.lower() not in refusal.value.message.lower()
    ours.refresh_from_db()
    assert ours.verified_at is None
    assert SsoDomain.objects.get(domain="shared.test", verified_at__isnull=False).pk == theirs.pk
    event = _events("domain.verify_failed").get()
    assert (event.organization_id, event.outcome) == (organization.pk, Outcome.DENIED)
    assert event.after == {"reason": "already verified by another organization"}


def test_losing_the_race_to_another_organization_is_a_conflict_from_the_constraint(
    organization, other_organization, actor, dns_server, monkeypatch
):
    """Both organizations passed the check; the other committed first. The partial
    unique index sso_domain_verified_once refuses the second."""
    _claim(other_organization, "shared.test")
    ours = _claim(organization, "shared.test")
    dns_server.records["shared.test"] = [verification_record(ours)]

    def other_organization_verifies_first(domain):
        SsoDomain.objects.filter(organization=other_organization, domain="shared.test").update(
            verified_at=ours.created_at
        )

    monkeypatch.setattr(domains, "check_verification_record", other_organization_verifies_first)
    with pytest.raises(Conflict, match="already verified by another organization"):
        domain_verify(organization=organization, domain="shared.test", actor=actor)
    ours.refresh_from_db()
    assert ours.verified_at is None
    assert not _events("domain.verify").exists()
    assert _events("domain.verify_failed").get().outcome == Outcome.DENIED


@pytest.mark.parametrize("domain", ["globex.test", "unknown.test", ""])
def test_only_a_domain_the_organization_claims_can_be_verified(organization, other_organization, actor, domain):
    with pytest.raises(NotFound, match="is not a domain of this organization's SSO connections"):
        domain_verify(organization=organization, domain=domain, actor=actor)
    assert not _events("domain.verify_failed").exists()


def test_an_operator_can_verify_without_dns(organization, acme_domain, dns_server):
    operator = services.Actor.operator("manage.py domain")
    verified = domain_verify_without_dns(organization=organization, domain="acme.test", actor=operator)
    assert verified.is_verified and verified.verified_by == operator.display
    assert dns_server.queries == []
    event = _events("domain.verify").get()
    assert (event.actor_type, event.after["method"]) == ("operator", "operator")


def test_an_operator_cannot_verify_a_domain_another_organization_verified(organization, other_organization):
    _claim(other_organization, "shared.test")
    _claim(organization, "shared.test")
    domain_verify_without_dns(organization=other_organization, domain="shared.test", actor=OPERATOR)
    with pytest.raises(Conflict):
        domain_verify_without_dns(organization=organization, domain="shared.test", actor=OPERATOR)


# --- The resolver's configuration --------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "address", "port"),
    [("192.0.2.1", "192.0.2.1", 53), ("127.0.0.1:5353", "127.0.0.1", 5353), ("[::1]:5353", "::1", 5353)],
)
def test_nameservers_are_ip_with_an_optional_port(settings, entry, address, port):
    settings.SSO_DNS_NAMESERVERS = [entry]
    settings.SSO_DNS_TIMEOUT_SECONDS = 2
    resolver = domains.dns_resolver()
    [nameserver] = resolver.nameservers
    assert (nameserver.address, nameserver.port) == (address, port)
    assert resolver.lifetime == resolver.timeout == 2


def test_with_several_nameservers_a_dead_one_leaves_time_for_the_next(settings, dns_server):
    with SilentUdpPort() as dead:
        settings.SSO_DNS_NAMESERVERS = [dead.nameserver, dns_server.nameserver]
        settings.SSO_DNS_TIMEOUT_SECONDS = 2
        dns_server.records["acme.test"] = ["v=spf1 -all"]
        assert domains.dns_resolver().timeout == 1
        assert domains.txt_values("acme.test") == ["v=spf1 -all"]


@pytest.mark.parametrize("entry", ["dns.example.com", "127.0.0.1:http", "127.0.0.1:70000"])
def test_a_bad_nameserver_setting_is_a_configuration_error(settings, entry):
    settings.SSO_DNS_NAMESERVERS = [entry]
    with pytest.raises(ImproperlyConfigured, match="SSO_DNS_NAMESERVERS"):
        domains.dns_resolver()


# --- A verified domain is closed to other organizations' users -------------------------


def test_a_verified_domain_closes_user_creation_to_other_organizations(organization, other_organization):
    domain_verify_without_dns(organization=other_organization, domain="globex.test", actor=OPERATOR)
    with pytest.raises(Conflict) as refusal:
        services.user_create(organization=organization, email="New.Hire@globex.test", actor=OPERATOR)
    # Word for word the refusal of a taken address.
    with pytest.raises(Conflict) as taken:
        services.user_create(organization=organization, email="hank@globex.test", actor=OPERATOR)
    assert refusal.value.message == "The email address new.hire@globex.test is already in use."
    assert taken.value.message == "The email address hank@globex.test is already in use."
    assert refusal.value.field == taken.value.field == "email"
    assert not User.objects.filter(email="new.hire@globex.test").exists()


def test_an_unverified_claim_by_another_organization_does_not_close_the_domain(organization, other_organization):
    assert not other_organization.sso_domains.get(domain="globex.test").is_verified
    user = services.user_create(organization=organization, email="contractor@globex.test", actor=OPERATOR)
    assert user.home_organization_id == organization.pk


def test_the_organization_that_verified_a_domain_creates_users_there(organization, other_organization):
    _claim(other_organization, "acme.test")  # another organization's claim changes nothing
    domain_verify_without_dns(organization=organization, domain="acme.test", actor=OPERATOR)
    user = services.user_create(organization=organization, email="new@acme.test", actor=OPERATOR)
    assert user.home_organization_id == organization.pk
    with pytest.raises(Conflict, match="already in use"):
        services.user_create(organization=other_organization, email="other@acme.test", actor=OPERATOR)


def test_an_email_change_into_a_domain_verified_elsewhere_is_refused(organization, other_organization, manual_user):
    domain_verify_without_dns(organization=other_organization, domain="globex.test", actor=OPERATOR)
    with pytest.raises(Conflict) as refusal:
        services.user_update(organization=organization, user=manual_user, email="manual@globex.test", actor=OPERATOR)
    assert refusal.value.message == "The email address manual@globex.test is already in use."
    assert refusal.value.field == "email"
    manual_user.refresh_from_db()
    assert manual_user.email == "manual@acme.test"


def test_a_user_already_in_a_domain_closed_later_can_still_be_renamed(organization, other_organization):
    contractor = UserFactory(organization=organization, email="contractor@globex.test")
    domain_verify_without_dns(organization=other_organization, domain="globex.test", actor=OPERATOR)
    services.user_update(
        organization=organization,
        user=contractor,
        email="contractor@globex.test",
        given_name="Cora",
        actor=OPERATOR,
    )
    contractor.refresh_from_db()
    assert contractor.given_name == "Cora"


@pytest.mark.postgres
def test_the_closed_domain_check_reads_the_verified_domain_index(organization, other_organization, acme_domain):
    """It runs on every user creation (SCIM pushes people by the thousand)."""
    connection_ = other_organization.sso_connections.get()
    SsoDomain.objects.bulk_create(
        SsoDomain(
            connection=connection_,
            organization=other_organization,
            domain=f"d{i}.test",
            verification_token=f"t{i}",
            verified_at=timezone.now() if i % 2 else None,
        )
        for i in range(400)
    )
    query = domains.verified_elsewhere(organization=organization, domain="d7.test")
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {SsoDomain._meta.db_table}")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "sso_domain_verified_once" in plan, plan
    assert query.exists()
