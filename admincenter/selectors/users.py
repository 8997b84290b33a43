"""Reads of people: the users list and detail pages, pickers and the dashboard counts.

Every function takes the organization as a required keyword and applies it inside the
query (never as a Python post-filter). Querysets page in the database (``Paginator``
turns them into ``COUNT`` + ``LIMIT/OFFSET``) and load their rows with
``select_related``, so a page costs a constant number of queries whatever its size.
Writes to users live in ``admincenter.services.users``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import BooleanField, Case, Count, Q, QuerySet, Value, When

from admincenter.models import (
    Group,
    GroupKind,
    GroupMembership,
    Organization,
    OrgMembership,
    SsoDomain,
    SystemGroupKey,
    User,
)

# The user "source" filter / badge values shown in lists (a superset of User.source).
USER_SOURCE_FILTERS = [
    ("scim", "SCIM"),
    ("formerly_scim", "Formerly SCIM"),
    ("jit", "JIT"),
    ("manual", "Manual"),
    ("invited", "Invited"),
    ("collaborator", "Collaborator"),
]
USER_STATUS_FILTERS = [("active", "Active"), ("inactive", "Inactive")]


def organization_people(*, organization: Organization) -> QuerySet[User]:
    """Home users and collaborators of ``organization``, with ``is_collaborator``."""
    collaborators = OrgMembership.objects.filter(organization=organization).values("user_id")
    return (
        User.objects.filter(Q(home_organization=organization) | Q(pk__in=collaborators))
        .annotate(
            is_collaborator=Case(
                When(home_organization=organization, then=Value(False)),
                default=Value(True),
                output_field=BooleanField(),
            )
        )
        .select_related("scim_connection", "home_organization")
    )


def user_list(*, organization: Organization, q: str = "", source: str = "", status: str = "") -> QuerySet[User]:
    users = organization_people(organization=organization)
    for word in q.split():
        users = users.filter(Q(email__icontains=word) | Q(given_name__icontains=word) | Q(family_name__icontains=word))
    home = Q(home_organization=organization)
    match source:
        case "scim":
            users = users.filter(home, scim_connection__isnull=False)
        case "formerly_scim":
            users = users.filter(home, scim_connection__isnull=True, scim_released_at__isnull=False)
        case "jit" | "manual" | "invited":
            users = users.filter(home, source=source, scim_connection__isnull=True, scim_released_at__isnull=True)
        case "collaborator":
            users = users.exclude(home)
    if status == "active":
        users = users.filter(is_active=True)
    elif status == "inactive":
        users = users.filter(is_active=False)
    return users.order_by("email")


def user_get(*, organization: Organization, user_id) -> User | None:
    """A home user or a collaborator of ``organization``; ``None`` for anyone else."""
    try:
        return organization_people(organization=organization).get(pk=user_id)
    except (User.DoesNotExist, ValueError, ValidationError):
        return None


def user_by_email(*, organization: Organization, email: str) -> User | None:
    return organization_people(organization=organization).filter(email=(email or "").strip().lower()).first()


def user_memberships(*, organization: Organization, user: User) -> QuerySet[GroupMembership]:
    return (
        GroupMembership.objects.filter(user=user, group__organization=organization)
        .select_related("group__product_instance__product", "group__role")
        .order_by("group__kind", "group__name")
    )


def user_membership_count(*, organization: Organization, user: User) -> int:
    return user_memberships(organization=organization, user=user).count()


def groups_user_can_join(*, organization: Organization, user: User) -> dict[str, list[Group]]:
    """Groups an admin may add ``user`` to, by purpose (one query): custom groups and
    *Admin Center Administrators*, and product groups ("Add product access")."""
    groups = (
        Group.objects.filter(organization=organization)
        .filter(
            Q(kind=GroupKind.CUSTOM)
            | Q(kind=GroupKind.PRODUCT)
            | Q(kind=GroupKind.SYSTEM, system_key=SystemGroupKey.ADMIN_CENTER_ADMINS)
        )
        .exclude(memberships__user=user)
        .order_by("kind", "name")
    )
    result: dict[str, list[Group]] = {"groups": [], "product_groups": []}
    for group in groups:
        result["product_groups" if group.kind == GroupKind.PRODUCT else "groups"].append(group)
    return result


def user_picker(*, organization: Organization, q: str, limit: int = 20) -> list[dict[str, str]]:
    q = (q or "").strip()
    if not q:
        return []
    users = organization_people(organization=organization).filter(is_active=True)
    for word in q.split()[:4]:
        users = users.filter(Q(email__icontains=word) | Q(given_name__icontains=word) | Q(family_name__icontains=word))
    return [
        {"id": str(u["pk"]), "email": u["email"], "name": " ".join(p for p in (u["given_name"], u["family_name"]) if p)}
        for u in users.order_by("email").values("pk", "email", "given_name", "family_name")[:limit]
    ]


def user_ids_in_group(*, group: Group, user_ids: list[str]) -> set[str]:
    """Which of ``user_ids`` are already members of ``group`` (the group was read through
    ``group_get``, so it is the organization's), as strings."""
    return {str(pk) for pk in group.memberships.filter(user_id__in=user_ids).values_list("user_id", flat=True)}


def user_counts(*, organization: Organization) -> dict[str, int]:
    """Counts for the dashboard, in one query over home users plus one for collaborators."""
    counts = User.objects.filter(home_organization=organization).aggregate(
        total=Count("pk"),
        active=Count("pk", filter=Q(is_active=True)),
        inactive=Count("pk", filter=Q(is_active=False)),
        scim=Count("pk", filter=Q(scim_connection__isnull=False)),
        formerly_scim=Count("pk", filter=Q(scim_connection__isnull=True, scim_released_at__isnull=False)),
        jit=Count("pk", filter=Q(source="jit", scim_connection__isnull=True, scim_released_at__isnull=True)),
        manual=Count("pk", filter=Q(source="manual", scim_connection__isnull=True, scim_released_at__isnull=True)),
        invited=Count("pk", filter=Q(source="invited", scim_connection__isnull=True, scim_released_at__isnull=True)),
    )
    counts["collaborator"] = OrgMembership.objects.filter(organization=organization).count()
    return counts


def break_glass_users(*, organization: Organization) -> QuerySet[User]:
    """Home users allowed to sign in with a password while SSO is required."""
    return User.objects.filter(home_organization=organization, local_login_allowed=True).order_by("email")


def break_glass_admins(*, organization: Organization, excluding: User | None = None) -> list[User]:
    """Active administrators whose home is ``organization``, marked break-glass, who have
    a password: the people who can still sign in while SSO is required and the IdP is down
    (docs/sso.md#require-sso-and-break-glass)."""
    admins = User.objects.filter(
        home_organization=organization,
        is_active=True,
        local_login_allowed=True,
        group_memberships__group__organization=organization,
        group_memberships__group__system_key=SystemGroupKey.ADMIN_CENTER_ADMINS,
    ).distinct()
    if excluding is not None:
        admins = admins.exclude(pk=excluding.pk)
    return [u for u in admins if u.has_usable_password()]


def email_domain_is_scim_managed(*, organization: Organization, domain: str) -> bool:
    """Whether ``domain`` belongs to the organization's SCIM connection."""
    return SsoDomain.objects.filter(
        connection__organization=organization, connection__scim_enabled=True, domain=domain
    ).exists()
