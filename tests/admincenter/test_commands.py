"""Operator commands (admincenter/management/commands): output, audit, errors, --help.

Most tests use ``call_command`` against the test database. The exit-code contract
(one line on stderr, exit code 1, no traceback) is about the real command line, so a
few tests run ``manage.py`` in a subprocess on a throw-away SQLite database migrated
once per module (a subprocess cannot see the test database).
"""

import os
import shutil
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from admincenter import selectors, services
from admincenter.management.commands import seed_demo
from admincenter.models import (
    AuditEvent,
    Group,
    GroupGrant,
    GroupKind,
    GroupMembership,
    Organization,
    ProductInstance,
    ScimToken,
    SsoConnection,
    User,
)
from tests.conftest import OPERATOR

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def run(*args, **options):
    """Run a command in-process; return (stdout, stderr)."""
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def fails(*args) -> str:
    """Run a command that must fail; return its message."""
    with pytest.raises(CommandError) as excinfo:
        run(*args)
    return str(excinfo.value)


def operator_events(action: str, command: str):
    return AuditEvent.objects.filter(action=action, actor_type="operator", actor_label=f"manage.py {command}")


# --- create_organization ---------------------------------------------------------------

CREATE_INITECH = ("create_organization", "--name", "Initech", "--slug", "initech")


@pytest.mark.django_db
def test_create_organization_with_admin():
    out, err = run(*CREATE_INITECH, "--admin-email", "Boss@Initech.test", "--admin-password", "Correct-Horse-42")

    org = Organization.objects.get(slug="initech")
    admin = User.objects.get(email="boss@initech.test")
    assert out == (
        "Created organization 'Initech' (slug initech) with administrator boss@initech.test "
        "in Admin Center Administrators.\n"
    )
    assert err == ""
    assert org.name == "Initech"
    assert admin.home_organization == org
    assert admin.check_password("Correct-Horse-42")
    assert selectors.is_admin_center_admin(organization=org, user=admin)
    assert operator_events("organization.create", "create_organization").filter(organization=org).count() == 1
    assert operator_events("user.create", "create_organization").filter(target_label=admin.email).exists()


@pytest.mark.django_db
def test_create_organization_without_admin():
    out, _ = run(*CREATE_INITECH)

    org = Organization.objects.get(slug="initech")
    assert out == "Created organization 'Initech' (slug initech) without an administrator.\n"
    assert not org.home_users.exists()
    assert Group.objects.filter(organization=org, kind=GroupKind.SYSTEM).count() == 2


@pytest.mark.django_db
def test_create_organization_admin_without_password_warns_on_stderr():
    out, err = run(*CREATE_INITECH, "--admin-email", "boss@initech.test")

    assert "with administrator boss@initech.test" in out
    assert "no password yet" in err
    assert not User.objects.get(email="boss@initech.test").has_usable_password()


def test_create_organization_duplicate_slug(organization):
    message = fails("create_organization", "--name", "Acme again", "--slug", "acme")

    assert message == "An organization with the slug 'acme' already exists."
    assert Organization.objects.filter(slug="acme").count() == 1


@pytest.mark.django_db
def test_create_organization_invalid_slug():
    message = fails("create_organization", "--name", "Initech", "--slug", "Not A Slug")

    assert "'not a slug' is not a valid slug" in message
    assert not Organization.objects.exists()


@pytest.mark.django_db
def test_create_organization_weak_password_creates_nothing():
    message = fails(*CREATE_INITECH, "--admin-email", "boss@initech.test", "--admin-password", "123")

    assert "too short" in message
    assert not Organization.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_create_organization_password_needs_email():
    message = fails(*CREATE_INITECH, "--admin-password", "x")

    assert message == "--admin-password needs --admin-email."
    assert not Organization.objects.exists()


# --- sso_connection --------------------------------------------------------------------


def test_sso_connection_add(organization):
    out, _ = run(
        "sso_connection",
        "add",
        "--org",
        "acme",
        "--name",
        "Entra ID",
        "--protocol",
        "OIDC",
        "--domains",
        "Acme.com, acme.de",
    )

    connection = organization.sso_connections.get(name="Entra ID")
    assert out == "Created SSO connection 'Entra ID' (OpenID Connect) in acme; domains: acme.com, acme.de.\n"
    assert connection.protocol == "oidc"
    assert connection.domain_names == ["acme.com", "acme.de"]
    event = operator_events("sso_connection.create", "sso_connection").get(organization=organization)
    assert event.target_label == "Entra ID"


def test_sso_connection_add_bad_protocol(organization):
    message = fails("sso_connection", "add", "--org", "acme", "--name", "X", "--protocol", "kerberos")

    assert message == "Protocol must be one of: saml, oidc."
    assert not organization.sso_connections.filter(name="X").exists()


def test_sso_connection_add_public_domain(organization):
    message = fails(
        "sso_connection", "add", "--org", "acme", "--name", "X", "--protocol", "saml", "--domains", "gmail.com"
    )

    assert "public mail domain" in message


def test_sso_connection_add_duplicate_name(organization):
    message = fails("sso_connection", "add", "--org", "acme", "--name", "pingone", "--protocol", "saml")

    assert message == "An SSO connection named 'pingone' already exists."


@pytest.mark.django_db
def test_sso_connection_unknown_org():
    message = fails("sso_connection", "add", "--org", "nope", "--name", "X", "--protocol", "saml")

    assert message == "No organization with the slug 'nope'."


def test_sso_connection_list(scim_organization):
    services.sso_connection_create(
        organization=scim_organization, name="Okta", protocol="oidc", domains=["acme.org"], actor=OPERATOR
    )

    out, _ = run("sso_connection", "list", "--org", "acme")

    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "PROTOCOL", "STATE", "DOMAINS", "SCIM", "CREATED"]
    assert lines[1].split()[:5] == ["PingOne", "saml", "draft", "acme.test", "enabled"]
    assert lines[2].split()[:5] == ["Okta", "oidc", "draft", "acme.org", "-"]


@pytest.mark.django_db
def test_sso_connection_list_empty():
    services.organization_create(name="Initech", slug="initech", actor=OPERATOR)

    out, _ = run("sso_connection", "list", "--org", "initech")

    assert out == "No SSO connections in initech.\n"


def test_sso_connection_delete(organization):
    out, _ = run("sso_connection", "delete", "--org", "acme", "--name", "pingone")

    assert out == "Deleted SSO connection 'PingOne' from acme.\n"
    assert not organization.sso_connections.exists()
    assert operator_events("sso_connection.delete", "sso_connection").filter(target_label="PingOne").exists()


def test_sso_connection_delete_unknown_connection(organization):
    message = fails("sso_connection", "delete", "--org", "acme", "--name", "Okta")

    assert message == "No SSO connection named 'Okta' in organization 'acme' (existing: PingOne)."


def test_sso_connection_delete_scim_connection_is_refused(scim_organization):
    message = fails("sso_connection", "delete", "--org", "acme", "--name", "PingOne")

    assert "Disable SCIM provisioning before deleting it" in message
    assert scim_organization.sso_connections.filter(name="PingOne").exists()


# --- provisioning ------------------------------------------------------------------------


def test_provisioning_scim(organization, sso_connection):
    out, _ = run("provisioning", "--org", "acme", "--mode", "scim", "--connection", "pingone")

    organization.refresh_from_db()
    sso_connection.refresh_from_db()
    assert out.splitlines()[0] == (
        "acme: provisioning mode jit -> scim on SSO connection 'PingOne'. "
        "JIT user creation and group-claim sync are off."
    )
    assert organization.provisioning_mode == "scim"
    assert sso_connection.scim_enabled
    assert operator_events("scim.enable", "provisioning").filter(organization=organization).count() == 1


def test_provisioning_jit_prints_what_was_released(scim_organization, scim_token, scim_group, scim_managed_user):
    out, _ = run("provisioning", "--org", "acme", "--mode", "jit")

    scim_organization.refresh_from_db()
    scim_managed_user.refresh_from_db()
    assert out == (
        "acme: provisioning mode scim -> jit. Revoked 1 SCIM token(s); released 1 user(s) and 1 group(s) "
        "(1 membership(s)) to local management.\n"
    )
    assert scim_organization.provisioning_mode == "jit"
    assert not scim_managed_user.is_scim_managed
    assert not ScimToken.objects.filter(organization=scim_organization, revoked_at__isnull=True).exists()
    event = operator_events("scim.disable", "provisioning").get(organization=scim_organization)
    assert event.after["tokens_revoked"] == 1


def test_provisioning_jit_when_already_jit(organization):
    message = fails("provisioning", "--org", "acme", "--mode", "jit")

    assert message == "SCIM provisioning is not enabled for this organization."


def test_provisioning_scim_unknown_connection(organization):
    message = fails("provisioning", "--org", "acme", "--mode", "scim", "--connection", "Okta")

    assert message == "No SSO connection named 'Okta' in organization 'acme' (existing: PingOne)."
    organization.refresh_from_db()
    assert organization.provisioning_mode == "jit"


def test_provisioning_scim_needs_connection(organization):
    assert "--mode scim needs --connection" in fails("provisioning", "--org", "acme", "--mode", "scim")


def test_provisioning_scim_when_already_enabled(scim_organization):
    message = fails("provisioning", "--org", "acme", "--mode", "scim", "--connection", "PingOne")

    assert message == "SCIM is already enabled on 'PingOne'."


def test_provisioning_bad_mode(organization):
    assert (
        fails("provisioning", "--org", "acme", "--mode", "ldap") == "Unknown provisioning mode 'ldap': use jit or scim."
    )


def test_provisioning_connection_with_jit_is_refused(scim_organization):
    message = fails("provisioning", "--org", "acme", "--mode", "jit", "--connection", "PingOne")

    assert message == "--connection is only used with --mode scim."
    scim_organization.refresh_from_db()
    assert scim_organization.provisioning_mode == "scim"


@pytest.mark.django_db
def test_provisioning_unknown_org():
    assert fails("provisioning", "--org", "nope", "--mode", "jit") == "No organization with the slug 'nope'."


# --- scim_token --------------------------------------------------------------------------


def test_scim_token_issue_prints_only_the_token(scim_organization):
    out, err = run("scim_token", "issue", "--org", "acme", "--label", "Okta prod", "--expires-days", "30")

    assert out.endswith("\n")
    assert len(out.splitlines()) == 1
    raw = out.strip()
    token = services.scim_token_authenticate(raw)
    assert token.organization == scim_organization
    assert token.label == "Okta prod"
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert token.token_prefix in err
    assert raw not in err
    event = operator_events("scim.token.create", "scim_token").get(organization=scim_organization)
    assert event.target_id == str(token.pk)
    assert raw not in str(event.after)


def test_scim_token_issue_quiet(scim_organization):
    out, err = run("scim_token", "issue", "--org", "acme", verbosity=0)

    assert services.scim_token_authenticate(out.strip()).label == "SCIM token"
    assert err == ""


def test_scim_token_issue_not_in_scim_mode(organization):
    message = fails("scim_token", "issue", "--org", "acme")

    assert message == "Organization 'acme' is not in SCIM mode: enable SCIM on an SSO connection first."
    assert not ScimToken.objects.exists()


def test_scim_token_issue_bad_expiry(scim_organization):
    assert fails("scim_token", "issue", "--org", "acme", "--expires-days", "0") == (
        "Expiry must be at least one day, or none."
    )


@pytest.mark.django_db
def test_scim_token_unknown_org():
    assert fails("scim_token", "list", "--org", "nope") == "No organization with the slug 'nope'."


def test_scim_token_list_shows_states(scim_organization, issued_scim_token, revoked_scim_token, expired_scim_token):
    services.scim_token_authenticate(issued_scim_token.raw)  # sets last_used_at

    out, _ = run("scim_token", "list", "--org", "acme")

    lines = out.splitlines()
    assert lines[0].split() == ["PREFIX", "LABEL", "CREATED", "LAST", "USED", "EXPIRES", "STATE", "ID"]
    rows = {line.split()[0]: line for line in lines[1:]}
    tokens = {t.label: t for t in ScimToken.objects.all()}
    assert len(rows) == 3
    active = rows[tokens["PingOne prod"].token_prefix]
    assert active.split()[-2:] == ["active", str(tokens["PingOne prod"].pk)]
    assert "never" in active  # never expires, but was used
    assert rows[tokens["old"].token_prefix].split()[-2] == "revoked"
    assert rows[tokens["expired"].token_prefix].split()[-2] == "expired"
    assert rows[tokens["old"].token_prefix].count("never") == 2  # never used, never expires


def test_scim_token_list_empty(scim_organization):
    assert run("scim_token", "list", "--org", "acme")[0] == "No SCIM tokens in acme.\n"


def test_scim_token_revoke_by_prefix(scim_organization, issued_scim_token):
    token = issued_scim_token.token

    out, _ = run("scim_token", "revoke", "--org", "acme", token.token_prefix)

    token.refresh_from_db()
    assert out == f"Revoked SCIM token {token.token_prefix} ('PingOne prod') of acme.\n"
    assert token.state == "revoked"
    assert operator_events("scim.token.revoke", "scim_token").filter(target_id=str(token.pk)).count() == 1


def test_scim_token_revoke_by_id(scim_organization, issued_scim_token):
    token = issued_scim_token.token

    run("scim_token", "revoke", "--org", "acme", str(token.pk))

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.revoked_by == "operator:manage.py scim_token"


def test_scim_token_revoke_unknown_prefix(scim_organization):
    message = fails("scim_token", "revoke", "--org", "acme", "optiid_scim_nothere")

    assert message == "No SCIM token 'optiid_scim_nothere' in organization 'acme'."


def test_scim_token_revoke_twice(scim_organization, issued_scim_token):
    run("scim_token", "revoke", "--org", "acme", issued_scim_token.token.token_prefix)

    assert "already revoked" in fails("scim_token", "revoke", "--org", "acme", issued_scim_token.token.token_prefix)


def test_scim_token_revoke_other_organizations_token(scim_organization, other_organization):
    foreign = services.scim_token_issue(organization=other_organization, label="Okta", actor=OPERATOR).token

    message = fails("scim_token", "revoke", "--org", "acme", str(foreign.pk))

    assert message == f"No SCIM token '{foreign.pk}' in organization 'acme'."
    foreign.refresh_from_db()
    assert foreign.revoked_at is None


# --- seed_demo ---------------------------------------------------------------------------

SEEDED_MODELS = (Organization, User, Group, GroupMembership, GroupGrant, ScimToken, ProductInstance, SsoConnection)


def row_counts():
    return {model.__name__: model.objects.count() for model in (*SEEDED_MODELS, AuditEvent)}


@pytest.mark.django_db
def test_seed_demo_first_run(monkeypatch):
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)

    out, err = run("seed_demo")

    org = Organization.objects.get(slug="acme")
    admin = User.objects.get(email="admin@acme.test")
    token_lines = [line for line in out.splitlines() if line.startswith("SCIM token:")]
    raw = token_lines[0].split()[-1]
    assert org.name == "Acme Corporation"
    assert org.provisioning_mode == "scim"
    assert org.sso_connections.get(scim_enabled=True).name == "PingOne"
    assert org.sso_connections.get().domain_names == ["acme.test"]
    assert admin.check_password(seed_demo.DEFAULT_DEMO_PASSWORD)
    assert selectors.is_admin_center_admin(organization=org, user=admin)
    assert services.scim_token_authenticate(raw).organization == org
    assert sorted(str(i) for i in org.product_instances.all()) == [
        "Content Management System – Production",
        "Content Management System – Staging",
        "Opti ID Admin Center – Admin Center",
        "Optimizely Data Platform – EU",
        "Web Experimentation – Main",
    ]
    custom = Group.objects.filter(organization=org, kind=GroupKind.CUSTOM)
    assert sorted(custom.values_list("name", flat=True)) == ["Content Editors", "Marketing", "Partners"]
    assert GroupGrant.objects.filter(group__in=custom).count() >= 3
    assert GroupMembership.objects.filter(group__in=custom).count() >= 3
    assert "http://127.0.0.1:8000/login/" in out
    assert "admin@acme.test" in out
    assert seed_demo.DEFAULT_DEMO_PASSWORD in out
    assert "http://127.0.0.1:8000/api/scim/v2" in out
    assert err == ""
    events = AuditEvent.objects.filter(organization=org)
    assert set(events.values_list("actor_type", "actor_label")) == {("operator", "manage.py seed_demo")}
    assert {"organization.create", "scim.enable", "scim.token.create", "group.grant.add"} <= set(
        events.values_list("action", flat=True)
    )


@pytest.mark.django_db
def test_seed_demo_second_run_changes_nothing_and_shows_no_token():
    first, _ = run("seed_demo")
    before = row_counts()

    second, err = run("seed_demo")

    assert row_counts() == before
    assert "optiid_scim_" in first
    assert "optiid_scim_" not in second
    assert "nothing was changed" in second
    assert 'python manage.py scim_token issue --org acme --label "' in second
    assert "http://127.0.0.1:8000/login/" in second
    assert "http://127.0.0.1:8000/api/scim/v2" in second
    assert err == ""


@pytest.mark.django_db
def test_seed_demo_password_from_environment(monkeypatch):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "Another-Demo-Secret-7")

    out, _ = run("seed_demo")

    assert User.objects.get(email="admin@acme.test").check_password("Another-Demo-Secret-7")
    assert "Another-Demo-Secret-7" not in out
    assert "DEMO_ADMIN_PASSWORD" in out


def test_seed_demo_leaves_an_acme_it_did_not_create_alone(organization):
    before = row_counts()

    out, err = run("seed_demo")

    assert row_counts() == before
    assert "nothing was changed" in out
    assert "was not created by seed_demo" in err


# --- --help --------------------------------------------------------------------------------


HELP_MENTIONS = {
    "create_organization": ["--name", "--slug", "--admin-email", "--admin-password"],
    "sso_connection": ["add", "list", "delete"],
    "sso_connection add": ["--org", "--name", "--protocol", "--domains", "saml", "oidc"],
    "sso_connection list": ["--org"],
    "sso_connection delete": ["--org", "--name"],
    "provisioning": ["--org", "--mode", "--connection", "scim", "jit"],
    "scim_token": ["issue", "list", "revoke"],
    "scim_token issue": ["--org", "--label", "--expires-days"],
    "scim_token list": ["--org"],
    "scim_token revoke": ["--org", "PREFIX_OR_ID"],
    "seed_demo": ["acme", "DEMO_ADMIN_PASSWORD", "Idempotent"],
}


@pytest.mark.parametrize("command", HELP_MENTIONS)
def test_help(command, capsys):
    with pytest.raises(SystemExit) as excinfo:
        call_command(*command.split(), "--help")

    help_text = capsys.readouterr().out
    assert excinfo.value.code == 0
    assert f"{command} [-h]" in " ".join(help_text.split())
    for word in HELP_MENTIONS[command]:
        assert word in help_text


# --- the real command line: exit codes and stderr -------------------------------------------


def manage(db_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "optiid.settings",
        "DATABASE_URL": "",
        "SQLITE_PATH": str(db_path),
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
    }
    env.pop("DEMO_ADMIN_PASSWORD", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def migrated_sqlite(tmp_path_factory) -> Path:
    """An empty, migrated SQLite database shared by the read-only subprocess tests."""
    path = tmp_path_factory.mktemp("cli") / "db.sqlite3"
    result = manage(path, "migrate", "--noinput", "-v", "0")
    assert result.returncode == 0, result.stderr
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["create_organization", "--name", "Bad", "--slug", "Bad Slug!"],
        ["sso_connection", "add", "--org", "no-such-org", "--name", "PingOne", "--protocol", "saml"],
        ["provisioning", "--org", "no-such-org", "--mode", "jit"],
        ["scim_token", "issue", "--org", "no-such-org"],
    ],
    ids=lambda argv: argv[0],
)
def test_command_line_error_is_one_line_and_exit_code_1(migrated_sqlite, argv):
    result = manage(migrated_sqlite, *argv)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("CommandError: ")
    slug = argv[argv.index("--slug") + 1] if "--slug" in argv else argv[argv.index("--org") + 1]
    assert slug.lower() in lines[0].lower()


def test_command_line_seed_demo_twice(migrated_sqlite, tmp_path):
    db = tmp_path / "db.sqlite3"
    shutil.copy(migrated_sqlite, db)

    first = manage(db, "seed_demo")
    second = manage(db, "seed_demo")

    assert (first.returncode, first.stderr) == (0, "")
    assert (second.returncode, second.stderr) == (0, "")
    assert "optiid_scim_" in first.stdout
    assert "optiid_scim_" not in second.stdout
    token = manage(db, "scim_token", "issue", "--org", "acme", "--label", "CLI")
    assert token.returncode == 0
    assert token.stdout.startswith("optiid_scim_")
    assert len(token.stdout.splitlines()) == 1


# --- values the database could not hold are refused with a one-line error -----------------------


def test_scim_token_issue_absurd_expiry_is_refused(scim_organization):
    assert "Expiry" in fails("scim_token", "issue", "--org", "acme", "--expires-days", "99999999")


@pytest.mark.parametrize(
    "argv",
    [
        ["create_organization", "--name", "Initech", "--slug", "a" * 65],
        ["create_organization", "--name", "N" * 201, "--slug", "initech"],
        ["sso_connection", "add", "--org", "acme", "--name", "N" * 101, "--protocol", "saml"],
    ],
    ids=["slug", "organization-name", "connection-name"],
)
def test_too_long_values_are_refused(organization, argv):
    fails(*argv)
