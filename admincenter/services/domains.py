"""Email domains of SSO connections and their verification (owned by the domains work).

A domain is *claimed* by listing it on a connection; it identifies the organization only
once verified with a DNS TXT record. See ``admincenter.models.SsoDomain``.
"""

from __future__ import annotations

import secrets

from admincenter.errors import Conflict
from admincenter.models import SsoConnection, SsoDomain


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
