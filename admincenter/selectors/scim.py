"""The SCIM edge's reads: what SCIM may see of an organization, one resource by id, a
filtered page of a list, and the group memberships a page shows.

Tenant rules: SCIM sees only home users and SCIM groups of the token's organization.
``scim_users`` and ``scim_groups`` take the organization positionally because they are
the ``scoped`` callables the precompiled look-ups are keyed on (``hotsql.QueryTemplate``
compiles them once per shape). Parsing the request (``startIndex``, ``count``, the
filter) stays in ``scim/views.py``; writes live in ``admincenter.services.scim``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import lru_cache

from django.db.models import F, Q, QuerySet, Value

from admincenter.errors import InvalidValue, NotFound
from admincenter.hotsql import EqualsNotIndexed, QueryTemplate
from admincenter.models import Group, GroupKind, GroupMembership, Organization, User

# --- What SCIM may see --------------------------------------------------------------


def _tenant(column: str, organization, *, by_primary_key: bool) -> Q:
    if not by_primary_key:
        return Q(**{column: organization})
    # The caller filters by primary key too: only that index may serve the query.
    return Q(EqualsNotIndexed(F(f"{column}_id"), Value(getattr(organization, "pk", organization))))


def scim_users(organization: Organization, *, by_primary_key: bool = False) -> QuerySet[User]:
    """Users SCIM may see: home users of the organization (never collaborators).
    ``by_primary_key``: the caller adds ``pk=`` (see ``hotsql.EqualsNotIndexed``)."""
    return User.objects.filter(_tenant("home_organization", organization, by_primary_key=by_primary_key))


def scim_groups(organization: Organization, *, by_primary_key: bool = False) -> QuerySet[Group]:
    """Groups SCIM may see: only SCIM groups (docs/domain.md#scim-sees-only-scim-groups).
    ``by_primary_key`` as for users."""
    return Group.objects.filter(
        _tenant("organization", organization, by_primary_key=by_primary_key), kind=GroupKind.SCIM
    )


def _by_id(scoped, *, for_update: bool) -> QueryTemplate:
    """``scoped(organization).get(pk=...)``, optionally ``FOR UPDATE``, compiled once:
    every SCIM GET, PUT, PATCH and DELETE by id starts with it."""

    def build(organization_id, pk):
        queryset = scoped(organization_id, by_primary_key=True).filter(pk=pk).order_by()
        return queryset.select_for_update() if for_update else queryset

    return QueryTemplate(scoped(None).model, build, kinds=("int", "uuid"))


_BY_ID = {
    (scoped, for_update): _by_id(scoped, for_update=for_update)
    for scoped in (scim_users, scim_groups)
    for for_update in (False, True)
}


def scim_resource_id(pk, *, what: str) -> uuid.UUID:
    """The id as a UUID; anything else names no resource (404)."""
    try:
        return uuid.UUID(str(pk))
    except ValueError:
        raise NotFound(f"{what} {pk} not found.") from None


def _get(scoped, organization: Organization, pk, *, what: str, for_update: bool = False):
    found = _BY_ID[scoped, for_update].run(organization.pk, scim_resource_id(pk, what=what))
    if not found:
        raise NotFound(f"{what} {pk} not found.")
    return found[0]


def scim_user_get(*, organization: Organization, user_id, for_update: bool = False) -> User:
    return _get(scim_users, organization, user_id, what="User", for_update=for_update)


def scim_group_get(*, organization: Organization, group_id, for_update: bool = False) -> Group:
    return _get(scim_groups, organization, group_id, what="Group", for_update=for_update)


def scim_member_users(*, organization: Organization, member_ids: Iterable) -> dict[str, User]:
    """Resolve member ids to home users of the organization, in one query
    (docs/domain.md#no-nested-groups, docs/domain.md#members-are-home-users).

    Any id that is not such a user fails the whole request with the bad ids listed;
    an id that names a group is refused as nesting."""
    ids = {str(m) for m in member_ids}
    if not ids:
        return {}
    parsed = {}
    for raw in ids:
        try:
            parsed[raw] = uuid.UUID(raw)
        except ValueError:
            parsed[raw] = None
    valid = [u for u in parsed.values() if u is not None]
    users = {str(u.pk): u for u in scim_users(organization).filter(pk__in=valid).only("id", "email")}
    missing = sorted(raw for raw, key in parsed.items() if key is None or str(key) not in users)
    if missing:
        missing_uuids = [parsed[m] for m in missing if parsed[m] is not None]
        group_ids = {
            str(pk)
            for pk in Group.objects.filter(organization=organization, pk__in=missing_uuids).values_list("pk", flat=True)
        }
        nested = [m for m in missing if str(parsed[m]) in group_ids]
        if nested:
            unknown = [m for m in missing if m not in nested]
            raise InvalidValue(
                "Groups cannot be members of groups (nested groups are not supported): "
                + ", ".join(nested[:20])
                + (f"; unknown ids: {', '.join(unknown[:20])}" if unknown else "")
            )
        raise InvalidValue(
            "Members must be users of this organization (not collaborators or users of other organizations); "
            "unknown ids: " + ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
        )
    # Keys are canonical UUID strings so callers can compare with stored ids.
    return {str(parsed[raw]): users[str(parsed[raw])] for raw in ids}


# --- Paging ------------------------------------------------------------------------


def _page_order(filtered: bool) -> tuple:
    """Stable order (created, id). A filtered page sorts by ``created_at + 0 seconds``: the
    same order, but PostgreSQL can no longer walk the (organization, created, id) index
    looking for the match. During an IdP's initial push the table grows faster than its
    statistics, and the planner then prefers that walk (a scan of every user per lookup)
    to the unique email index."""
    return (F("created_at") + timedelta(0) if filtered else F("created_at"), "id")


def _known_total(page: list, *, start: int, count: int) -> int | None:
    """The total when the page itself shows it: a short page that starts at or before the
    end (the usual `userName eq` lookup returns 0 or 1 rows), else None."""
    if (page and len(page) < count) or (not page and start == 1 and count):
        return start - 1 + len(page)
    return None


def page_of(queryset, *, start: int, count: int, filtered: bool) -> tuple[list, int]:
    """One page in stable order and the total; COUNT runs only when the page cannot tell."""
    page = list(queryset.order_by(*_page_order(filtered))[start - 1 : start - 1 + count]) if count else []
    total = _known_total(page, start=start, count=count)
    return page, queryset.count() if total is None else total


# Look-ups IdPs send before every write (`userName eq "x"`) run SQL compiled once per
# shape; compiling the ORM query each time cost more CPU than running it. start/count vary
# little; the bound only protects against a pathological client. The equality's own class
# rebuilds it with the stand-in value, so this module needs nothing from the SCIM edge.
@lru_cache(maxsize=256)
def _equality_template(scoped: Callable, equality_type: type, field, start: int, count: int) -> QueryTemplate:
    return QueryTemplate(
        scoped(None).model,
        lambda organization_id, value: (
            scoped(organization_id)
            .filter(equality_type(field, value).q())
            .order_by(*_page_order(True))[start - 1 : start - 1 + count]
        ),
        kinds=("int", "text"),
    )


def equality_page(scoped: Callable, organization, equality, *, start: int, count: int) -> tuple[list, int]:
    """``page_of`` for a one-equality filter (a ``scim.filters.Equality``: ``field``,
    ``value``, ``q()``): the same rows, in the same order. ``scoped(organization)`` is the
    organization's queryset (scim_users, scim_groups)."""
    if not count:
        return page_of(scoped(organization).filter(equality.q()), start=start, count=count, filtered=True)
    page = _equality_template(scoped, type(equality), equality.field, start, count).run(organization.pk, equality.value)
    total = _known_total(page, start=start, count=count)
    return page, scoped(organization).filter(equality.q()).count() if total is None else total


def filtered_page(
    scoped: Callable, organization, expression: str | None, translators: tuple, *, start: int, count: int
) -> tuple[list, int]:
    """A page of ``scoped(organization)`` matching the SCIM filter ``expression`` (all
    when None). ``translators`` is (one-equality recogniser, general Q translator)."""
    equality_of, filter_of = translators
    equality = equality_of(expression) if expression else None
    if equality is not None:
        return equality_page(scoped, organization, equality, start=start, count=count)
    queryset = scoped(organization)
    if expression:
        queryset = queryset.filter(filter_of(expression))
    return page_of(queryset, start=start, count=count, filtered=bool(expression))


# --- Memberships shown with a page --------------------------------------------------


_ONE_USERS_GROUPS = QueryTemplate(
    Group,
    lambda user_id: Group.objects.filter(kind=GroupKind.SCIM, memberships__user_id=user_id).order_by(
        "memberships__added_at", "memberships__id"
    ),
    kinds=("uuid",),
)


def attach_scim_groups(users: list) -> None:
    """Set ``user.scim_groups`` ([(group id, name)]) for the read-only ``groups`` attribute,
    in membership order (as ``members`` lists a group's users) so reads are repeatable.
    One query per page; the single user of a look-up or a write uses precompiled SQL."""
    if len(users) == 1:
        users[0].scim_groups = [(group.pk, group.name) for group in _ONE_USERS_GROUPS.run(users[0].pk)]
        return
    by_user: dict = {user.pk: [] for user in users}
    if users:
        rows = (
            GroupMembership.objects.filter(user_id__in=list(by_user), group__kind=GroupKind.SCIM)
            .order_by("added_at", "id")
            .values_list("user_id", "group_id", "group__name")
        )
        for user_id, group_id, name in rows:
            by_user[user_id].append((group_id, name))
    for user in users:
        user.scim_groups = by_user[user.pk]


def scim_members_by_group(group_ids) -> dict:
    """(user id, email) pairs per group for a page of groups, in one query."""
    result: dict = {gid: [] for gid in group_ids}
    rows = (
        GroupMembership.objects.filter(group_id__in=group_ids)
        .order_by("group_id", "added_at", "id")
        .values_list("group_id", "user_id", "user__email")
    )
    for group_id, user_id, email in rows:
        result[group_id].append((user_id, email))
    return result
