"""Writes made by the IdP over SCIM (docs/domain.md#what-scim-may-do and the
product decisions after it).

The SCIM edge (``scim/``) translates requests into the plain values these functions take;
they enforce the product rules, own the transaction and write the audit events. Tenant
rules: SCIM sees only home users and SCIM groups of the token's organization.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils import timezone

from admincenter.audit import actions
from admincenter.audit.enqueue import schedule_audit_processing
from admincenter.audit.record import Actor, audit_record, changed_fields
from admincenter.errors import InvalidValue
from admincenter.hotsql import RowInsert, person_row_delete
from admincenter.models import (
    Group,
    GroupKind,
    GroupMembership,
    MembershipOwner,
    Organization,
    ScimDeactivateAction,
    ScimRequestLog,
    SsoConnection,
    User,
    UserSource,
)
from admincenter.selectors.scim import scim_member_users, scim_resource_id, scim_user_get, scim_users
from admincenter.services.groups import (
    delete_group_audited,
    ensure_group_name_free,
    normalize_group_name,
    save_group_name,
)
from admincenter.services.users import (
    ensure_email_free,
    normalize_email,
    user_active_set,
    user_delete_audit,
    user_delete_audited,
    user_insert,
)
from admincenter.transactions import atomic

# The write services below take the resource as read by ``scim_user_get`` /
# ``scim_group_get`` with ``for_update=True`` in the caller's transaction: the SCIM edge
# computes the new state from that locked row, so reading it again here would only cost
# a query, and reading it unlocked there would lose concurrent updates.


def _audit_values(values: dict) -> dict:
    """Audit-friendly copy: ids as strings; the opaque attribute bag only as its keys."""
    result = {}
    for key, value in values.items():
        if key == "scim_attributes":
            continue
        result[key] = str(value) if isinstance(value, uuid.UUID) else value
    return result


def _check_manager(organization: Organization, manager_id, user: User | None) -> None:
    if manager_id is None:
        return
    if user is not None and str(manager_id) == str(user.pk):
        raise InvalidValue("A user cannot be their own manager.")
    if not scim_users(organization).filter(pk=manager_id).exists():
        raise InvalidValue(f"manager {manager_id} is not a user of this organization.")


@atomic
def scim_user_create(*, organization: Organization, connection: SsoConnection, values: dict, actor: Actor) -> User:
    """POST /Users: a SCIM-managed user with source scim, in *Everyone*, with no access.
    ``active=false`` creates the user deactivated (docs/domain.md#created-inactive)."""
    values = dict(values)
    # Taken emails (in any organization) surface as Conflict from the unique index: one
    # query less on the IdPs' most frequent write than checking first.
    values["email"] = normalize_email(values.get("email", ""), field="userName")
    _check_manager(organization, values.get("manager_id"), None)
    user = User(home_organization=organization, source=UserSource.SCIM, scim_connection=connection, **values)
    if not user.is_active:
        user.deactivated_at = timezone.now()
    user.set_unusable_password()  # SCIM-managed users sign in through SSO only
    return user_insert(
        organization=organization,
        user=user,
        actor=actor,
        audit_after={**_audit_values(values), "source": UserSource.SCIM},
    )


@dataclass
class UserWriteResult:
    user: User
    deleted: bool = False  # on_scim_deactivate = delete removed the user (docs/domain.md#deactivation-can-delete)


@atomic
def scim_user_update(
    *, organization: Organization, connection: SsoConnection, user: User, values: dict, actor: Actor
) -> UserWriteResult:
    """PUT/PATCH /Users/{id}: apply the IdP-owned values, adopting a local user on the
    first write (docs/domain.md#adoption), following ``on_scim_deactivate`` when active turns false
    (docs/domain.md#deactivation-keeps-the-user, docs/domain.md#deactivation-can-delete)."""
    _adopt(organization, connection, user, actor)
    values = dict(values)
    if "email" in values:
        values["email"] = normalize_email(values["email"], field="userName")
        if values["email"] != user.email:
            ensure_email_free(values["email"], organization=organization, exclude=user, field="userName")
    if "manager_id" in values:
        _check_manager(organization, values["manager_id"], user)
    active = values.pop("is_active", user.is_active)
    before, after = changed_fields({f: getattr(user, f) for f in values}, values)
    for field, value in after.items():
        setattr(user, field, value)
    if after:
        user.updated_at = timezone.now()
        user.save(update_fields=[*after, "updated_at"])
        audit_record(
            organization=organization,
            actor=actor,
            action=actions.USER_EMAIL_CHANGE if "email" in after else actions.USER_UPDATE,
            target_type="user",
            target_id=user.pk,
            target_label=user.email,
            before=_audit_values(before),
            after=_audit_values(after),
        )
    if active == user.is_active:
        return UserWriteResult(user)
    if not active and organization.on_scim_deactivate == ScimDeactivateAction.DELETE:
        pk = user.pk
        _deprovision(organization, user, actor, reason="active=false")
        # Model.delete() clears the pk; the response still describes the resource
        # (docs/domain.md#deactivation-can-delete).
        user.pk = pk
        user.is_active = False
        return UserWriteResult(user, deleted=True)
    user_active_set(organization=organization, user=user, active=active, actor=actor)
    return UserWriteResult(user)


@atomic
def scim_user_delete(*, organization: Organization, connection: SsoConnection, user_id, actor: Actor) -> None:
    """DELETE /Users/{id} deprovisions (docs/domain.md#delete-deprovisions): the user and their
    memberships go, the email becomes free, the audit trail stays. On PostgreSQL a person is deleted without reading
    the row first; an operator goes through Django's collector."""
    key = scim_resource_id(user_id, what="User")
    user = person_row_delete(organization_id=organization.pk, user_id=key)
    if user is None:  # not there (404), an operator, or not PostgreSQL: read it under lock
        user = scim_user_get(organization=organization, user_id=key, for_update=True)
        _adopt(organization, connection, user, actor)
        _deprovision(organization, user, actor, reason="DELETE")
        return
    if user.scim_connection_id != connection.pk:
        _audit_adoption(organization, connection, user, actor)
    user_delete_audit(
        organization=organization, actor=actor, user_id=user.pk, email=user.email, after={"deprovisioned_by": "DELETE"}
    )


def _adopt(organization: Organization, connection: SsoConnection, user: User, actor: Actor) -> None:
    if user.scim_connection_id == connection.pk:
        return
    user.scim_connection = connection
    user.scim_released_at = None
    user.save(update_fields=["scim_connection", "scim_released_at"])
    _audit_adoption(organization, connection, user, actor)


def _audit_adoption(organization: Organization, connection: SsoConnection, user: User, actor: Actor) -> None:
    audit_record(
        organization=organization,
        actor=actor,
        action=actions.USER_SCIM_ADOPT,
        target_type="user",
        target_id=user.pk,
        target_label=user.email,
        after={"scim_connection": connection.name, "source": user.source},
    )


def _deprovision(organization: Organization, user: User, actor: Actor, *, reason: str) -> None:
    user_delete_audited(organization=organization, user=user, actor=actor, after={"deprovisioned_by": reason})


# --- Groups -------------------------------------------------------------------


def _canonical_ids(member_ids: Iterable) -> list[str]:
    result = []
    for raw in member_ids:
        try:
            result.append(str(uuid.UUID(str(raw))))
        except ValueError:
            continue  # removing an id that cannot exist is a no-op
    return result


def _check_group_lengths(*, name: str | None = None, external_id: str | None = None) -> None:
    """Refuse what the columns cannot hold: PostgreSQL raises DataError (a 500), SQLite
    stores it silently."""
    for scim_name, field, value in (("displayName", "name", name), ("externalId", "external_id", external_id)):
        limit = Group._meta.get_field(field).max_length
        if value is not None and len(value) > limit:
            raise InvalidValue(f"'{scim_name}' is longer than {limit} characters.")


@dataclass(frozen=True)
class MemberOp:
    """One membership change, applied in request order: add, remove, replace or clear."""

    op: str
    ids: Sequence[str] = ()


@atomic
def scim_group_create(
    *,
    organization: Organization,
    connection: SsoConnection,
    name: str,
    external_id: str = "",
    member_ids: Iterable = (),
    actor: Actor,
) -> Group:
    name = normalize_group_name(name)
    if not name:
        raise InvalidValue("displayName is required.")
    _check_group_lengths(name=name, external_id=external_id)
    ensure_group_name_free(organization=organization, name=name, for_scim=True)
    members = scim_member_users(organization=organization, member_ids=member_ids)
    group = Group(
        organization=organization,
        name=name,
        kind=GroupKind.SCIM,
        scim_connection=connection,
        external_id=external_id or "",
    )
    save_group_name(group)
    audit_record(
        organization=organization,
        actor=actor,
        action=actions.GROUP_CREATE,
        target_type="group",
        target_id=group.pk,
        target_label=name,
        after={"name": name, "external_id": group.external_id},
    )
    _write_members(organization, group, add=list(members.values()), remove={}, actor=actor)
    return group


@atomic
def scim_group_update(
    *,
    organization: Organization,
    group: Group,
    actor: Actor,
    name: str | None = None,
    external_id: str | None = None,
    member_ops: Sequence[MemberOp] = (),
) -> Group:
    """PUT/PATCH /Groups/{id}. ``group`` is row-locked by the caller, so concurrent PATCHes
    to one group are serialised and none loses a member change
    (docs/domain.md#writes-are-serialised-per-group). Member operations are
    applied in order to the current set, then written as one bulk insert and one delete."""
    changes_before, changes_after = {}, {}
    if name is not None:
        name = normalize_group_name(name)
        if not name:
            raise InvalidValue("displayName cannot be empty.")
        _check_group_lengths(name=name)
        if name != group.name:
            # Okta repeats the unchanged name with every membership PATCH: a no-op.
            ensure_group_name_free(organization=organization, name=name, exclude=group, for_scim=True)
            changes_before["name"], changes_after["name"] = group.name, name
            group.name = name
    _check_group_lengths(external_id=external_id)
    if external_id is not None and external_id != group.external_id:
        changes_before["external_id"], changes_after["external_id"] = group.external_id, external_id
        group.external_id = external_id
    if changes_after:
        group.updated_at = timezone.now()
        save_group_name(group)
        audit_record(
            organization=organization,
            actor=actor,
            action=actions.GROUP_RENAME if "name" in changes_after else actions.GROUP_UPDATE,
            target_type="group",
            target_id=group.pk,
            target_label=group.name,
            before=changes_before,
            after=changes_after,
        )
    if member_ops:
        _apply_member_ops(organization, group, member_ops, actor)
    return group


def _apply_member_ops(organization: Organization, group: Group, member_ops: Sequence[MemberOp], actor: Actor):
    added_ids = [i for op in member_ops if op.op in ("add", "replace") for i in op.ids]
    new_users = scim_member_users(organization=organization, member_ids=added_ids)
    current = dict(GroupMembership.objects.filter(group=group).values_list("user_id", "user__email"))
    current = {str(k): v for k, v in current.items()}
    final = set(current)
    for op in member_ops:
        if op.op == "add":
            final |= set(_canonical_ids(op.ids))
        elif op.op == "remove":
            final -= set(_canonical_ids(op.ids))
        elif op.op == "replace":
            final = set(_canonical_ids(op.ids))
        elif op.op == "clear":
            final = set()
    to_add = [new_users[i] for i in final - set(current)]
    to_remove = {i: current[i] for i in set(current) - final}
    _write_members(organization, group, add=to_add, remove=to_remove, actor=actor)


def _write_members(organization: Organization, group: Group, *, add: list[User], remove: dict, actor: Actor):
    if add:
        GroupMembership.objects.bulk_create(
            [
                GroupMembership(group=group, user=u, managed_by=MembershipOwner.SCIM, added_by=actor.display)
                for u in add
            ],
            ignore_conflicts=True,
        )
        audit_record(
            organization=organization,
            actor=actor,
            action=actions.GROUP_MEMBER_ADD,
            target_type="group",
            target_id=group.pk,
            target_label=group.name,
            after={"members": sorted(u.email for u in add), "count": len(add)},
        )
    if remove:
        GroupMembership.objects.filter(group=group, user_id__in=list(remove)).delete()
        audit_record(
            organization=organization,
            actor=actor,
            action=actions.GROUP_MEMBER_REMOVE,
            target_type="group",
            target_id=group.pk,
            target_label=group.name,
            before={"members": sorted(remove.values()), "count": len(remove)},
        )
    if add or remove:
        # Also on the instance: the caller renders it as the response (meta.lastModified).
        group.updated_at = timezone.now()
        Group.objects.filter(pk=group.pk).update(updated_at=group.updated_at)


@atomic
def scim_group_delete(*, organization: Organization, group: Group, actor: Actor) -> None:
    """DELETE /Groups/{id}: the group, its memberships and its grants go (docs/domain.md#what-scim-may-do)."""
    delete_group_audited(organization=organization, group=group, actor=actor)


_REQUEST_LOG_INSERT = RowInsert(ScimRequestLog)  # every SCIM request writes one row


def scim_request_log_record(**fields) -> ScimRequestLog:
    """One row per SCIM request, written in the request's transaction (in a write, in one
    statement with its audit events); the audit pipeline enriches it after commit. The
    returned row has no primary key."""
    row = _REQUEST_LOG_INSERT.append(**fields)
    schedule_audit_processing()
    return row
