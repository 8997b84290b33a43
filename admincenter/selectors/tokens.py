"""Reads of SCIM tokens for the settings pages and the dashboard.

The organization is a required keyword. Issuing, revoking and authenticating tokens
live in ``admincenter.services.tokens``.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from admincenter.models import Organization, ScimToken


def token_list(*, organization: Organization) -> QuerySet[ScimToken]:
    return (
        ScimToken.objects.filter(organization=organization)
        .select_related("sso_connection")
        .order_by("revoked_at", "-created_at", "-id")
    )


def token_get(*, organization: Organization, token_id) -> ScimToken | None:
    """One token of ``organization`` with its connection; ``None`` for any other id."""
    try:
        return ScimToken.objects.select_related("sso_connection").get(organization=organization, pk=token_id)
    except ScimToken.DoesNotExist:
        return None


def token_list_unrevoked(*, organization: Organization) -> QuerySet[ScimToken]:
    """``token_list`` without the revoked tokens (expired ones stay: the page warns of them)."""
    return token_list(organization=organization).filter(revoked_at__isnull=True)


def token_list_live(*, organization: Organization) -> QuerySet[ScimToken]:
    """Tokens an IdP can use right now: not revoked and not expired."""
    now = timezone.now()
    return ScimToken.objects.filter(organization=organization, revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def live_token_count(*, organization: Organization) -> int:
    return token_list_live(organization=organization).count()
