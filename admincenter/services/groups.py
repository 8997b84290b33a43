"""Groups as admins manage them: custom groups, members of admin-owned groups, and
grants (docs/domain.md#group, docs/domain.md#grant, docs/domain.md#lock-matrix,
docs/domain.md#reserved-names-and-collisions).

The name-collision check here is shared with SCIM group writes, which live in
``admincenter.services.scim``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from admincenter.audit import actions
from admincenter.audit.record import Actor, audit_record
from admincenter.catalogue import ADMIN_CENTER_PRODUCT
from admincenter.errors import Conflict, Forbidden, InvalidValue, NotFound
from admincenter.hotsql import RowInsert
from admincenter.models import (
    Group,
    GroupGrant,
    GroupKind,
    GroupMembership,
    MembershipOwner,
    Organization,
    OrgMembership,
    ProductInstance,
    Role,
    SystemGroupKey,
    User,
)
from admincenter.transactions import atomic

RESERVED_GROUP_NAMES = ("Everyone", "Admin Center Administrators", "Administrators")
SCIM_GROUP_NAME_PREFIX = "Opti_SCIM_"


def normalize_group_name(name: str) -> str:
    return " ".join((name or "").split())


def ensure_group_name_free(
    *,
    organization: Organization,
    name: str,
    exclude: Group | None = None,
    for_scim: bool = False,
) -> None:
    """Names are unique per organization across all kinds, trimmed and compared
    case-insensitively; reserved names are never available
    (docs/domain.md#reserved-names-and-collisions)."""
    lowered = name.lower()
    rename_hint = f"Rename the group on the IdP side (for example {SCIM_GROUP_NAME_PREFIX}{name})"
    if lowered in {n.lower() for n in RESERVED_GROUP_NAMES}:
        if for_scim:
            raise Conflict(
                f"'{name}' is a reserved group name in the Admin Center. {rename_hint}.",
                field="name",
            )
        raise Conflict(f"'{name}' is a reserved group name. Choose another name.", field="name")
    clash = Group.objects.filter(organization=organization, name__iexact=name)
    if exclude is not None:
        clash = clash.exclude(pk=exclude.pk)
    clash = clash.only("kind", "name").first()
    if clash is None:
        return
    if not for_scim:
        raise Conflict(
            f"A {clash.get_kind_display().lower()} group named '{clash.name}' already exists.",
            field="name",
        )
    if clash.kind == GroupKind.CUSTOM:
        raise Conflict(
            f"A custom group named '{clash.name}' already exists in this organization. {rename_hint} "
            "or delete the custom group in the Admin Center first.",
            field="name",
        )
    if clash.kind == GroupKind.SCIM:
        raise Conflict(
            f"A SCIM group named '{clash.name}' already exists in this organization.",
            field="name",
        )
    raise Conflict(
        f"'{clash.name}' is the name of a {clash.get_kind_display().lower()} group in the Admin Center. {rename_hint}.",
        field="name",
    )


def _validate_custom_name(organization: Organization, name: str, exclude: Group | None = None) -> str:
    name = normalize_group_name(name)
    if not name:
        raise InvalidValue("The group needs a name.", field="name")
    if len(name) > 255:
        raise InvalidValue("Group names can be at most 255 characters.", field="name")
    if name.lower().startswith(SCIM_GROUP_NAME_PREFIX.lower()):
        raise InvalidValue(
            f"Names starting with {SCIM_GROUP_NAME_PREFIX} are kept for groups pushed by your identity provider.",
            field="name",
        )
    ensure_group_name_free(organization=organization, name=name, exclude=exclude)
    return name


def save_group_name(group: Group) -> None:
    """Save a new or renamed group; a concurrent same-name insert surfaces as Conflict."""
    try:
        with atomic():
            group.save()
    except IntegrityError:
        raise Conflict(f"A group named '{group.name}' already exists.", field="name") from None


def _group_locked(*, organization: Organization, group_id) -> Group:
    """The group row again, locked for the caller's transaction (NotFound if it is gone):
    each write below computes its change from this copy. Reads without a lock go through
    ``admincenter.selectors.groups.group_get``."""
    try:
        return Group.objects.filter(organization=organization).select_for_update().get(pk=group_id)
    except (Group.DoesNotExist, ValidationError, ValueError):
        raise NotFound("No such group in this organization.") from None


@atomic
def group_create(*, organization: Organization, name: str, actor: Actor) -> Group:
    name = _validate_custom_name(organization, name)
    group = Group(organization=organization, name=name, kind=GroupKind.CUSTOM)
    save_group_name(group)
    audit_record(
        organization=organization,
        actor=actor,
        action=actions.GROUP_CREATE,
        target_type="group",
        target_id=group.pk,
        target_label=name,
        after={"name": name, "kind": GroupKind.CUSTOM},
    )
    return group


def _ensure_custom(group: Group, action: str) -> None:
    if group.kind == GroupKind.SCIM:
        raise Forbidden(
            f"'{group.name}' is managed by your identity provider, so you cannot {action} here. "
            "Change or remove the group push in the identity provider."
        )
    if group.kind != GroupKind.CUSTOM:
        raise Forbidden(f"'{group.name}' is a {group.get_kind_display().lower()} group and cannot be {action}d.")


@atomic
def group_rename(*, organization: Organization, group: Group, name: str, actor: Actor) -> Group:
    group = _group_locked(organization=organization, group_id=group.pk)
    _ensure_custom(group, "rename")
    new_name = _validate_custom_name(organization, name, exclude=group)
    if new_name == group.name:
        return group
    old_name = group.name
    group.name = new_name
    group.updated_at = timezone.now()
    save_group_name(group)
    audit_record(
        organization=organization,
        actor=actor,
        action=actions.GROUP_RENAME,
        target_type="group",
        target_id=group.pk,
        target_label=new_name,
        before={"name": old_name},
        after={"name": new_name},
    )
    return group


@atomic
def group_delete(*, organization: Organization, group: Group, actor: Actor) -> None:
    group = _group_locked(organization=organization, group_id=group.pk)
    _ensure_custom(group, "delete")
    delete_group_audited(organization=organization, group=group, actor=actor)


def delete_group_audited(*, organization: Organization, group: Group, actor: Actor) -> None:
    """Delete the group with its memberships and grants and write ``group.delete``;
    callers own the rules and the transaction."""
    pk, name = group.pk, group.name
    members = group.memberships.count()
    group.delete()
    audit_record(
        organization=organization,
        actor=actor,
        action=actions.GROUP_DELETE,
        target_type="group",
        target_id=pk,
        target_label=name,
        before={"name": name, "members": members},
    )


def group_audit_record(
    action: actions.AuditAction, *, organization: Organization, actor: Actor, group: Group, **values
):
    """One audit event about ``group``, under its id and current name; ``values`` are
    ``audit_record``'s (``before``, ``after``...)."""
    audit_record(
        organization=organization,
        actor=actor,
        action=action,
        target_type="group",
        target_id=group.pk,
        target_label=group.name,
        **values,
    )


def _ensure_admin_member_editable(group: Group) -> None:
    """Admins edit members of custom, product and *Admin Center Administrators* groups."""
    if group.system_key == SystemGroupKey.EVERYONE:
        raise Forbidden("Everyone contains every user of the organization automatically and cannot be edited.")
    if group.kind == GroupKind.SCIM:
        raise Forbidden(
            f"The members of '{group.name}' are managed by your identity provider. "
            "Change the group's members in the identity provider."
        )


def organization_users(*, organization: Organization, user_ids: Iterable) -> list[User]:
    """Home users and collaborators of the organization among ``user_ids``; unknown ids fail."""
    ids = {str(u) for u in user_ids}
    if not ids:
        return []
    try:
        users = list(
            User.objects.filter(pk__in=ids).filter(
                Q(home_organization=organization)
                | Q(pk__in=OrgMembership.objects.filter(organization=organization).values("user_id"))
            )
        )
    except ValidationError:  # malformed UUIDs
        raise InvalidValue("Some user ids are not valid.", field="members") from None
    if len(users) != len(ids):
        raise InvalidValue("Some users are not members of this organization.", field="members")
    return users


@atomic
def group_members_add(*, organization: Organization, group: Group, user_ids: Iterable, actor: Actor) -> int:
    group = _group_locked(organization=organization, group_id=group.pk)
    _ensure_admin_member_editable(group)
    users = organization_users(organization=organization, user_ids=user_ids)
    existing = set(group.memberships.filter(user__in=users).values_list("user_id", flat=True))
    new_users = [u for u in users if u.pk not in existing]
    if not new_users:
        return 0
    GroupMembership.objects.bulk_create(
        [
            GroupMembership(
                group=group,
                user=u,
                managed_by=MembershipOwner.ADMIN,
                added_by=actor.display,
            )
            for u in new_users
        ],
        ignore_conflicts=True,
    )
    Group.objects.filter(pk=group.pk).update(updated_at=timezone.now())
    group_audit_record(
        actions.GROUP_MEMBER_ADD,
        organization=organization,
        actor=actor,
        group=group,
        after={"members": sorted(u.email for u in new_users)},
    )
    return len(new_users)


@atomic
def group_members_remove(*, organization: Organization, group: Group, user_ids: Iterable, actor: Actor) -> int:
    group = _group_locked(organization=organization, group_id=group.pk)
    _ensure_admin_member_editable(group)
    try:
        ids = [str(uuid.UUID(str(u))) for u in user_ids]
    except ValueError:  # malformed ids would otherwise escape as ValidationError from the query
        raise InvalidValue("Some user ids are not valid.", field="members") from None
    rows = group.memberships.filter(user_id__in=ids).select_related("user")
    emails = sorted(m.user.email for m in rows)
    if not emails:
        return 0
    if group.system_key == SystemGroupKey.ADMIN_CENTER_ADMINS:
        ensure_not_last_admin(organization, ids)
    removed, _ = group.memberships.filter(user_id__in=ids).delete()
    Group.objects.filter(pk=group.pk).update(updated_at=timezone.now())
    group_audit_record(
        actions.GROUP_MEMBER_REMOVE,
        organization=organization,
        actor=actor,
        group=group,
        before={"members": emails},
    )
    return removed


@atomic
def group_grant_add(
    *,
    organization: Organization,
    group: Group,
    instance: ProductInstance,
    roles: Iterable[Role],
    actor: Actor,
) -> list[GroupGrant]:
    """Give a custom or SCIM group one or more roles on an instance of this organization."""
    group = _group_locked(organization=organization, group_id=group.pk)
    if group.kind not in (GroupKind.CUSTOM, GroupKind.SCIM):
        raise Forbidden(f"The access of the {group.get_kind_display().lower()} group '{group.name}' is fixed.")
    if instance.organization_id != organization.pk:
        raise NotFound("No such product instance in this organization.", field="instance")
    if instance.product.code == ADMIN_CENTER_PRODUCT:
        raise Forbidden(
            "Admin Center access is held only through Admin Center Administrators. Add people to that group instead.",
            field="instance",
        )
    roles = list(roles)
    if not roles:
        raise InvalidValue("Choose at least one role.", field="roles")
    for role in roles:
        if role.product_id != instance.product_id:
            raise InvalidValue(
                f"'{role.name}' is not a role of {instance.product.name}.",
                field="roles",
            )
    existing = set(
        GroupGrant.objects.filter(group=group, product_instance=instance, role__in=roles).values_list(
            "role_id", flat=True
        )
    )
    duplicates = [r.name for r in roles if r.pk in existing]
    if duplicates:
        raise Conflict(
            f"'{group.name}' already has {', '.join(duplicates)} on {instance}.",
            field="roles",
        )
    try:
        with atomic():
            grants = GroupGrant.objects.bulk_create(
                [
                    GroupGrant(
                        group=group,
                        product_instance=instance,
                        role=r,
                        granted_by=actor.display,
                    )
                    for r in roles
                ]
            )
    except IntegrityError:
        raise Conflict(
            f"'{group.name}' already has one of these roles on {instance}.",
            field="roles",
        ) from None
    group_audit_record(
        actions.GROUP_GRANT_ADD,
        organization=organization,
        actor=actor,
        group=group,
        after={
            "instance": str(instance),
            "instance_id": instance.instance_id,
            "roles": [r.name for r in roles],
        },
    )
    return grants


@atomic
def group_grant_remove(*, organization: Organization, grant: GroupGrant, actor: Actor) -> None:
    try:
        grant = GroupGrant.objects.select_related("group", "product_instance__product", "role").get(
            pk=grant.pk, group__organization=organization
        )
    except GroupGrant.DoesNotExist:
        raise NotFound("No such grant in this organization.") from None
    if grant.group.kind not in (GroupKind.CUSTOM, GroupKind.SCIM):
        raise Forbidden(f"The access of the {grant.group.get_kind_display().lower()} group is fixed.")
    group = grant.group
    before = {
        "instance": str(grant.product_instance),
        "instance_id": grant.product_instance.instance_id,
        "roles": [grant.role.name],
    }
    grant.delete()
    group_audit_record(
        actions.GROUP_GRANT_REMOVE,
        organization=organization,
        actor=actor,
        group=group,
        before=before,
    )


def ensure_not_last_admin(organization: Organization, leaving_user_ids) -> None:
    """*Admin Center Administrators* always keeps at least one active member
    (docs/domain.md#last-administrator). Shared by the member removals here and the
    deactivations and deletions in users.py."""
    admins = GroupMembership.objects.filter(
        group__organization=organization,
        group__system_key=SystemGroupKey.ADMIN_CENTER_ADMINS,
        user__is_active=True,
    )
    if not admins.filter(user_id__in=leaving_user_ids).exists():
        return
    if not admins.exclude(user_id__in=leaving_user_ids).exists():
        raise Forbidden(
            "This is the last active member of Admin Center Administrators. Add another administrator first."
        )


# --- Everyone ---------------------------------------------------------------------
# Every new home user joins it; users.py (user_insert) and organizations.py (the first admin)
# call this, so it sits below both.


def system_group(organization: Organization, key: str) -> Group:
    return Group.objects.get(organization=organization, system_key=key)


# Organization → id of its *Everyone* group, kept for the life of the process: Everyone is
# created with the organization and can never be renamed or deleted. Keyed by id and
# creation time, so an id that a database reuses after a deletion never hits.
_everyone_ids: dict[tuple, object] = {}


def _everyone_id(organization: Organization):
    key = (organization.pk, organization.created_at)
    group_id = _everyone_ids.get(key)
    if group_id is None:
        group_id = system_group(organization, SystemGroupKey.EVERYONE).pk
        _everyone_ids[key] = group_id
    return group_id


_MEMBERSHIP_INSERT = RowInsert(GroupMembership)


def add_new_user_to_everyone(organization: Organization, user: User, actor: Actor) -> None:
    """Every home user is in *Everyone*; the row is owned by the system. For a user
    inserted in this transaction (no row can exist yet): one precompiled INSERT, as SCIM
    creates people by the thousand. In a SCIM create it is written with the audit event
    and the request-log row at commit: nothing in that request reads it back."""
    _MEMBERSHIP_INSERT.append(
        group_id=_everyone_id(organization), user=user, managed_by=MembershipOwner.SYSTEM, added_by=actor.display
    )
