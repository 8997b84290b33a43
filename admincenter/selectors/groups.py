"""Reads of groups: the groups list and detail pages, their members and grants, and the
dashboard counts.

Every function takes the organization (or a group already read through ``group_get``,
which carries it) as a required keyword. Writes to groups live in
``admincenter.services.groups``; the SCIM view of groups is ``admincenter.selectors.scim``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Q, QuerySet

from admincenter.catalogue import ADMIN_CENTER_PRODUCT
from admincenter.models import Group, GroupGrant, GroupKind, GroupMembership, Organization, ProductInstance

GROUP_KIND_TABS = [("", "All"), ("custom", "Custom"), ("scim", "SCIM"), ("system", "System")]


def group_list(*, organization: Organization, kind: str = "", q: str = "") -> QuerySet[Group]:
    """System, custom and SCIM groups (product groups are reached from Products), with
    member and grant counts computed by the database."""
    groups = Group.objects.filter(organization=organization).exclude(kind=GroupKind.PRODUCT)
    if kind in {GroupKind.CUSTOM, GroupKind.SCIM, GroupKind.SYSTEM}:
        groups = groups.filter(kind=kind)
    if q.strip():
        groups = groups.filter(name__icontains=q.strip())
    member_count = (
        GroupMembership.objects.filter(group=OuterRef("pk"))
        .order_by()
        .values("group")
        .annotate(n=Count("pk"))
        .values("n")
    )
    grant_count = (
        GroupGrant.objects.filter(group=OuterRef("pk")).order_by().values("group").annotate(n=Count("pk")).values("n")
    )
    # Subqueries rather than two joined Count()s, which would multiply each other.
    return (
        groups.annotate(member_count=member_count, grant_count=grant_count)
        .select_related("scim_connection")
        .order_by("kind", "name")
    )


def group_get(*, organization: Organization, group_id) -> Group | None:
    try:
        return (
            Group.objects.filter(organization=organization)
            .select_related("scim_connection", "product_instance__product", "role")
            .get(pk=group_id)
        )
    except (Group.DoesNotExist, ValueError, ValidationError):  # ValidationError: a malformed UUID
        return None


def group_members(*, group: Group, q: str = "") -> QuerySet[GroupMembership]:
    members = group.memberships.select_related("user")
    for word in q.split():
        members = members.filter(
            Q(user__email__icontains=word) | Q(user__given_name__icontains=word) | Q(user__family_name__icontains=word)
        )
    return members.order_by("user__email")


def group_grants(*, group: Group) -> QuerySet[GroupGrant]:
    return group.grants.select_related("product_instance__product", "role").order_by(
        "product_instance__product__name", "product_instance__nickname", "role__name"
    )


def group_member_count(*, group: Group) -> int:
    return group.memberships.count()


def group_grant_count(*, group: Group) -> int:
    return group.grants.count()


def group_grant_get(*, group: Group, grant_id) -> GroupGrant | None:
    """One grant of ``group`` with its instance, product and role; ``None`` if it has no such grant."""
    try:
        return GroupGrant.objects.select_related("product_instance__product", "role").get(pk=grant_id, group=group)
    except GroupGrant.DoesNotExist:
        return None


def grantable_instances(*, organization: Organization) -> QuerySet[ProductInstance]:
    """Instances a custom or SCIM group can be granted (not the Admin Center, whose only
    role is held through *Admin Center Administrators*)."""
    return (
        ProductInstance.objects.filter(organization=organization)
        .exclude(product__code=ADMIN_CENTER_PRODUCT)
        .select_related("product")
        .prefetch_related("product__roles")
        .order_by("product__name", "nickname")
    )


def custom_groups_that_could_collide(*, organization: Organization) -> QuerySet[Group]:
    """Before switching to SCIM: every custom group name blocks an IdP group of the same
    name (docs/domain.md#reserved-names-and-collisions); formerly-SCIM ones will collide when the IdP pushes them again
    (it re-creates them), so they come first."""
    return Group.objects.filter(organization=organization, kind=GroupKind.CUSTOM).order_by("scim_released_at", "name")


def group_counts(*, organization: Organization) -> dict[str, int]:
    rows = Group.objects.filter(organization=organization).values("kind").annotate(n=Count("pk")).order_by()
    counts = {kind: 0 for kind in GroupKind.values}
    counts.update({r["kind"]: r["n"] for r in rows})
    return counts
