"""SSO connections and the provisioning mode switch (docs/domain.md#sso-connection,
docs/domain.md#provisioning-mode, docs/domain.md#disabling-scim-releases-and-deletes-nothing)."""

from __future__ import annotations

import base64
import binascii
import re

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError
from django.utils import timezone

from admincenter.audit import actions
from admincenter.audit.record import Actor, audit_record
from admincenter.encryption import encrypt
from admincenter.errors import Conflict, Forbidden, InvalidValue, NotFound
from admincenter.models import (
    MAX_SSO_CONNECTIONS,
    PUBLIC_MAIL_DOMAINS,
    Group,
    GroupKind,
    GroupMembership,
    MembershipOwner,
    OidcTokenAuthMethod,
    Organization,
    ProvisioningMode,
    SamlNameIdFormat,
    ScimToken,
    SsoConnection,
    SsoProtocol,
    User,
)
from admincenter.selectors.sso import scim_connection_for
from admincenter.services.domains import sso_domains_set
from admincenter.transactions import atomic

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


def connection_audit_record(
    action: actions.AuditAction, *, organization: Organization, actor: Actor, connection: SsoConnection, **values
) -> None:
    """One audit event about ``connection``, under its id and name; ``values`` are
    ``audit_record``'s (``before``, ``after``, ``outcome``...)."""
    audit_record(
        organization=organization,
        actor=actor,
        action=action,
        target_type="sso_connection",
        target_id=connection.pk,
        target_label=connection.name,
        **values,
    )


def _set_domains(connection: SsoConnection, domains: list[str]) -> None:
    sso_domains_set(connection=connection, domains=domains)


# --- Protocol settings ------------------------------------------------------------------

SAML_SETTING_NAMES = (
    "saml_idp_entity_id",
    "saml_idp_sso_url",
    "saml_idp_x509_cert",
    "saml_idp_metadata_url",
    "saml_nameid_format",
    "saml_allow_idp_initiated",
)
OIDC_SETTING_NAMES = (
    "oidc_issuer",
    "oidc_client_id",
    "oidc_client_secret",  # plaintext in; stored as oidc_client_secret_encrypted
    "oidc_scopes",
    "oidc_token_auth_method",
)
MAPPING_SETTING_NAMES = (
    "email_attribute",
    "given_name_attribute",
    "family_name_attribute",
    "groups_attribute",
    "group_claims_enabled",
    "group_claims_grant_admin",
)
SETTING_NAMES = SAML_SETTING_NAMES + OIDC_SETTING_NAMES + MAPPING_SETTING_NAMES
_PROTOCOL_FIELDS = {SsoProtocol.SAML: SAML_SETTING_NAMES, SsoProtocol.OIDC: OIDC_SETTING_NAMES}
_BOOLEAN_FIELDS = frozenset({"saml_allow_idp_initiated", "group_claims_enabled", "group_claims_grant_admin"})
_URL_FIELDS = frozenset({"saml_idp_sso_url", "saml_idp_metadata_url", "oidc_issuer"})
_SECRET_MAX_LENGTH = 2048
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), separated by spaces.
_SCOPE_TOKEN_RE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
_validate_http_url = URLValidator(schemes=["http", "https"])
# What the audit trail records instead of the client secret.
SECRET_CHANGED = "changed"


def _max_length(field: str) -> int | None:
    return SsoConnection._meta.get_field(field).max_length


def _clean_text(field: str, value) -> str:
    text = str(value if value is not None else "").strip()
    limit = _max_length(field)
    if limit and len(text) > limit:
        raise InvalidValue(f"{_LABELS[field]} can be at most {limit} characters.", field=field)
    return text


def _clean_url(field: str, value) -> str:
    url = _clean_text(field, value)
    if url:
        try:
            _validate_http_url(url)
        except ValidationError:
            raise InvalidValue(f"{_LABELS[field]} must be an http:// or https:// URL.", field=field) from None
    return url


def normalize_certificate(value, *, field: str = "saml_idp_x509_cert") -> str:
    """A PEM certificate, or the base64 body of one (as metadata carries it), as PEM.

    ``cryptography`` parses it, so what is stored is a certificate python3-saml can use."""
    text = str(value or "").strip()
    if not text:
        return ""
    try:
        if "-----BEGIN" in text:
            certificate = x509.load_pem_x509_certificate(text.encode())
        else:
            certificate = x509.load_der_x509_certificate(base64.b64decode("".join(text.split()), validate=True))
    except (ValueError, binascii.Error):
        raise InvalidValue(
            "The IdP certificate is not a valid X.509 certificate (paste the PEM, with its BEGIN and END lines).",
            field=field,
        ) from None
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def certificate_fingerprint(pem: str) -> str:
    """SHA-256 fingerprint of a stored certificate, as IdPs display it (colon-separated hex)."""
    if not pem:
        return ""
    digest = x509.load_pem_x509_certificate(pem.encode()).fingerprint(hashes.SHA256())
    return "SHA256:" + ":".join(f"{byte:02X}" for byte in digest)


def _clean_scopes(value) -> str:
    scopes = []
    for scope in str(value or "").split():
        if not _SCOPE_TOKEN_RE.match(scope):
            raise InvalidValue(f"'{scope}' is not a valid OAuth scope.", field="oidc_scopes")
        if scope not in scopes:
            scopes.append(scope)
    if "openid" not in scopes:
        raise InvalidValue("The scopes must include openid.", field="oidc_scopes")
    return _clean_text("oidc_scopes", " ".join(scopes))


def _clean_choice(field: str, value, choices) -> str:
    value = str(value or "").strip()
    if value not in choices.values:
        raise InvalidValue(f"{_LABELS[field]} must be one of: {', '.join(choices.values)}.", field=field)
    return value


def _clean_setting(field: str, value):
    if field in _BOOLEAN_FIELDS:
        if not isinstance(value, bool):
            raise InvalidValue(f"{_LABELS[field]} must be true or false.", field=field)
        return value
    if field in _URL_FIELDS:
        return _clean_url(field, value)
    if field == "saml_idp_x509_cert":
        return normalize_certificate(value)
    if field == "saml_nameid_format":
        return _clean_choice(field, value, SamlNameIdFormat)
    if field == "oidc_token_auth_method":
        return _clean_choice(field, value, OidcTokenAuthMethod)
    if field == "oidc_scopes":
        return _clean_scopes(value)
    if field == "oidc_client_secret":
        secret = str(value or "").strip()
        if len(secret) > _SECRET_MAX_LENGTH:
            raise InvalidValue(f"The client secret can be at most {_SECRET_MAX_LENGTH} characters.", field=field)
        return secret
    return _clean_text(field, value)


_LABELS = {
    "saml_idp_entity_id": "The IdP entity ID",
    "saml_idp_sso_url": "The IdP single sign-on URL",
    "saml_idp_x509_cert": "The IdP certificate",
    "saml_idp_metadata_url": "The IdP metadata URL",
    "saml_nameid_format": "The NameID format",
    "saml_allow_idp_initiated": "Allow IdP-initiated sign-in",
    "oidc_issuer": "The issuer",
    "oidc_client_id": "The client ID",
    "oidc_client_secret": "The client secret",
    "oidc_scopes": "The scopes",
    "oidc_token_auth_method": "The token endpoint authentication method",
    "email_attribute": "The email attribute",
    "given_name_attribute": "The given name attribute",
    "family_name_attribute": "The family name attribute",
    "groups_attribute": "The groups attribute",
    "group_claims_enabled": "Group claims",
    "group_claims_grant_admin": "Group claims may grant Admin Center Administrators",
}


def _audit_value(field: str, connection: SsoConnection):
    """What the audit trail shows for a setting: never the secret, a fingerprint for a certificate."""
    if field == "oidc_client_secret":
        return "set" if connection.oidc_client_secret_encrypted else ""
    if field == "saml_idp_x509_cert":
        return certificate_fingerprint(connection.saml_idp_x509_cert)
    return getattr(connection, field)


def _default(field: str):
    if field == "oidc_client_secret":
        return ""
    return SsoConnection._meta.get_field(field).get_default()


def _apply_settings(connection: SsoConnection, given: dict, *, protocol_changed: bool) -> list[str]:
    """Validate ``given`` (setting name -> value; None means "not given") and set it on
    ``connection``. Returns the names of the settings whose stored value changed.

    A connection holds the settings of its own protocol only: giving the other protocol's
    settings is refused, and changing the protocol clears the old protocol's values. An
    empty client secret keeps the stored one (the secret is write-only)."""
    other_protocol = [f for p, fields in _PROTOCOL_FIELDS.items() if p != connection.protocol for f in fields]
    for field in other_protocol:
        if given.get(field) not in (None, "", False):
            protocol = SsoProtocol(connection.protocol).label
            raise InvalidValue(f"{_LABELS[field]} does not apply to {protocol} connections.", field=field)
    changed: list[str] = []
    if protocol_changed:
        for field in other_protocol:
            if field == "oidc_client_secret":
                if connection.oidc_client_secret_encrypted:
                    connection.oidc_client_secret_encrypted = ""
                    changed.append(field)
            elif getattr(connection, field) != _default(field):
                setattr(connection, field, _default(field))
                changed.append(field)
    for field in SETTING_NAMES:
        if field in other_protocol or given.get(field) is None:
            continue
        value = _clean_setting(field, given[field])
        if field == "oidc_client_secret":
            if value:  # always "changed": the stored value is never compared in plaintext
                connection.oidc_client_secret_encrypted = encrypt(value)
                changed.append(field)
        elif getattr(connection, field) != value:
            setattr(connection, field, value)
            changed.append(field)
    if connection.group_claims_grant_admin and not connection.group_claims_enabled:
        raise InvalidValue(
            "Turn group claims on before letting them grant Admin Center Administrators.",
            field="group_claims_grant_admin",
        )
    return changed


def _audit_settings(connection: SsoConnection, fields) -> dict:
    """The new values of ``fields`` for the audit trail; the secret only as changed or cleared."""
    values = {field: _audit_value(field, connection) for field in fields}
    if "oidc_client_secret" in values:
        values["oidc_client_secret"] = SECRET_CHANGED if connection.oidc_client_secret_encrypted else "cleared"
    return values


def _check_name_length(name: str) -> None:
    """PostgreSQL would raise DataError on a longer name, SQLite would store it."""
    limit = SsoConnection._meta.get_field("name").max_length
    if len(name) > limit:
        raise InvalidValue(f"The connection name can be at most {limit} characters.", field="name")


def _given_settings(settings: dict) -> dict:
    """Every protocol setting (``SETTING_NAMES``, in that order) with what the caller passed; one
    left out is None. A name that is no setting is refused as an unknown keyword argument is."""
    unknown = sorted(set(settings) - set(SETTING_NAMES))
    if unknown:
        raise TypeError(f"Unknown SSO connection setting(s): {', '.join(unknown)}")
    return {field: settings.get(field) for field in SETTING_NAMES}


def _validate_protocol(protocol: str) -> str:
    protocol = (protocol or "").strip().lower()
    if protocol not in SsoProtocol.values:
        raise InvalidValue(
            f"Protocol must be one of: {', '.join(SsoProtocol.values)}.",
            field="protocol",
        )
    return protocol


@atomic
def sso_connection_create(
    *,
    organization: Organization,
    name: str,
    protocol: str,
    domains=(),
    actor: Actor,
    **settings: str | bool | None,
) -> SsoConnection:
    """Add a connection. Protocol settings (``SETTING_NAMES``, as keywords) left out keep their defaults; a connection
    without its protocol's required values is a draft (``SsoConnection.is_ready``).
    ``saml_idp_metadata_url`` is only recorded: callers fetch it (``sso.metadata``) and pass
    the values it holds, so no network call happens inside this transaction."""
    given = _given_settings(settings)
    organization = _lock_organization(organization)
    name = (name or "").strip()
    if not name:
        raise InvalidValue("The connection needs a name.", field="name")
    _check_name_length(name)
    protocol = _validate_protocol(protocol)
    domains = normalize_domains(domains)
    connection = SsoConnection(organization=organization, name=name, protocol=protocol)
    changed = _apply_settings(connection, given, protocol_changed=False)
    if organization.sso_connections.count() >= MAX_SSO_CONNECTIONS:
        raise Conflict(
            f"An organization can have at most {MAX_SSO_CONNECTIONS} SSO connections.",
            field="name",
        )
    if organization.sso_connections.filter(name__iexact=name).exists():
        raise Conflict(f"An SSO connection named '{name}' already exists.", field="name")
    connection.save()
    _set_domains(connection, domains)
    connection_audit_record(
        actions.SSO_CONNECTION_CREATE,
        organization=organization,
        actor=actor,
        connection=connection,
        after={"name": name, "protocol": protocol, "domains": domains, **_audit_settings(connection, changed)},
    )
    return connection


@atomic
def sso_connection_update(
    *,
    organization: Organization,
    connection: SsoConnection,
    name: str | None = None,
    protocol: str | None = None,
    domains=None,
    actor: Actor,
    **settings: str | bool | None,
) -> SsoConnection:
    """Change what is given, protocol settings by their ``SETTING_NAMES`` keyword (None leaves a
    value as it is; "" clears a text setting, except the client secret, which "" or None keeps).
    The audit event names each changed field with its old and new value; the client secret only
    as "changed"."""
    given = _given_settings(settings)
    _lock_organization(organization)
    connection = _own_connection(organization, connection)
    before = {
        "name": connection.name,
        "protocol": connection.protocol,
        "domains": connection.domain_names,
    }
    settings_before = {field: _audit_value(field, connection) for field in SETTING_NAMES}
    if name is not None:
        name = name.strip()
        if not name:
            raise InvalidValue("The connection needs a name.", field="name")
        _check_name_length(name)
        if organization.sso_connections.filter(name__iexact=name).exclude(pk=connection.pk).exists():
            raise Conflict(f"An SSO connection named '{name}' already exists.", field="name")
        connection.name = name
    protocol_changed = False
    if protocol is not None:
        protocol = _validate_protocol(protocol)
        protocol_changed = protocol != connection.protocol
        connection.protocol = protocol
    changed_settings = _apply_settings(connection, given, protocol_changed=protocol_changed)
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
    changed_before.update({field: settings_before[field] for field in changed_settings})
    changed_after.update(_audit_settings(connection, changed_settings))
    if changed_after:
        connection_audit_record(
            actions.SSO_CONNECTION_UPDATE,
            organization=organization,
            actor=actor,
            connection=connection,
            before=changed_before,
            after=changed_after,
        )
    return connection


@atomic
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
        action=actions.SSO_CONNECTION_DELETE,
        target_type="sso_connection",
        target_id=pk,
        target_label=label,
        before={"name": label},
    )


@atomic
def scim_enable(*, organization: Organization, connection: SsoConnection, actor: Actor) -> Organization:
    """Switch the organization to SCIM mode on ``connection``: JIT and group-claim sync stop."""
    organization = _lock_organization(organization)
    connection = _own_connection(organization, connection)
    current = scim_connection_for(organization=organization)
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
        with atomic():
            connection.save(update_fields=["scim_enabled", "scim_enabled_at", "scim_enabled_by"])
    except IntegrityError:
        raise Conflict("Another connection of this organization already has SCIM enabled.") from None
    organization.provisioning_mode = ProvisioningMode.SCIM
    organization.save(update_fields=["provisioning_mode"])
    connection_audit_record(
        actions.SCIM_ENABLE,
        organization=organization,
        actor=actor,
        connection=connection,
        before={"provisioning_mode": ProvisioningMode.JIT},
        after={"provisioning_mode": ProvisioningMode.SCIM},
    )
    return organization


def scim_disable_impact(*, organization: Organization) -> dict[str, int]:
    """What disabling SCIM would release (shown before confirming,
    docs/domain.md#disabling-scim-releases-and-deletes-nothing)."""
    return {
        "users": User.objects.filter(home_organization=organization, scim_connection__isnull=False).count(),
        "groups": Group.objects.filter(organization=organization, kind=GroupKind.SCIM).count(),
        "tokens": ScimToken.objects.filter(organization=organization, revoked_at__isnull=True).count(),
    }


@atomic
def scim_disable(*, organization: Organization, actor: Actor) -> dict[str, int]:
    """Back to JIT: revoke tokens, release SCIM users and groups, delete nothing
    (docs/domain.md#disabling-scim-releases-and-deletes-nothing)."""
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
        action=actions.SCIM_DISABLE,
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
