"""Reads shared by several callers. The tenant is always a required keyword argument."""

from __future__ import annotations

from dataclasses import dataclass

from admincenter.errors import NotFound
from admincenter.models import (
    GroupGrant,
    GroupMembership,
    Organization,
    OrgMembership,
    SystemGroupKey,
    User,
)


def organization_by_slug(slug: str) -> Organization:
    try:
        return Organization.objects.get(slug=(slug or "").strip().lower())
    except Organization.DoesNotExist:
        raise NotFound(f"No organization with the slug '{slug}'.") from None


def is_admin_center_admin(*, organization: Organization, user: User) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return GroupMembership.objects.filter(
        group__organization=organization,
        group__system_key=SystemGroupKey.ADMIN_CENTER_ADMINS,
        user=user,
    ).exists()


@dataclass(frozen=True)
class AccessRow:
    product: str
    instance: str
    instance_id: str
    role: str
    group: str
    group_kind: str


def effective_access(*, organization: Organization, user: User) -> list[AccessRow]:
    """The union of the grants of every group of ``organization`` that ``user`` is in
    (domain.md §2.11): empty while the user is inactive, and for a collaborator whose
    membership was removed. One query."""
    if not user.is_active:
        return []
    if (
        user.home_organization_id != organization.pk
        and not OrgMembership.objects.filter(organization=organization, user=user).exists()
    ):
        return []
    grants = (
        GroupGrant.objects.filter(group__organization=organization, group__memberships__user=user)
        .select_related("product_instance__product", "role", "group")
        .order_by(
            "product_instance__product__name",
            "product_instance__nickname",
            "role__name",
            "group__name",
        )
    )
    return [
        AccessRow(
            product=g.product_instance.product.name,
            instance=g.product_instance.nickname,
            instance_id=g.product_instance.instance_id,
            role=g.role.name,
            group=g.group.name,
            group_kind=g.group.kind,
        )
        for g in grants
    ]
