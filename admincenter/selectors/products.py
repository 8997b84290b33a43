"""Reads of product instances: the products pages and the dashboard count.

Every function takes the organization (or an instance already read through
``instance_get``) as a required keyword. Instances are created by
``admincenter.services.organizations``.
"""

from __future__ import annotations

from django.db.models import Count, OuterRef, QuerySet

from admincenter.models import Group, GroupGrant, GroupKind, GroupMembership, Organization, ProductInstance


def instance_list(*, organization: Organization) -> QuerySet[ProductInstance]:
    grant_groups = (
        GroupGrant.objects.filter(product_instance=OuterRef("pk"))
        .exclude(group__kind=GroupKind.PRODUCT)
        .order_by()
        .values("product_instance")
        .annotate(n=Count("group", distinct=True))
        .values("n")
    )
    return (
        ProductInstance.objects.filter(organization=organization)
        .select_related("product")
        .prefetch_related("product__roles")
        .annotate(granting_groups=grant_groups)
        .order_by("product__name", "nickname")
    )


def instance_get(*, organization: Organization, instance_id) -> ProductInstance | None:
    try:
        return ProductInstance.objects.select_related("product").get(organization=organization, pk=instance_id)
    except (ProductInstance.DoesNotExist, ValueError):
        return None


def instance_roles(*, instance: ProductInstance):
    """The roles of the instance's product."""
    return instance.product.roles.all()


def instance_count(*, organization: Organization) -> int:
    return ProductInstance.objects.filter(organization=organization).count()


def instance_grants(*, instance: ProductInstance) -> QuerySet[GroupGrant]:
    """Every (group, role) on the instance with the group's member counts."""
    members = (
        GroupMembership.objects.filter(group=OuterRef("group"))
        .order_by()
        .values("group")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        GroupGrant.objects.filter(product_instance=instance)
        .select_related("group", "role")
        .annotate(member_count=members)
        .order_by("role__name", "group__kind", "group__name")
    )


def instance_product_groups(*, instance: ProductInstance) -> dict:
    """The instance's product groups by role id (one per role)."""
    return {
        g.role_id: g
        for g in Group.objects.filter(product_instance=instance, kind=GroupKind.PRODUCT).select_related("role")
    }


def instance_access_rows(*, instance: ProductInstance) -> QuerySet:
    """Who has each role on the instance and through which group (active users only,
    as effective access is empty while a user is inactive)."""
    return (
        GroupGrant.objects.filter(product_instance=instance, group__memberships__user__is_active=True)
        .values(
            "role__name",
            "group__id",
            "group__name",
            "group__kind",
            "group__memberships__user__id",
            "group__memberships__user__email",
        )
        .order_by("group__memberships__user__email", "role__name", "group__name")
    )
