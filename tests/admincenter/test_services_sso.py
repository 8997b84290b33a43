"""SSO connections and the provisioning-mode switch (domain.md §2.2, §3.1, D6)."""

import json

import pytest

from admincenter import services
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
from admincenter.services import Actor
from tests.conftest import OPERATOR
from tests.factories import GroupFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(admin_user):
    return Actor.admin(admin_user)


def the_event(organization, action, **filters):
    [event] = AuditEvent.objects.filter(organization=organization, action=action, **filters)
    return event


def connection_state(organization):
    return sorted(
        (c.name, c.protocol, c.scim_enabled, tuple(c.domain_names))
        for c in SsoConnection.objects.filter(organization=organization).prefetch_related("domains")
    )


# --- sso_connection_create -----------------------------------------------------------


def test_sso_connection_create_normalises_domains_and_audits(organization, admin, admin_user):
    conn = services.sso_connection_create(
        organization=organization,
        name=" Entra ID ",
        protocol="OIDC",
        domains=[" Acme.EXAMPLE ", "@corp.acme.example", "acme.example", ""],
        settings={"issuer": "https://login.example", "client_secret": "s3cr3t-value"},
        actor=admin,
    )
    assert (conn.name, conn.protocol, conn.scim_enabled) == ("Entra ID", "oidc", False)
    assert conn.domain_names == ["acme.example", "corp.acme.example"]

    event = the_event(organization, "sso_connection.create", target_id=conn.pk)
    assert event.actor_type == ActorType.ADMIN_USER
    assert (event.actor_id, event.actor_label) == (str(admin_user.pk), "admin@acme.test")
    assert (event.target_type, event.target_id, event.target_label) == ("sso_connection", str(conn.pk), "Entra ID")
    assert event.after == {"name": "Entra ID", "protocol": "oidc", "domains": ["acme.example", "corp.acme.example"]}
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
        services.sso_connection_create(
            organization=organization, name="Entra", protocol="oidc", domains=["ok.example", domain], actor=admin
        )
    assert exc.value.field == "domains"
    assert connection_state(organization) == before
    assert AuditEvent.objects.count() == events_before


@pytest.mark.parametrize("domain", ["not a domain", "nodot", "-bad.example", "a..example"])
def test_malformed_domains_are_refused(organization, admin, domain):
    with pytest.raises(InvalidValue):
        services.sso_connection_create(
            organization=organization, name="Entra", protocol="oidc", domains=[domain], actor=admin
        )
    assert not SsoConnection.objects.filter(name="Entra").exists()


def test_a_domain_is_unique_across_organizations(organization, other_organization, admin):
    events_before = AuditEvent.objects.count()
    with pytest.raises(Conflict, match=r"globex\.test") as exc:
        services.sso_connection_create(
            organization=organization, name="Entra", protocol="oidc", domains=["Globex.test"], actor=admin
        )
    assert exc.value.field == "domains"
    assert not SsoConnection.objects.filter(organization=organization, name="Entra").exists()
    assert SsoDomain.objects.get(domain="globex.test").connection.organization == other_organization
    assert AuditEvent.objects.count() == events_before


def test_a_domain_is_unique_across_connections_of_one_organization(organization, admin):
    with pytest.raises(Conflict):
        services.sso_connection_create(
            organization=organization, name="Entra", protocol="oidc", domains=["acme.test"], actor=admin
        )


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
    services.sso_connection_update(
        organization=organization,
        connection=sso_connection,
        settings={"client_id": "abc", "client_secret": "s3cr3t-value"},
        actor=admin,
    )
    sso_connection.refresh_from_db()
    assert sso_connection.settings["client_secret"] == "s3cr3t-value"
    event = the_event(organization, "sso_connection.update")
    assert "s3cr3t-value" not in json.dumps([event.before, event.after])


def test_sso_connection_update_refusal_changes_nothing(organization, other_organization, sso_connection, admin):
    services.sso_connection_create(organization=organization, name="Entra", protocol="oidc", actor=admin)
    before = connection_state(organization)
    events_before = AuditEvent.objects.count()

    with pytest.raises(Conflict):
        services.sso_connection_update(organization=organization, connection=sso_connection, name="ENTRA", actor=admin)
    # The rename is valid but the domain belongs to another organization: all of it is refused.
    with pytest.raises(Conflict):
        services.sso_connection_update(
            organization=organization,
            connection=sso_connection,
            name="Renamed",
            domains=["acme.test", "globex.test"],
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
