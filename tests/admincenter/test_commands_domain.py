"""``manage.py domain list|verify`` (admincenter/management/commands/domain.py), against a
DNS server the test starts (tests/dns_server.py)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from admincenter import services
from admincenter.models import AuditEvent, Outcome
from admincenter.services.domains import domain_verify_without_dns, verification_record
from tests.admincenter.test_commands import manage
from tests.conftest import OPERATOR
from tests.dns_server import TxtDnsServer, fixture_dns_server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("domain", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def fails(*args) -> str:
    with pytest.raises(CommandError) as excinfo:
        run(*args)
    return str(excinfo.value)


def operator_events(action: str):
    return AuditEvent.objects.filter(action=action, actor_type="operator", actor_label="manage.py domain")


@pytest.fixture
def acme_domain(organization):
    return organization.sso_domains.get(domain="acme.test")


# --- list ----------------------------------------------------------------------------


def test_list_shows_each_domain_its_connection_state_and_txt_record(organization, acme_domain):
    services.sso_connection_create(
        organization=organization, name="Entra", protocol="oidc", domains=["acme.dev"], actor=OPERATOR
    )
    domain_verify_without_dns(organization=organization, domain="acme.dev", actor=OPERATOR)
    dev = organization.sso_domains.get(domain="acme.dev")

    out, err = run("list", "--org", "acme")

    header, *rows = out.splitlines()
    assert header.split() == ["DOMAIN", "CONNECTION", "VERIFIED", "TXT", "RECORD"]
    assert rows[0].split()[:2] == ["acme.dev", "Entra"]
    assert rows[0].split()[-1] == verification_record(dev)
    assert dev.verified_at.strftime("%Y-%m-%d") in rows[0]
    assert rows[1].split() == ["acme.test", "PingOne", "not", "verified", verification_record(acme_domain)]
    assert "Publish each TXT record on the domain itself" in err


def test_list_without_domains(db):
    services.organization_create(name="Initech", slug="initech", actor=OPERATOR)
    out, _ = run("list", "--org", "initech")
    assert out == "No domains in initech: add them to an SSO connection first.\n"


# --- verify --------------------------------------------------------------------------


def test_verify_looks_up_the_txt_record(organization, acme_domain, dns_server):
    dns_server.records["acme.test"] = [verification_record(acme_domain)]

    out, _ = run("verify", "--org", "acme", "--domain", "ACME.test")

    assert out == "Verified acme.test in acme by its DNS TXT record.\n"
    acme_domain.refresh_from_db()
    assert acme_domain.is_verified
    assert dns_server.queries == ["acme.test"]
    assert operator_events("domain.verify").get().after == {"method": "dns", "connection": "PingOne"}


def test_verify_without_the_record_fails_with_the_record_to_add_and_is_audited(organization, acme_domain, dns_server):
    message = fails("verify", "--org", "acme", "--domain", "acme.test")

    assert message.startswith("Could not verify acme.test: the domain acme.test does not exist in DNS.")
    assert f'"{verification_record(acme_domain)}"' in message
    acme_domain.refresh_from_db()
    assert not acme_domain.is_verified
    assert operator_events("domain.verify_failed").get().outcome == Outcome.FAILED


def test_verify_force_skips_dns_and_is_audited_as_the_operators_decision(organization, acme_domain, dns_server):
    out, _ = run("verify", "--org", "acme", "--domain", "acme.test", "--force")

    assert out == "Verified acme.test in acme without a DNS lookup (--force).\n"
    assert dns_server.queries == []
    acme_domain.refresh_from_db()
    assert acme_domain.is_verified and acme_domain.verified_by == "operator:manage.py domain"
    assert operator_events("domain.verify").get().after == {"method": "operator", "connection": "PingOne"}


def test_verify_an_already_verified_domain_says_so(organization, acme_domain, dns_server):
    run("verify", "--org", "acme", "--domain", "acme.test", "--force")
    out, _ = run("verify", "--org", "acme", "--domain", "acme.test")
    assert out.startswith("acme.test is already verified in acme (since ")
    assert operator_events("domain.verify").count() == 1


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["dns", "force"])
def test_verify_a_domain_another_organization_verified_fails(organization, other_organization, dns_server, force):
    domain_verify_without_dns(organization=other_organization, domain="globex.test", actor=OPERATOR)
    connection = organization.sso_connections.get()
    services.sso_connection_update(
        organization=organization, connection=connection, domains=["acme.test", "globex.test"], actor=OPERATOR
    )

    message = fails("verify", "--org", "acme", "--domain", "globex.test", *force)

    assert message.startswith("globex.test is already verified by another organization.")
    assert "Globex" not in message
    assert not organization.sso_domains.get(domain="globex.test").is_verified


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "acme", "--domain", "nope.test"], "nope.test is not a domain of this organization"),
        (["--org", "no-such-org", "--domain", "acme.test"], "no-such-org"),
    ],
)
def test_verify_unknown_domain_or_organization(organization, args, message):
    assert message in fails("verify", *args)


# --- the real command line ------------------------------------------------------------


def test_command_line_verification_failure_is_one_line_and_exit_code_1(tmp_path, monkeypatch):
    """The operator contract (admincenter/management/base.py) with the DNS lookup made
    for real by the ``manage.py`` process, against the test's DNS server."""
    db = tmp_path / "db.sqlite3"
    assert manage(db, "migrate", "--noinput", "-v", "0").returncode == 0
    assert manage(db, "create_organization", "--name", "Initech", "--slug", "initech").returncode == 0
    added = manage(db, "sso_connection", "add", "--org", "initech", "--name", "Okta", "--protocol", "saml",
                   "--domains", "initech.test")  # fmt: skip
    assert added.returncode == 0, added.stderr
    with TxtDnsServer({"initech.test": ["v=spf1 -all"]}) as server:
        monkeypatch.setenv("SSO_DNS_NAMESERVERS", server.nameserver)
        monkeypatch.setenv("SSO_DNS_TIMEOUT_SECONDS", "2")
        result = manage(db, "domain", "verify", "--org", "initech", "--domain", "initech.test")
        listed = manage(db, "domain", "list", "--org", "initech")
        assert server.queries == ["initech.test"]

    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("CommandError: Could not verify initech.test: none of the TXT records at initech.test")
    record = listed.stdout.splitlines()[1].split()[-1]
    assert record.startswith("optiid-domain-verification=")
    assert f'"{record}"' in line

    forced = manage(db, "domain", "verify", "--org", "initech", "--domain", "initech.test", "--force")
    assert (forced.returncode, forced.stdout) == (
        0,
        "Verified initech.test in initech without a DNS lookup (--force).\n",
    )
