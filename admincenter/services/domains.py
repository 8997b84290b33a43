"""Email domains of SSO connections and their verification (owned by the domains work).

A domain is *claimed* by listing it on a connection; it identifies the organization only
once verified with a DNS TXT record. See ``admincenter.models.SsoDomain``.
"""

from __future__ import annotations

import ipaddress
import secrets

import dns.exception
import dns.name
import dns.nameserver
import dns.resolver
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError
from django.db.models import QuerySet
from django.utils import timezone

from admincenter.audit import actions
from admincenter.audit.record import Actor, audit_record
from admincenter.errors import Conflict, InvalidValue, NotFound
from admincenter.models import Organization, Outcome, SsoConnection, SsoDomain
from admincenter.transactions import atomic


def new_verification_token() -> str:
    return secrets.token_urlsafe(24)


def sso_domains_set(*, connection: SsoConnection, domains: list[str]) -> None:
    """Make ``domains`` (already normalised) the connection's domains, inside the caller's
    transaction. Within an organization a domain belongs to one connection; another
    organization may claim it too, but only one organization can ever verify it."""
    organization_id = connection.organization_id
    taken = sorted(
        SsoDomain.objects.filter(organization_id=organization_id, domain__in=domains)
        .exclude(connection=connection)
        .values_list("domain", flat=True)
    )
    if taken:
        raise Conflict(f"Domain already used by another SSO connection: {', '.join(taken)}.", field="domains")
    SsoDomain.objects.filter(connection=connection).exclude(domain__in=domains).delete()
    existing = set(SsoDomain.objects.filter(connection=connection).values_list("domain", flat=True))
    SsoDomain.objects.bulk_create(
        [
            SsoDomain(
                connection=connection,
                organization_id=organization_id,
                domain=d,
                verification_token=new_verification_token(),
            )
            for d in domains
            if d not in existing
        ]
    )


def email_domain(email: str) -> str:
    return (email or "").rsplit("@", 1)[-1].strip().lower()


def verified_domain_for(email: str) -> SsoDomain | None:
    """The verified domain row that owns ``email``'s domain anywhere, with its connection
    and organization, or None. Home realm discovery and JIT rely on this only."""
    return (
        SsoDomain.objects.select_related("connection", "organization")
        .filter(domain=email_domain(email), verified_at__isnull=False)
        .first()
    )


# --- Verification with a DNS TXT record -----------------------------------------

# The TXT record an organization publishes on the domain itself to prove control of it.
VERIFICATION_RECORD_PREFIX = "optiid-domain-verification="


def verification_record(domain: SsoDomain) -> str:
    """The value of the TXT record that verifies ``domain``, to publish at ``domain.domain``."""
    return f"{VERIFICATION_RECORD_PREFIX}{domain.verification_token}"


class DnsCheckFailed(Exception):
    """The TXT record was not found; ``reason`` is short, for the audit trail and the message."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _nameserver(entry: str) -> dns.nameserver.Do53Nameserver:
    """``ip`` or ``ip:port`` (``[ipv6]:port`` for IPv6 with a port) from SSO_DNS_NAMESERVERS."""
    entry = entry.strip()
    host, port = entry, "53"
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif entry.count(":") == 1:
        host, port = entry.split(":")
    try:
        ipaddress.ip_address(host)
        port_number = int(port)
        if not 0 < port_number < 65536:
            raise ValueError(port)
    except ValueError:
        raise ImproperlyConfigured(
            f"SSO_DNS_NAMESERVERS entry {entry!r} must be an IP address, optionally with a port (ip:port)."
        ) from None
    return dns.nameserver.Do53Nameserver(host, port_number)


def dns_resolver() -> dns.resolver.Resolver:
    """The resolver of domain verification: the servers of SSO_DNS_NAMESERVERS, or the
    system's when it is empty, giving up after SSO_DNS_TIMEOUT_SECONDS in all."""
    nameservers = [_nameserver(entry) for entry in settings.SSO_DNS_NAMESERVERS if entry.strip()]
    resolver = dns.resolver.Resolver(configure=not nameservers)
    if nameservers:
        resolver.nameservers = nameservers
    resolver.lifetime = float(settings.SSO_DNS_TIMEOUT_SECONDS)
    # Per server, so that a server that is down leaves time to ask the next one.
    resolver.timeout = max(0.5, resolver.lifetime / max(1, len(resolver.nameservers)))
    resolver.cache = None  # a record just published must be seen at the next click
    return resolver


def txt_values(name: str) -> list[str]:
    """The TXT strings published at ``name``, each record's character-strings joined (long
    values are split into 255-byte strings, RFC 1035 §3.3.14). Raises DnsCheckFailed."""
    try:
        answer = dns_resolver().resolve(dns.name.from_text(name), "TXT", search=False)
    except dns.resolver.NXDOMAIN:
        raise DnsCheckFailed(f"the domain {name} does not exist in DNS") from None
    except dns.resolver.NoAnswer:
        raise DnsCheckFailed(f"{name} has no TXT record") from None
    except dns.exception.Timeout:
        raise DnsCheckFailed("the DNS servers did not answer in time") from None
    except dns.resolver.NoNameservers:
        raise DnsCheckFailed(f"the DNS servers could not answer for {name}") from None
    except dns.exception.DNSException as exc:
        raise DnsCheckFailed(f"the DNS lookup failed ({exc.__class__.__name__})") from None
    return [b"".join(record.strings).decode("utf-8", errors="replace").strip() for record in answer]


def check_verification_record(domain: SsoDomain) -> None:
    """Raise DnsCheckFailed unless ``domain`` publishes its verification TXT record."""
    values = txt_values(domain.domain)
    if verification_record(domain) not in values:
        raise DnsCheckFailed(f"none of the TXT records at {domain.domain} is the expected one")


def _claimed_domain(organization: Organization, domain: str) -> SsoDomain:
    name = (domain or "").strip().lower().rstrip(".")
    claimed = SsoDomain.objects.select_related("connection").filter(organization=organization, domain=name).first()
    if claimed is None:
        raise NotFound(f"{name or 'That'} is not a domain of this organization's SSO connections.", field="domain")
    return claimed


def _ensure_not_verified_elsewhere(organization: Organization, domain: SsoDomain) -> None:
    if verified_elsewhere(organization=organization, domain=domain.domain).exists():
        raise _verified_elsewhere(domain)


def _verified_elsewhere(domain: SsoDomain) -> Conflict:
    # Says nothing of which organization: the refusal must not reveal it.
    return Conflict(
        f"{domain.domain} is already verified by another organization. "
        "If it belongs to you, contact support to move it.",
        field="domain",
    )


def _record_failure(organization: Organization, domain: SsoDomain, actor: Actor, reason: str, outcome: str) -> None:
    """Committed on its own: the refusal that follows must not roll the event back."""
    with atomic():
        audit_record(
            organization=organization,
            actor=actor,
            action=actions.DOMAIN_VERIFY_FAILED,
            target_type="domain",
            target_id=domain.pk,
            target_label=domain.domain,
            after={"reason": reason},
            outcome=outcome,
        )


@atomic
def _mark_verified(organization: Organization, domain: SsoDomain, actor: Actor, method: str) -> SsoDomain:
    locked = SsoDomain.objects.select_for_update().filter(pk=domain.pk, organization=organization).first()
    if locked is None:  # the connection or the domain was removed meanwhile
        raise NotFound(f"{domain.domain} is not a domain of this organization's SSO connections.", field="domain")
    if locked.is_verified:
        return locked
    locked.verified_at = timezone.now()
    locked.verified_by = actor.display
    try:
        with atomic():
            locked.save(update_fields=["verified_at", "verified_by"])
    except IntegrityError:
        # sso_domain_verified_once: another organization verified it since the check.
        raise _verified_elsewhere(locked) from None
    audit_record(
        organization=organization,
        actor=actor,
        action=actions.DOMAIN_VERIFY,
        target_type="domain",
        target_id=locked.pk,
        target_label=locked.domain,
        after={"method": method, "connection": domain.connection.name},
    )
    locked.connection = domain.connection
    return locked


def domain_verify(*, organization: Organization, domain: str, actor: Actor) -> SsoDomain:
    """Verify a domain the organization claims by looking up its TXT record
    (``verification_record``). Already verified here: nothing to do. Verified by another
    organization: Conflict, naming none. Record missing, wrong, or DNS not answering:
    InvalidValue saying which record to add. Every refusal is audited as
    ``domain.verify_failed`` and that event is committed although the call fails.

    No transaction is held during the lookup (it may take SSO_DNS_TIMEOUT_SECONDS)."""
    claimed = _claimed_domain(organization, domain)
    if claimed.is_verified:
        return claimed
    try:
        _ensure_not_verified_elsewhere(organization, claimed)
        check_verification_record(claimed)
        return _mark_verified(organization, claimed, actor, method="dns")
    except DnsCheckFailed as failure:
        _record_failure(organization, claimed, actor, failure.reason, Outcome.FAILED)
        raise InvalidValue(
            f"Could not verify {claimed.domain}: {failure.reason}. Add a TXT record at {claimed.domain} "
            f'with the value "{verification_record(claimed)}", then verify again '
            "(new DNS records can take a few minutes to appear).",
            field="domain",
        ) from None
    except Conflict:
        _record_failure(organization, claimed, actor, "already verified by another organization", Outcome.DENIED)
        raise


def domain_verify_without_dns(*, organization: Organization, domain: str, actor: Actor) -> SsoDomain:
    """An operator vouches for the domain (``manage.py domain verify --force``): verified
    without the DNS lookup, audited with ``method: operator``. The one-organization rule
    still holds."""
    claimed = _claimed_domain(organization, domain)
    if claimed.is_verified:
        return claimed
    try:
        _ensure_not_verified_elsewhere(organization, claimed)
        return _mark_verified(organization, claimed, actor, method="operator")
    except Conflict:
        _record_failure(organization, claimed, actor, "already verified by another organization", Outcome.DENIED)
        raise


# --- Users in verified domains ----------------------------------------------------


def verified_elsewhere(*, organization: Organization, domain: str) -> QuerySet[SsoDomain]:
    """The verified row of ``domain`` if an organization other than ``organization`` holds
    it (read through the partial unique index sso_domain_verified_once)."""
    return SsoDomain.objects.filter(domain=domain, verified_at__isnull=False).exclude(organization=organization)


def verified_by_another_organization(*, organization: Organization, email: str) -> bool:
    """Whether ``email``'s domain is verified by an organization other than ``organization``:
    then only that organization may have home users there."""
    return verified_elsewhere(organization=organization, domain=email_domain(email)).exists()
