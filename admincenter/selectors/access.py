"""Reads of who may do what: Admin Center administrators, a person's effective access,
and the access export.

The organization is a required keyword. Access is granted by group membership
(``admincenter.services.groups``); nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from admincenter.models import GroupGrant, GroupMembership, Organization, OrgMembership, SystemGroupKey, User


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
    (docs/domain.md#effective-access): empty while the user is inactive, and for a collaborator
    whose membership was removed. One query."""
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


EXPORT_HEADER = [
    "email",
    "given_name",
    "family_name",
    "product",
    "instance",
    "instance_id",
    "role",
    "group",
    "group_kind",
    "source",
]


def access_export_rows(*, organization: Organization, product: str = "", instance: str = ""):
    """Every active user's effective access (docs/domain.md#effective-access): one row per user, grant
    and the group it comes from. Read from the grant side so that the membership join
    used by the filter is the one the values come from (all conditions on the
    multi-valued relation sit in one ``filter()`` call). Collaborators count only while
    admitted. One query; stream it with ``iterator()``."""
    collaborators = OrgMembership.objects.filter(organization=organization).values("user_id")
    filters = {}
    if product:
        filters["product_instance__product__code"] = product
    if instance:
        filters["product_instance__instance_id"] = instance
    grants = GroupGrant.objects.filter(
        Q(group__memberships__user__home_organization=organization) | Q(group__memberships__user__in=collaborators),
        group__organization=organization,
        group__memberships__user__is_active=True,
        **filters,
    )
    return grants.values_list(
        "group__memberships__user__email",
        "group__memberships__user__given_name",
        "group__memberships__user__family_name",
        "product_instance__product__name",
        "product_instance__nickname",
        "product_instance__instance_id",
        "role__name",
        "group__name",
        "group__kind",
        "group__memberships__user__source",
        "group__memberships__user__scim_connection_id",
        "group__memberships__user__scim_released_at",
        "group__memberships__user__home_organization_id",
    ).order_by(
        "group__memberships__user__email",
        "product_instance__product__name",
        "product_instance__nickname",
        "role__name",
        "group__name",
    )


def source_label(*, organization_id, source: str, scim_connection_id, scim_released_at, home_organization_id) -> str:
    """The badge shown for a user in lists and the export."""
    if home_organization_id != organization_id:
        return "collaborator"
    if scim_connection_id is not None:
        return "scim"
    if scim_released_at is not None:
        return "formerly_scim"
    return source
