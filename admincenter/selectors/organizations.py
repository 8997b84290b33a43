"""Reads of organizations by the keys operators type (the management commands).

Organizations are created by ``admincenter.services.organizations``.
"""

from __future__ import annotations

from admincenter.errors import NotFound
from admincenter.models import Organization


def organization_by_slug(slug: str) -> Organization:
    try:
        return Organization.objects.get(slug=(slug or "").strip().lower())
    except Organization.DoesNotExist:
        raise NotFound(f"No organization with the slug '{slug}'.") from None
