"""Reads of SSO connections and their domains, for the settings pages, the dashboard and
the sign-in views.

Admin Center reads take the organization as a required keyword. Sign-in reads take the
connection's ``public_id`` instead: it is the tenant key of a sign-in link, read before
anyone is signed in. Writes live in ``admincenter.services.sso`` and
``admincenter.services.domains``.
"""

from __future__ import annotations

from django.db.models import QuerySet

from admincenter.models import Organization, SsoConnection, SsoDomain


def scim_connection_for(*, organization: Organization) -> SsoConnection | None:
    """The organization's SCIM connection (at most one has SCIM enabled), or ``None``."""
    return SsoConnection.objects.filter(organization=organization, scim_enabled=True).first()


def sso_connection_count(*, organization: Organization) -> int:
    return SsoConnection.objects.filter(organization=organization).count()


def sso_connections_exist(*, organization: Organization) -> bool:
    return SsoConnection.objects.filter(organization=organization).exists()


def sso_connection_list(*, organization: Organization, with_domains: bool = False) -> QuerySet[SsoConnection]:
    """The organization's connections by name; ``with_domains`` prefetches their domains."""
    connections = SsoConnection.objects.filter(organization=organization)
    if with_domains:
        connections = connections.prefetch_related("domains")
    return connections.order_by("name")


def sso_connection_get(*, organization: Organization, connection_id) -> SsoConnection | None:
    """One connection of ``organization``; ``None`` for any other id."""
    try:
        return SsoConnection.objects.get(organization=organization, pk=connection_id)
    except SsoConnection.DoesNotExist:
        return None


def sso_connection_by_public_id(
    *, public_id, protocol: str | None = None, with_organization: bool = True
) -> SsoConnection | None:
    """The connection a sign-in link names (optionally only of ``protocol``), or ``None``.
    ``with_organization`` joins the organization, which the sign-in pages read."""
    connections = SsoConnection.objects.filter(public_id=public_id)
    if protocol is not None:
        connections = connections.filter(protocol=protocol)
    if with_organization:
        connections = connections.select_related("organization")
    return connections.first()


def domain_list(*, organization: Organization) -> QuerySet[SsoDomain]:
    """The organization's claimed domains with their connection, by name."""
    return SsoDomain.objects.filter(organization=organization).select_related("connection").order_by("domain")


def domain_get(*, organization: Organization, domain_id) -> SsoDomain | None:
    return SsoDomain.objects.filter(organization=organization, pk=domain_id).first()
