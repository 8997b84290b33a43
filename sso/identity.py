"""What a verified SAML assertion or OIDC ID token says about the person signing in.

The protocol modules (``sso.saml``, ``sso.oidc``) turn a *verified* response into an
``SsoIdentity``; everything after that (JIT, SCIM mode, group claims, the audit trail)
is protocol-neutral and lives in ``admincenter.services.signin``. A response that fails
a check never becomes an identity: it raises ``SsoValidationError`` with a short reason
code, which is audited as ``login.failure`` (the assertion itself never is).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from admincenter.models import SsoConnection, SsoProtocol

# Attribute (SAML) and claim (OIDC) names used when the connection leaves a mapping blank.
# SAML: a blank email attribute means the NameID (emailAddress format). The names below are
# what PingOne, Entra ID and Okta send by default, each also accepted under the others' names.
DEFAULT_ATTRIBUTES: dict[str, dict[str, tuple[str, ...]]] = {
    SsoProtocol.SAML: {
        "email": (
            "email",
            "mail",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        ),
        "given_name": (
            "given_name",
            "givenName",
            "firstName",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
        ),
        "family_name": (
            "family_name",
            "sn",
            "surname",
            "lastName",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
        ),
        "groups": ("groups", "memberOf", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"),
    },
    SsoProtocol.OIDC: {
        "email": ("email",),
        "given_name": ("given_name",),
        "family_name": ("family_name",),
        "groups": ("groups",),
    },
}


# Every reason a response can be refused for; ``SsoValidationError`` takes no other, so a
# typo in a protocol module fails loudly instead of reaching the audit log.
FAILURE_REASONS = frozenset(
    {
        "audience_mismatch",
        "connection_not_ready",
        "destination_mismatch",
        "email_unverified",
        "expired",
        "idp_error",
        "idp_unreachable",
        "in_response_to_mismatch",
        "invalid_response",
        "issuer_mismatch",
        "no_email",
        "nonce_mismatch",
        "not_yet_valid",
        "replayed",
        "signature_invalid",
        "state_mismatch",
        "subject_mismatch",
        "token_exchange_failed",
        "unsolicited_refused",
        "userinfo_failed",
    }
)


class SsoValidationError(Exception):
    """A response that must not sign anyone in. ``reason`` is a short code, audited as
    ``login.failure``; it is one of ``FAILURE_REASONS``, each explained in plain words by
    ``sso.outcome.FAILURE_EXPLANATIONS`` (a test keeps the two in step).
    ``detail`` goes to the application log only."""

    def __init__(self, reason: str, detail: str = ""):
        if reason not in FAILURE_REASONS:
            raise ValueError(f"Unknown sign-in failure reason {reason!r}: add it to sso.identity.FAILURE_REASONS.")
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class SsoIdentity:
    email: str
    given_name: str = ""
    family_name: str = ""
    groups: tuple[str, ...] = ()
    # SAML NameID or OIDC ``sub``: shown on the Test sign-in page.
    subject: str = ""
    # Everything the IdP sent, for the Test sign-in page only (never audited or stored).
    attributes: Mapping[str, object] = field(default_factory=dict)


def _first(values) -> str:
    if isinstance(values, list | tuple):
        values = values[0] if values else ""
    return str(values or "").strip()


def _all(values) -> tuple[str, ...]:
    if values is None:
        return ()
    if not isinstance(values, list | tuple):
        values = [values]
    return tuple(str(v).strip() for v in values if str(v or "").strip())


def attribute_names(connection: SsoConnection, key: str) -> tuple[str, ...]:
    """The names to look for ``key`` (email, given_name, family_name, groups) in order."""
    configured = getattr(connection, f"{key}_attribute", "").strip()
    if configured:
        return (configured,)
    return DEFAULT_ATTRIBUTES[connection.protocol][key]


def _lookup(attributes: Mapping[str, object], names: tuple[str, ...]):
    for name in names:
        if name in attributes and attributes[name] not in (None, "", [], ()):
            return attributes[name]
    return None


def identity_from_attributes(
    connection: SsoConnection,
    attributes: Mapping[str, object],
    *,
    subject: str = "",
    nameid_email: str = "",
) -> SsoIdentity:
    """Map verified attributes/claims to an identity with the connection's mapping.

    ``nameid_email`` is the SAML NameID when its format is emailAddress: used when the
    connection maps no email attribute, or the attribute is absent."""
    email = ""
    if connection.is_saml and not connection.email_attribute.strip():
        email = nameid_email or _first(_lookup(attributes, attribute_names(connection, "email")))
    else:
        email = _first(_lookup(attributes, attribute_names(connection, "email")))
    if not email or "@" not in email:
        raise SsoValidationError("no_email", "the response carries no email address")
    return SsoIdentity(
        email=email.strip(),
        given_name=_first(_lookup(attributes, attribute_names(connection, "given_name"))),
        family_name=_first(_lookup(attributes, attribute_names(connection, "family_name"))),
        groups=_all(_lookup(attributes, attribute_names(connection, "groups"))),
        subject=subject,
        attributes=dict(attributes),
    )
