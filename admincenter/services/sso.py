"""SSO connections and the provisioning mode switch (domain.md §2.2, §3.1, D6)."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.utils import timezone

from admincenter.encryption import encrypt
from admincenter.errors import Conflict, Forbidden, InvalidValue, NotFound
from admincenter.models import (
    MAX_SSO_CONNECTIONS,
    PUBLIC_MAIL_DOMAINS,
    Group,
    GroupKind,
    GroupMembership,
    MembershipOwner,
    Organization,
    ProvisioningMode,
    ScimToken,
    SsoConnection,
    SsoProtocol,
    User,
)
from admincenter.services.audit import Actor, audit_record
from admincenter.services.domains import sso_domains_set

_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def normalize_domains(domains) -> list[str]:
    """Lower-case, de-duplicate and validate email domains; public mail domains are refused."""
    result: list[str] = []
    for raw in domains or []:
        domain = (raw or "").strip().lower().lstrip("@")
        if not domain:
            continue
        if not _DOMAIN_RE.match(domain):
            raise InvalidValue(f"'{domain}' is not a valid domain name.", field="domains")
        if domain in PUBLIC_MAIL_DOMAINS:
            raise InvalidValue(
                f"'{domain}' is a public mail domain and cannot identify an organization.",
                field="domains",
            )
        if domain not in result:
            result.append(domain)
    return result


def _lock_organization(organization: Organization) -> Organization:
    """Serialise connection changes per organization (the 5-connection limit, the mode)."""
    return Organization.objects.select_for_update().get(pk=organization.pk)


def _own_connection(organization: Organization, connection: SsoConnection) -> SsoConnection:
    """The connection, locked, if it belongs to ``organization``; another tenant's is NotFound."""
    try:
        return SsoConnection.objects.select_for_update().get(pk=connection.pk, organization=organization)
    except SsoConnection.DoesNotExist:
        raise NotFound("No such SSO connection in this organization.", field="connection") from None


def _set_domains(connection: SsoConnection, domains: list[str]) -> None:
    sso_domains_set(connection=connection, domains=domains)


def _protocol_fields(settings: dict | None) -> dict:
    """Interim mapping of protocol settings to model fields (the SSO configuration work
    replaces it with validated, typed arguments)."""
    settings = dict(settings or {})
    secret = settings.pop("client_secret", "")
    fields = {k: v for k, v in settings.items() if k in _PROTOCOL_FIELDS}
    if secret:
        fields["oidc_client_secret_encrypted"] = encrypt(secret)
    return fields


_PROTOCOL_FIELDS = {
    "saml_idp_entity_id",
    "saml_idp_sso_url",
    "saml_idp_x509_cert",
    "oidc_issuer",
    "oidc_client_id",
}


def _check_name_length(name: str) -> None:
    """PostgreSQL would raise DataError on a longer name, SQLite would store it."""
    limit = SsoConnection._meta.get_field("name").max_length
    if len(name) > limit:
        raise InvalidValue(f"The connection name can be at most {limit} characters.", field="name")


def _validate_protocol(protocol: str) -> str:
    protocol = (protocol or "").strip().lower()
    if protocol not in SsoProtocol.values:
        raise InvalidValue(
            f"Protocol must be one of: {', '.join(SsoProtocol.values)}.",
            field="protocol",
        )
    return protocol


@transaction.atomic
def sso_connection_create(
    *,
    organization: Organization,
    name: str,
    protocol: str,
    domains=(),
    settings: dict | None = None,
    actor: Actor,
) -> SsoConnection:
    organization = _lock_organization(organization)
    name = (name or "").strip()
    if not name:
        raise InvalidValue("The connection needs a name.", field="name")
    _check_name_length(name)
    protocol = _validate_protocol(protocol)
    domains = normalize_domains(domains)
    if organization.sso_connections.count() >= MAX_SSO_CONNECTIONS:
        raise Conflict(
            f"An organization can have at most {MAX_SSO_CONNECTIONS} SSO connections.",
            field="name",
        )
    if organization.sso_connections.filter(name__iexact=name).exists():
        raise Conflict(f"An SSO connection named '{name}' already exists.", field="name")
    connection = SsoConnection.objects.create(
        organization=organization, name=name, protocol=protocol, **_protocol_fields(settings)
    )
    _set_domains(connection, domains)
    audit_record(
        organization=organization,
        actor=actor,
        action="sso_connection.create",
        target_type="sso_connection",
        target_id=connection.pk,
        target_label=name,
        after={"name": name, "protocol": protocol, "domains": domains},
    )
    return connection


@transaction.atomic
def sso_connection_update(
    *,
    organization: Organization,
    connection: SsoConnection,
    name: str | None = None,
    protocol: str | None = None,
    domains=None,
    settings: dict | None = None,
    actor: Actor,
) -> SsoConnection:
    _lock_organization(organization)
    connection = _own_connection(organization, connection)
    before = {
        "name": connection.name,
        "protocol": connection.protocol,
        "domains": connection.domain_names,
    }
    if name is not None:
        name = name.strip()
        if not name:
            raise InvalidValue("The connection needs a name.", field="name")
        _check_name_length(name)
        if organization.sso_connections.filter(name__iexact=name).exclude(pk=connection.pk).exists():
            raise Conflict(f"An SSO connection named '{name}' already exists.", field="name")
        connection.name = name
    if protocol is not None:
        connection.protocol = _validate_protocol(protocol)
    if settings is not None:
        for field, value in _protocol_fields(settings).items():
            setattr(connection, field, value)
    connection.save()
    if domains is not None:
        _set_domains(connection, normalize_domains(domains))
    after = {
        "name": connection.name,
        "protocol": connection.protocol,
        "domains": connection.domain_names,
    }
    changed_before = {k: v for k, v in before.items() if after[k] != v}
    changed_after = {k: after[k] for k in changed_before}
    if changed_after or settings is not None:
        audit_record(
            organization=organization,
            actor=actor,
            action="sso_connection.update",
            target_type="sso_connection",
            target_id=connection.pk,
            target_label=connection.name,
            before=changed_before,
            after=changed_after,
        )
    return connection


@transaction.atomic
def sso_connection_delete(*, organization: Organization, connection: SsoConnection, actor: Actor) -> None:
    organization = _lock_organization(organization)
    connection = _own_connection(organization, connection)
    if connection.scim_enabled:
        raise Forbidden(f"'{connection.name}' is the SCIM connection. Disable SCIM provisioning before deleting it.")
    label = connection.name
    pk = connection.pk
    connection.delete()
    audit_record(
        organization=organization,
        actor=actor,
        action="sso_connection.delete",
        target_type="sso_connection",
        target_id=pk,
        target_label=label,
        before={"name": label},
    )


@transaction.atomic
def scim_enable(*, organization: Organization, connection: SsoConnection, actor: Actor) -> Organization:
    """Switch the organization to SCIM mode on ``connection``: JIT and group-claim sync stop."""
    organization = _lock_organization(organization)
    connection = _own_connection(organization, connection)
    current = organization.sso_connections.filter(scim_enabled=True).first()
    if current is not None:
        if current.pk == connection.pk:
            raise Conflict(f"SCIM is already enabled on '{connection.name}'.")
        raise Conflict(
            f"SCIM is enabled on '{current.name}'. Disable SCIM first, then enable it on '{connection.name}'."
        )
    now = timezone.now()
    connection.scim_enabled = True
    connection.scim_enabled_at = now
    connection.scim_enabled_by = actor.display
    try:
        with transaction.atomic():
            connection.save(update_fields=["scim_enabled", "scim_enabled_at", "scim_enabled_by"])
    except IntegrityError:
        raise Conflict("Another connection of this organization already has SCIM enabled.") from None
    organization.provisioning_mode = ProvisioningMode.SCIM
    organization.save(update_fields=["provisioning_mode"])
    audit_record(
        organization=organization,
        actor=actor,
        action="scim.enable",
        target_type="sso_connection",
        target_id=connection.pk,
        target_label=connection.name,
        before={"provisioning_mode": ProvisioningMode.JIT},
        after={"provisioning_mode": ProvisioningMode.SCIM},
    )
    return organization


def scim_disable_impact(*, organization: Organization) -> dict[str, int]:
    """What disabling SCIM would release (shown before confirming, D6)."""
    return {
        "users": User.objects.filter(home_organization=organization, scim_connection__isnull=False).count(),
        "groups": Group.objects.filter(organization=organization, kind=GroupKind.SCIM).count(),
        "tokens": ScimToken.objects.filter(organization=organization, revoked_at__isnull=True).count(),
    }


@transaction.atomic
def scim_disable(*, organization: Organization, actor: Actor) -> dict[str, int]:
    """Back to JIT (D6): revoke tokens, release SCIM users and groups, delete nothing."""
    organization = _lock_organization(organization)
    if organization.provisioning_mode != ProvisioningMode.SCIM:
        raise Conflict("SCIM provisioning is not enabled for this organization.")
    now = timezone.now()
    tokens = ScimToken.objects.filter(organization=organization, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=actor.display
    )
    users = User.objects.filter(home_organization=organization, scim_connection__isnull=False).update(
        scim_connection=None, scim_released_at=now
    )
    scim_groups = Group.objects.filter(organization=organization, kind=GroupKind.SCIM)
    memberships = GroupMembership.objects.filter(group__in=scim_groups, managed_by=MembershipOwner.SCIM).update(
        managed_by=MembershipOwner.ADMIN
    )
    groups = scim_groups.update(
        kind=GroupKind.CUSTOM,
        scim_connection=None,
        scim_released_at=now,
        updated_at=now,
    )
    SsoConnection.objects.filter(organization=organization, scim_enabled=True).update(
        scim_enabled=False, scim_enabled_at=None, scim_enabled_by=""
    )
    organization.provisioning_mode = ProvisioningMode.JIT
    organization.save(update_fields=["provisioning_mode"])
    released = {
        "tokens_revoked": tokens,
        "users_released": users,
        "groups_released": groups,
        "memberships_released": memberships,
    }
    audit_record(
        organization=organization,
        actor=actor,
        action="scim.disable",
        target_type="organization",
        target_id=organization.pk,
        target_label=organization.slug,
        before={"provisioning_mode": ProvisioningMode.SCIM},
        after={"provisioning_mode": ProvisioningMode.JIT, **released},
    )
    return released


def provisioning_mode_set(
    *,
    organization: Organization,
    mode: str,
    actor: Actor,
    connection: SsoConnection | None = None,
):
    """One entry point for "choose JIT or SCIM" (operator command, Admin Center settings)."""
    if mode == ProvisioningMode.SCIM:
        if connection is None:
            if not organization.sso_connections.exists():
                raise Forbidden("SCIM needs an SSO connection: add one first.", field="connection")
            raise InvalidValue("Choose the SSO connection that carries SCIM.", field="connection")
        return scim_enable(organization=organization, connection=connection, actor=actor)
    if mode == ProvisioningMode.JIT:
        return scim_disable(organization=organization, actor=actor)
    raise InvalidValue(f"Unknown provisioning mode '{mode}': use jit or scim.", field="mode")
