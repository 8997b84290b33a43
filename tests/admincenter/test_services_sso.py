"""SSO connections and the provisioning-mode switch (docs/domain.md#sso-connection,
docs/domain.md#provisioning-mode, docs/domain.md#disabling-scim-releases-and-deletes-nothing)."""

import json

import pytest

from admincenter import services
from admincenter.encryption import decrypt
from admincenter.errors import Conflict, Forbidden, InvalidValue, NotFound, Unauthenticated
from admincenter.models import (
    PUBLIC_MAIL_DOMAINS,
    ActorType,
    AuditEvent,
    Group,
    GroupKind,
    GroupMembership,
    MembershipOwner,
    Organization,
    ScimToken,
    SsoConnection,
    SsoDomain,
    User,
    UserSource,
)
from admincenter.services.sso import certificate_fingerprint
from tests.conftest import OPERATOR
from tests.factories import GroupFactory, OrganizationFactory, UserFactory
from tests.sso.metadata_support import certificate_body, certificate_der, certificate_pem

pytestmark = pytest.mark.django_db


def the_event(organization, action, **filters):
    [event] = AuditEvent.objects.filter(organization=organization, action=action, **filters)
    return event


def connection_state(organization):
    return sorted(
        (c.name, c.protocol, c.scim_enabled, tuple(c.domain_names))
        for c in SsoConnection.objects.filter(organization=organization).prefetch_related("domains")
    )


def entra_create(organization, admin, **settings):
    """An OIDC connection named Entra, created by ``admin`` with ``settings``."""
    return services.sso_connection_create(
        organization=organization, name="Entra", protocol="oidc", actor=admin, **settings
    )


# --- sso_connection_create -----------------------------------------------------------


def test_sso_connection_create_normalises_domains_and_audits(organization, admin, admin_user):
    conn = services.sso_connection_create(
        organization=organization,
        name=" Entra ID ",
        protocol="OIDC",
        domains=[" Acme.EXAMPLE ", "@corp.acme.example", "acme.example", ""],
        oidc_issuer="https://login.example",
        oidc_client_secret="s3cr3t-value",
        actor=admin,
    )
    assert (conn.name, conn.protocol, conn.scim_enabled) == ("Entra ID", "oidc", False)
    assert conn.domain_names == ["acme.example", "corp.acme.example"]

    event = the_event(organization, "sso_connection.create", target_id=conn.pk)
    assert event.actor_type == ActorType.ADMIN_USER
    assert (event.actor_id, event.actor_label) == (str(admin_user.pk), "admin@acme.test")
    assert (event.target_type, event.target_id, event.target_label) == ("sso_connection", str(conn.pk), "Entra ID")
    assert event.after == {
        "name": "Entra ID",
        "protocol": "oidc",
        "domains": ["acme.example", "corp.acme.example"],
        "oidc_issuer": "https://login.example",
        "oidc_client_secret": "changed",
    }
    assert "s3cr3t-value" not in json.dumps([event.before, event.after])


def test_an_organization_has_at_most_five_connections(organization, admin):
    for n in range(2, 6):  # the fixture organization already has one
        services.sso_connection_create(organization=organization, name=f"IdP {n}", protocol="saml", actor=admin)
    events_before = AuditEvent.objects.count()

    with pytest.raises(Conflict, match="at most 5"):
        services.sso_connection_create(organization=organization, name="IdP 6", protocol="saml", actor=admin)

    assert organization.sso_connections.count() == 5
    assert AuditEvent.objects.count() == events_before


@pytest.mark.parametrize("domain", [*sorted(PUBLIC_MAIL_DOMAINS), "GMAIL.com", "@Yahoo.com"])
def test_public_mail_domains_are_refused(organization, admin, domain):
    before = connection_state(organization)
    events_before = AuditEvent.objects.count()
    with pytest.raises(InvalidValue, match="public mail domain") as exc:
        entra_create(organization, admin, domains=["ok.example", domain])
    assert exc.value.field == "domains"
    assert connection_state(organization) == before
    assert AuditEvent.objects.count() == events_before


@pytest.mark.parametrize("domain", ["not a domain", "nodot", "-bad.example", "a..example"])
def test_malformed_domains_are_refused(organization, admin, domain):
    with pytest.raises(InvalidValue):
        entra_create(organization, admin, domains=[domain])
    assert not SsoConnection.objects.filter(name="Entra").exists()


def test_another_organization_may_claim_a_domain_but_not_verify_it_here(organization, other_organization, admin):
    # A domain identifies an organization only once verified (admincenter.models.SsoDomain);
    # an unverified claim in two organizations is allowed, and neither is verified by it.
    conn = entra_create(organization, admin, domains=["Globex.test"])
    assert conn.domain_names == ["globex.test"]
    assert not SsoDomain.objects.filter(domain="globex.test", verified_at__isnull=False).exists()
    assert SsoDomain.objects.filter(domain="globex.test").count() == 2


def test_a_domain_is_unique_across_connections_of_one_organization(organization, admin):
    with pytest.raises(Conflict):
        entra_create(organization, admin, domains=["acme.test"])


def test_connection_names_are_unique_per_organization(organization, other_organization, admin):
    with pytest.raises(Conflict) as exc:
        services.sso_connection_create(organization=organization, name=" pingone ", protocol="oidc", actor=admin)
    assert exc.value.field == "name"
    # The same name in another organization is fine.
    services.sso_connection_create(organization=other_organization, name="PingOne", protocol="saml", actor=OPERATOR)


@pytest.mark.parametrize(("name", "protocol"), [("", "saml"), ("  ", "saml"), ("X", "ldap"), ("X", "")])
def test_sso_connection_create_validates_name_and_protocol(organization, admin, name, protocol):
    with pytest.raises(InvalidValue):
        services.sso_connection_create(organization=organization, name=name, protocol=protocol, actor=admin)


def test_connection_names_longer_than_the_column_are_refused(organization, sso_connection, admin):
    # PostgreSQL would raise DataError; SQLite would silently store the long value.
    with pytest.raises(InvalidValue, match="at most 100") as exc:
        services.sso_connection_create(organization=organization, name="N" * 101, protocol="saml", actor=admin)
    assert exc.value.field == "name"
    with pytest.raises(InvalidValue, match="at most 100"):
        services.sso_connection_update(
            organization=organization, connection=sso_connection, name="N" * 101, actor=admin
        )
    sso_connection.refresh_from_db()
    assert sso_connection.name == "PingOne"
    services.sso_connection_create(organization=organization, name="N" * 100, protocol="saml", actor=admin)


# --- sso_connection_update -----------------------------------------------------------


def test_sso_connection_update_audits_changed_fields_only(organization, sso_connection, admin):
    conn = services.sso_connection_update(
        organization=organization,
        connection=sso_connection,
        name="PingOne",  # unchanged
        protocol="saml",  # unchanged
        domains=["acme.test", "Acme.Example"],
        actor=admin,
    )
    assert conn.domain_names == ["acme.example", "acme.test"]
    event = the_event(organization, "sso_connection.update")
    assert event.before == {"domains": ["acme.test"]}
    assert event.after == {"domains": ["acme.example", "acme.test"]}

    services.sso_connection_update(organization=organization, connection=conn, name="Ping Identity", actor=admin)
    renamed = AuditEvent.objects.filter(action="sso_connection.update").first()
    assert (renamed.before, renamed.after) == ({"name": "PingOne"}, {"name": "Ping Identity"})
    assert renamed.target_label == "Ping Identity"


def test_sso_connection_update_without_changes_writes_no_event(organization, sso_connection, admin):
    services.sso_connection_update(
        organization=organization, connection=sso_connection, name="PingOne", domains=["ACME.test"], actor=admin
    )
    assert not AuditEvent.objects.filter(action="sso_connection.update").exists()


def test_sso_connection_update_never_audits_settings_values(organization, sso_connection, admin):
    """The client secret is stored encrypted and audited only as "changed"; other settings
    are audited by name with their (non-secret) values."""
    services.sso_connection_update(
        organization=organization,
        connection=sso_connection,
        protocol="oidc",
        oidc_client_id="abc",
        oidc_client_secret="s3cr3t-value",
        actor=admin,
    )
    sso_connection.refresh_from_db()
    assert decrypt(sso_connection.oidc_client_secret_encrypted) == "s3cr3t-value"
    assert "s3cr3t-value" not in sso_connection.oidc_client_secret_encrypted
    event = the_event(organization, "sso_connection.update")
    assert "s3cr3t-value" not in json.dumps([event.before, event.after])
    assert event.before == {"protocol": "saml", "oidc_client_id": "", "oidc_client_secret": ""}
    assert event.after == {"protocol": "oidc", "oidc_client_id": "abc", "oidc_client_secret": "changed"}


def test_sso_connection_update_refusal_changes_nothing(organization, other_organization, sso_connection, admin):
    entra_create(organization, admin, domains=["entra.test"])
    before = connection_state(organization)
    events_before = AuditEvent.objects.count()

    with pytest.raises(Conflict):
        services.sso_connection_update(organization=organization, connection=sso_connection, name="ENTRA", actor=admin)
    # The rename is valid but the domain belongs to another connection: all of it is refused.
    with pytest.raises(Conflict):
        services.sso_connection_update(
            organization=organization,
            connection=sso_connection,
            name="Renamed",
            domains=["acme.test", "entra.test"],
            actor=admin,
        )
    with pytest.raises(InvalidValue):
        services.sso_connection_update(
            organization=organization, connection=sso_connection, domains=["gmail.com"], actor=admin
        )

    assert connection_state(organization) == before
    assert AuditEvent.objects.count() == events_before


def test_sso_connection_update_of_another_organizations_connection_is_not_found(organization, other_organization):
    okta = other_organization.sso_connections.get()
    with pytest.raises(NotFound):
        services.sso_connection_update(organization=organization, connection=okta, name="Hijacked", actor=OPERATOR)
    okta.refresh_from_db()
    assert okta.name == "Okta"


# --- protocol settings ----------------------------------------------------------------


def test_a_saml_connection_with_entity_id_sso_url_and_certificate_is_ready(organization, admin):
    conn = services.sso_connection_create(
        organization=organization,
        name="Okta",
        protocol="saml",
        saml_idp_entity_id=" http://www.okta.com/exk1 ",
        saml_idp_sso_url="https://acme.okta.com/app/exk1/sso/saml",
        saml_idp_x509_cert=certificate_body(certificate_pem()),  # the base64 body, as metadata has it
        saml_nameid_format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
        saml_allow_idp_initiated=True,
        email_attribute="mail",
        actor=admin,
    )
    conn.refresh_from_db()
    assert conn.is_ready
    assert conn.saml_idp_entity_id == "http://www.okta.com/exk1"
    # Stored as PEM whichever form was given; the same certificate.
    assert conn.saml_idp_x509_cert.startswith("-----BEGIN CERTIFICATE-----")
    assert certificate_der(conn.saml_idp_x509_cert) == certificate_der(certificate_pem())
    event = the_event(organization, "sso_connection.create", target_id=conn.pk)
    assert event.after["saml_idp_x509_cert"] == certificate_fingerprint(conn.saml_idp_x509_cert)
    assert event.after["saml_idp_x509_cert"].startswith("SHA256:")
    assert event.after["saml_allow_idp_initiated"] is True
    assert event.after["email_attribute"] == "mail"


def test_a_connection_without_its_required_values_is_a_draft(organization, admin):
    saml = services.sso_connection_create(
        organization=organization,
        name="Half SAML",
        protocol="saml",
        saml_idp_entity_id="urn:idp",
        saml_idp_metadata_url="https://idp.example.test/metadata",
        actor=admin,
    )
    oidc = services.sso_connection_create(
        organization=organization,
        name="Half OIDC",
        protocol="oidc",
        oidc_issuer="https://login.example",
        oidc_client_id="client",
        actor=admin,
    )
    assert not saml.is_ready and not oidc.is_ready
    services.sso_connection_update(
        organization=organization, connection=oidc, oidc_client_secret="s3cr3t-value", actor=admin
    )
    oidc.refresh_from_db()
    assert oidc.is_ready


def test_an_empty_client_secret_on_update_keeps_the_stored_one(organization, admin):
    conn = entra_create(
        organization,
        admin,
        oidc_issuer="https://login.example",
        oidc_client_id="client",
        oidc_client_secret="first-secret",
    )
    stored = SsoConnection.objects.get(pk=conn.pk).oidc_client_secret_encrypted
    for keep in ("", None, "   "):
        services.sso_connection_update(
            organization=organization, connection=conn, oidc_client_secret=keep, oidc_client_id="client", actor=admin
        )
    assert SsoConnection.objects.get(pk=conn.pk).oidc_client_secret_encrypted == stored
    assert not AuditEvent.objects.filter(action="sso_connection.update").exists()

    services.sso_connection_update(
        organization=organization, connection=conn, oidc_client_secret="second-secret", actor=admin
    )
    conn.refresh_from_db()
    assert decrypt(conn.oidc_client_secret_encrypted) == "second-secret"
    event = the_event(organization, "sso_connection.update")
    assert (event.before, event.after) == ({"oidc_client_secret": "set"}, {"oidc_client_secret": "changed"})
    assert "secret" not in json.dumps([event.before, event.after]).replace("oidc_client_secret", "")


def test_update_audits_each_changed_setting_with_old_and_new_value(organization, admin):
    conn = entra_create(organization, admin, oidc_issuer="https://login.example")
    services.sso_connection_update(
        organization=organization,
        connection=conn,
        oidc_issuer="https://login.example",  # unchanged: not audited
        oidc_scopes="openid  email groups email",
        oidc_token_auth_method="client_secret_post",
        group_claims_enabled=True,
        groups_attribute="roles",
        actor=admin,
    )
    event = the_event(organization, "sso_connection.update")
    assert event.before == {
        "oidc_scopes": "openid email profile",
        "oidc_token_auth_method": "client_secret_basic",
        "groups_attribute": "",
        "group_claims_enabled": False,
    }
    assert event.after == {
        "oidc_scopes": "openid email groups",
        "oidc_token_auth_method": "client_secret_post",
        "groups_attribute": "roles",
        "group_claims_enabled": True,
    }


def test_changing_the_protocol_clears_the_old_protocols_settings(organization, admin):
    conn = entra_create(
        organization,
        admin,
        oidc_issuer="https://login.example",
        oidc_client_id="client",
        oidc_client_secret="s3cr3t-value",
    )
    services.sso_connection_update(
        organization=organization, connection=conn, protocol="saml", saml_idp_entity_id="urn:idp", actor=admin
    )
    conn.refresh_from_db()
    assert (conn.oidc_issuer, conn.oidc_client_id, conn.oidc_client_secret_encrypted) == ("", "", "")
    assert conn.saml_idp_entity_id == "urn:idp"
    event = the_event(organization, "sso_connection.update")
    assert event.after["oidc_client_secret"] == "cleared"
    assert "s3cr3t-value" not in json.dumps([event.before, event.after])


INVALID_SETTINGS = [
    ("saml", {"saml_idp_sso_url": "not a url"}, "saml_idp_sso_url", "http:// or https://"),
    ("saml", {"saml_idp_sso_url": "ftp://idp.example.test/sso"}, "saml_idp_sso_url", "http:// or https://"),
    ("saml", {"saml_idp_metadata_url": "javascript:alert(1)"}, "saml_idp_metadata_url", "http:// or https://"),
    ("saml", {"saml_idp_x509_cert": "not a certificate"}, "saml_idp_x509_cert", "not a valid X.509"),
    (
        "saml",
        {"saml_idp_x509_cert": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"},
        "saml_idp_x509_cert",
        "not a valid X.509",
    ),
    ("saml", {"saml_idp_x509_cert": "QUJD"}, "saml_idp_x509_cert", "not a valid X.509"),  # base64 of "ABC"
    ("saml", {"saml_idp_entity_id": "x" * 1025}, "saml_idp_entity_id", "at most 1024"),
    ("saml", {"saml_nameid_format": "email"}, "saml_nameid_format", "must be one of"),
    ("saml", {"saml_allow_idp_initiated": "yes"}, "saml_allow_idp_initiated", "true or false"),
    ("saml", {"oidc_issuer": "https://login.example"}, "oidc_issuer", "does not apply to SAML 2.0 connections"),
    ("oidc", {"saml_idp_entity_id": "urn:idp"}, "saml_idp_entity_id", "does not apply to OpenID Connect connections"),
    ("oidc", {"oidc_issuer": "login.example"}, "oidc_issuer", "http:// or https://"),
    ("oidc", {"oidc_client_id": "c" * 256}, "oidc_client_id", "at most 255"),
    ("oidc", {"oidc_client_secret": "s" * 2049}, "oidc_client_secret", "at most 2048"),
    ("oidc", {"oidc_scopes": "email profile"}, "oidc_scopes", "must include openid"),
    ("oidc", {"oidc_scopes": 'openid "quoted"'}, "oidc_scopes", "not a valid OAuth scope"),
    ("oidc", {"oidc_token_auth_method": "private_key_jwt"}, "oidc_token_auth_method", "must be one of"),
    ("oidc", {"email_attribute": "e" * 256}, "email_attribute", "at most 255"),
    ("oidc", {"group_claims_grant_admin": True}, "group_claims_grant_admin", "Turn group claims on"),
]


@pytest.mark.parametrize(("protocol", "values", "field", "message"), INVALID_SETTINGS)
def test_invalid_settings_are_refused_with_the_field_name(organization, admin, protocol, values, field, message):
    events_before = AuditEvent.objects.count()
    with pytest.raises(InvalidValue, match=message) as error:
        services.sso_connection_create(organization=organization, name="Bad", protocol=protocol, actor=admin, **values)
    assert error.value.field == field
    assert not SsoConnection.objects.filter(name="Bad").exists()

    conn = SsoConnection.objects.get(organization=organization, name="PingOne")
    stored = {f.attname: getattr(conn, f.attname) for f in SsoConnection._meta.concrete_fields}
    with pytest.raises(InvalidValue) as error:
        services.sso_connection_update(
            organization=organization, connection=conn, protocol=protocol, actor=admin, **values
        )
    assert error.value.field == field
    conn = SsoConnection.objects.get(pk=conn.pk)
    assert {f.attname: getattr(conn, f.attname) for f in SsoConnection._meta.concrete_fields} == stored
    assert AuditEvent.objects.count() == events_before


def test_group_claims_may_grant_admin_only_with_the_separate_opt_in(organization, admin):
    conn = entra_create(organization, admin, group_claims_enabled=True, group_claims_grant_admin=True)
    assert (conn.group_claims_enabled, conn.group_claims_grant_admin) == (True, True)
    with pytest.raises(InvalidValue) as error:
        services.sso_connection_update(
            organization=organization, connection=conn, group_claims_enabled=False, actor=admin
        )
    assert error.value.field == "group_claims_grant_admin"
    services.sso_connection_update(
        organization=organization,
        connection=conn,
        group_claims_enabled=False,
        group_claims_grant_admin=False,
        actor=admin,
    )
    conn.refresh_from_db()
    assert (conn.group_claims_enabled, conn.group_claims_grant_admin) == (False, False)


# --- sso_connection_delete -----------------------------------------------------------


def test_sso_connection_delete_removes_it_and_its_domains(organization, sso_connection, admin):
    pk = sso_connection.pk
    services.sso_connection_delete(organization=organization, connection=sso_connection, actor=admin)
    assert not SsoConnection.objects.filter(pk=pk).exists()
    assert not SsoDomain.objects.filter(domain="acme.test").exists()
    event = the_event(organization, "sso_connection.delete")
    assert (event.target_id, event.target_label, event.before) == (str(pk), "PingOne", {"name": "PingOne"})


def test_the_scim_connection_cannot_be_deleted_while_scim_is_on(scim_organization, sso_connection, admin):
    events_before = AuditEvent.objects.count()
    with pytest.raises(Forbidden, match="Disable SCIM"):
        services.sso_connection_delete(organization=scim_organization, connection=sso_connection, actor=admin)
    assert SsoConnection.objects.filter(pk=sso_connection.pk, scim_enabled=True).exists()
    assert AuditEvent.objects.count() == events_before

    services.scim_disable(organization=scim_organization, actor=admin)
    services.sso_connection_delete(organization=scim_organization, connection=sso_connection, actor=admin)
    assert not SsoConnection.objects.filter(pk=sso_connection.pk).exists()


def test_sso_connection_delete_of_another_organizations_connection_is_not_found(organization, other_organization):
    okta = other_organization.sso_connections.get()
    with pytest.raises(NotFound):
        services.sso_connection_delete(organization=organization, connection=okta, actor=OPERATOR)
    assert SsoConnection.objects.filter(pk=okta.pk).exists()


# --- scim_enable -------------------------------------------------------------------


def test_scim_enable_switches_the_organization_to_scim(organization, sso_connection, admin):
    services.scim_enable(organization=organization, connection=sso_connection, actor=admin)

    organization.refresh_from_db()
    sso_connection.refresh_from_db()
    assert organization.provisioning_mode == "scim"
    assert sso_connection.scim_enabled
    assert sso_connection.scim_enabled_at is not None
    assert sso_connection.scim_enabled_by == "admin_user:admin@acme.test"
    event = the_event(organization, "scim.enable")
    assert event.actor_type == ActorType.ADMIN_USER
    assert (event.target_type, event.target_id, event.target_label) == (
        "sso_connection",
        str(sso_connection.pk),
        "PingOne",
    )
    assert (event.before, event.after) == ({"provisioning_mode": "jit"}, {"provisioning_mode": "scim"})


def test_scim_enable_twice_or_on_a_second_connection_is_refused(scim_organization, sso_connection, admin):
    entra = SsoConnection.objects.create(organization=scim_organization, name="Entra", protocol="oidc")
    events_before = AuditEvent.objects.count()
    with pytest.raises(Conflict, match="already enabled"):
        services.scim_enable(organization=scim_organization, connection=sso_connection, actor=admin)
    with pytest.raises(Conflict, match="Disable SCIM first"):
        services.scim_enable(organization=scim_organization, connection=entra, actor=admin)
    entra.refresh_from_db()
    assert not entra.scim_enabled
    assert AuditEvent.objects.count() == events_before


def test_scim_enable_on_another_organizations_connection_is_not_found(organization, other_organization):
    okta = other_organization.sso_connections.get()
    with pytest.raises(NotFound):
        services.scim_enable(organization=organization, connection=okta, actor=OPERATOR)
    organization.refresh_from_db()
    assert organization.provisioning_mode == "jit"


# --- provisioning_mode_set -----------------------------------------------------------


def test_scim_mode_needs_an_sso_connection(db):
    org = OrganizationFactory()
    with pytest.raises(Forbidden, match="SSO connection") as exc:
        services.provisioning_mode_set(organization=org, mode="scim", actor=OPERATOR)
    assert exc.value.field == "connection"
    org.refresh_from_db()
    assert org.provisioning_mode == "jit"
    assert not AuditEvent.objects.filter(organization=org, action="scim.enable").exists()


def test_scim_mode_needs_the_connection_to_be_chosen(organization):
    with pytest.raises(InvalidValue) as exc:
        services.provisioning_mode_set(organization=organization, mode="scim", actor=OPERATOR)
    assert exc.value.field == "connection"


def test_provisioning_mode_set_switches_both_ways(organization, sso_connection):
    services.provisioning_mode_set(organization=organization, mode="scim", connection=sso_connection, actor=OPERATOR)
    organization.refresh_from_db()
    assert organization.provisioning_mode == "scim"
    the_event(organization, "scim.enable")

    released = services.provisioning_mode_set(organization=organization, mode="jit", actor=OPERATOR)
    organization.refresh_from_db()
    assert organization.provisioning_mode == "jit"
    assert released == {"tokens_revoked": 0, "users_released": 0, "groups_released": 0, "memberships_released": 0}
    the_event(organization, "scim.disable")


def test_provisioning_mode_set_refuses_unknown_modes_and_jit_twice(organization):
    with pytest.raises(InvalidValue) as exc:
        services.provisioning_mode_set(organization=organization, mode="ldap", actor=OPERATOR)
    assert exc.value.field == "mode"
    with pytest.raises(Conflict):
        services.provisioning_mode_set(organization=organization, mode="jit", actor=OPERATOR)
    assert not AuditEvent.objects.filter(action__startswith="scim.").exists()


# --- scim_disable ------------------------------------------------------------------


@pytest.fixture
def scim_state(scim_organization, sso_connection, scim_group, scim_managed_user, revoked_scim_token, cms_instance):
    """A SCIM organization with two live tokens, an active and a deactivated SCIM user,
    a SCIM group with a grant and a local user who stays untouched."""
    services.scim_token_issue(organization=scim_organization, label="a", actor=OPERATOR)
    services.scim_token_issue(organization=scim_organization, label="b", actor=OPERATOR)
    gone = UserFactory(
        organization=scim_organization,
        email="gone@acme.test",
        source=UserSource.SCIM,
        scim_connection=sso_connection,
        is_active=False,
    )
    GroupMembership.objects.create(group=scim_group, user=gone, managed_by=MembershipOwner.SCIM)
    services.group_grant_add(
        organization=scim_organization,
        group=scim_group,
        instance=cms_instance,
        roles=cms_instance.product.roles.all(),
        actor=OPERATOR,
    )
    custom = services.group_create(organization=scim_organization, name="Marketing", actor=OPERATOR)
    services.group_members_add(
        organization=scim_organization, group=custom, user_ids=[scim_managed_user.pk], actor=OPERATOR
    )
    local = UserFactory(organization=scim_organization, email="local@acme.test")
    return {"active": scim_managed_user, "gone": gone, "local": local, "group": scim_group, "custom": custom}


def test_scim_disable_impact_counts_what_would_be_released(scim_organization, scim_state, other_organization):
    assert services.scim_disable_impact(organization=scim_organization) == {"users": 2, "groups": 1, "tokens": 2}


def test_scim_disable_releases_everything_and_deletes_nothing(
    scim_organization, sso_connection, scim_state, other_organization, admin
):
    users_before = User.objects.count()
    groups_before = Group.objects.count()

    released = services.scim_disable(organization=scim_organization, actor=admin)

    assert released == {"tokens_revoked": 2, "users_released": 2, "groups_released": 1, "memberships_released": 2}
    scim_organization.refresh_from_db()
    sso_connection.refresh_from_db()
    assert scim_organization.provisioning_mode == "jit"
    assert (sso_connection.scim_enabled, sso_connection.scim_enabled_at, sso_connection.scim_enabled_by) == (
        False,
        None,
        "",
    )
    # Tokens: all revoked, by the actor.
    tokens = ScimToken.objects.filter(organization=scim_organization)
    assert tokens.count() == 3
    assert all(t.revoked_at is not None for t in tokens)
    assert tokens.filter(revoked_by="admin_user:admin@acme.test").count() == 2
    # Users: kept, released, deactivated ones stay deactivated, local ones untouched.
    assert User.objects.count() == users_before
    active, gone, local = (User.objects.get(pk=scim_state[k].pk) for k in ("active", "gone", "local"))
    for user in (active, gone):
        assert user.scim_connection is None
        assert user.scim_released_at is not None
        assert user.source == UserSource.SCIM
    assert active.is_active
    assert not gone.is_active
    assert gone.deactivated_at is not None
    assert local.scim_released_at is None
    # Groups: the SCIM group is now a custom group, keeps grants, its rows become admin rows.
    assert Group.objects.count() == groups_before
    group = Group.objects.get(pk=scim_state["group"].pk)
    assert (group.kind, group.scim_connection, group.name) == (GroupKind.CUSTOM, None, "Opti_SCIM_Engineering")
    assert group.scim_released_at is not None
    assert group.grants.count() == 2
    assert set(group.memberships.values_list("managed_by", flat=True)) == {MembershipOwner.ADMIN}
    assert group.memberships.count() == 2
    custom_row = GroupMembership.objects.get(group=scim_state["custom"], user=active)
    assert custom_row.managed_by == MembershipOwner.ADMIN
    # The other organization is untouched.
    other = Organization.objects.get(pk=other_organization.pk)
    assert other.provisioning_mode == "scim"
    assert User.objects.get(email="hank@globex.test").scim_connection is not None
    assert Group.objects.get(name="Globex Sales").kind == GroupKind.SCIM

    event = the_event(scim_organization, "scim.disable")
    assert event.actor_type == ActorType.ADMIN_USER
    assert (event.target_type, event.target_id) == ("organization", str(scim_organization.pk))
    assert event.before == {"provisioning_mode": "scim"}
    assert event.after == {"provisioning_mode": "jit", **released}
    assert services.scim_disable_impact(organization=scim_organization) == {"users": 0, "groups": 0, "tokens": 0}


def test_after_scim_disable_tokens_no_longer_authenticate(scim_organization, scim_token):
    services.scim_disable(organization=scim_organization, actor=OPERATOR)
    with pytest.raises(Unauthenticated):
        services.scim_token_authenticate(scim_token)


def test_released_users_and_groups_become_editable(scim_organization, scim_state, admin):
    services.scim_disable(organization=scim_organization, actor=admin)
    user = User.objects.get(pk=scim_state["active"].pk)
    services.user_update(organization=scim_organization, user=user, given_name="Edited", actor=admin)
    group = Group.objects.get(pk=scim_state["group"].pk)
    services.group_rename(organization=scim_organization, group=group, name="Engineering", actor=admin)
    services.group_members_remove(organization=scim_organization, group=group, user_ids=[user.pk], actor=admin)
    assert not group.memberships.filter(user=user).exists()


def test_scim_disable_outside_scim_mode_is_refused(organization):
    with pytest.raises(Conflict):
        services.scim_disable(organization=organization, actor=OPERATOR)
    assert not AuditEvent.objects.filter(action="scim.disable").exists()


def test_scim_can_be_enabled_again_after_disable(scim_organization, sso_connection):
    GroupFactory(organization=scim_organization, name="Pushed", kind=GroupKind.SCIM, scim_connection=sso_connection)
    services.scim_disable(organization=scim_organization, actor=OPERATOR)
    services.scim_enable(organization=scim_organization, connection=sso_connection, actor=OPERATOR)
    scim_organization.refresh_from_db()
    assert scim_organization.provisioning_mode == "scim"
    assert AuditEvent.objects.filter(organization=scim_organization, action="scim.enable").count() == 2
