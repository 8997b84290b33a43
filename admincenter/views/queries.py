"""Read queries of the Admin Center pages.

Every function takes the organization as a required keyword, applies it inside the
query (never as a Python post-filter), and returns querysets that page in the database
(``Paginator`` turns them into ``COUNT`` + ``LIMIT/OFFSET``). Rows are loaded with
``select_related``/annotations so a page costs a constant number of queries whatever
its size. Reads shared with other callers (SCIM, commands) live in
``admincenter.selectors``; these are only used by the pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db.models import BooleanField, Case, Count, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import TruncHour
from django.utils import timezone

from admincenter.models import (
    AuditHourlyRollup,
    Group,
    GroupGrant,
    GroupKind,
    GroupMembership,
    Organization,
    OrgMembership,
    ProductInstance,
    ScimRequestLog,
    ScimToken,
    SystemGroupKey,
    User,
)
from admincenter.services.organizations import ADMIN_CENTER_PRODUCT

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


# --- Users ----------------------------------------------------------------------


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


# --- Groups ---------------------------------------------------------------------

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


# --- Products -------------------------------------------------------------------


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


# --- Access export --------------------------------------------------------------

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
    """Every active user's effective access (domain.md §2.11): one row per user, grant
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


# --- Settings -------------------------------------------------------------------


def token_list(*, organization: Organization) -> QuerySet[ScimToken]:
    return (
        ScimToken.objects.filter(organization=organization)
        .select_related("sso_connection")
        .order_by("revoked_at", "-created_at", "-id")
    )


def custom_groups_that_could_collide(*, organization: Organization) -> QuerySet[Group]:
    """Before switching to SCIM: every custom group name blocks an IdP group of the same
    name (domain.md §3.5); formerly-SCIM ones will collide when the IdP pushes them again
    (O12), so they come first."""
    return Group.objects.filter(organization=organization, kind=GroupKind.CUSTOM).order_by("scim_released_at", "name")


# --- Dashboard ------------------------------------------------------------------


def group_counts(*, organization: Organization) -> dict[str, int]:
    rows = Group.objects.filter(organization=organization).values("kind").annotate(n=Count("pk")).order_by()
    counts = {kind: 0 for kind in GroupKind.values}
    counts.update({r["kind"]: r["n"] for r in rows})
    return counts


def last_scim_request(*, organization: Organization) -> ScimRequestLog | None:
    return ScimRequestLog.objects.filter(organization=organization).order_by("-occurred_at", "-id").first()


def last_scim_error(*, organization: Organization) -> ScimRequestLog | None:
    return (
        ScimRequestLog.objects.filter(organization=organization, status_code__gte=400)
        .order_by("-occurred_at", "-id")
        .first()
    )


@dataclass(frozen=True)
class HourCount:
    hour: datetime
    requests: int
    errors: int


def hourly_scim_requests(*, organization: Organization, hours: int = 168, now: datetime | None = None):
    """SCIM requests per hour over the last ``hours`` hours, oldest first, one entry per
    hour (zeros included). Returns ``(counts, source)``.

    Two queries, whatever the traffic: the audit pipeline's ``AuditHourlyRollup`` for
    the period, plus ``ScimRequestLog`` rows the pipeline has not processed yet,
    aggregated by hour in the database. The pipeline marks a row processed in the same
    transaction that adds it to the roll-up, so nothing is counted twice; and when the
    pipeline has not run at all (or the roll-up is empty for the period) the chart is
    simply the request log's. Roll-ups outlive the raw rows, which are purged sooner."""
    now = now or timezone.now()
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    rollups = list(
        AuditHourlyRollup.objects.filter(
            organization=organization, hour__gte=start, hour__lt=end, requests__gt=0
        ).values_list("hour", "requests", "errors")
    )
    pending = list(
        ScimRequestLog.objects.filter(
            organization=organization, occurred_at__gte=start, occurred_at__lt=end, processed_at__isnull=True
        )
        .annotate(hour=TruncHour("occurred_at"))
        .values("hour")
        .annotate(requests=Count("pk"), errors=Count("pk", filter=Q(status_code__gte=400)))
        .order_by("hour")
        .values_list("hour", "requests", "errors")
    )
    source = "rollup" if rollups else "request_log"
    rollups += pending
    by_hour: dict[datetime, tuple[int, int]] = {}
    for hour, requests, errors in rollups:
        key = hour.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        old = by_hour.get(key, (0, 0))
        by_hour[key] = (old[0] + (requests or 0), old[1] + (errors or 0))
    counts = []
    for i in range(hours):
        hour = (start + timedelta(hours=i)).astimezone(UTC)
        requests, errors = by_hour.get(hour, (0, 0))
        counts.append(HourCount(hour=hour, requests=requests, errors=min(errors, requests)))
    return counts, source


def recent_audit_events(*, organization: Organization, limit: int = 8):
    from admincenter.models import AuditEvent

    return AuditEvent.objects.filter(organization=organization).order_by("-occurred_at", "-id")[:limit]
