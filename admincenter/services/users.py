"""People: manual users and collaborators (JIT provisioning at SSO sign-in is in
``admincenter.services.signin``).

SCIM-managed users are locked against admin edits here (docs/domain.md#lock-matrix); the SCIM
writes themselves live in ``admincenter.services.scim``.
"""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError
from django.utils import timezone

from admincenter.audit import actions
from admincenter.audit.record import Actor, audit_record, changed_fields
from admincenter.errors import Conflict, Forbidden, InvalidValue, NotFound
from admincenter.hotsql import RowInsert, user_row_delete
from admincenter.models import (
    GroupMembership,
    Organization,
    OrgMembership,
    SystemGroupKey,
    User,
    UserSource,
)
from admincenter.selectors.users import break_glass_admins
from admincenter.services.domains import verified_by_another_organization
from admincenter.services.groups import add_new_user_to_everyone, ensure_not_last_admin
from admincenter.transactions import atomic

# User fields an admin may edit on a local user.
ADMIN_EDITABLE_FIELDS = ("email", "given_name", "family_name")
EMAIL_MAX_LENGTH = User._meta.get_field("email").max_length
NAME_MAX_LENGTH = User._meta.get_field("given_name").max_length


def normalize_email(email: str, *, field: str = "email") -> str:
    value = (email or "").strip().lower()
    try:
        validate_email(value)
    except ValidationError:
        raise InvalidValue(f"'{email}' is not a valid email address.", field=field) from None
    # validate_email accepts longer addresses than the column holds (DataError on PostgreSQL).
    if len(value) > EMAIL_MAX_LENGTH:
        raise InvalidValue(f"An email address can be at most {EMAIL_MAX_LENGTH} characters.", field=field)
    return value


def clean_name(value: str | None, *, field: str) -> str:
    """A trimmed given or family name that fits its column."""
    value = (value or "").strip()
    if len(value) > NAME_MAX_LENGTH:
        raise InvalidValue(f"Names can be at most {NAME_MAX_LENGTH} characters.", field=field)
    return value


def email_taken(email: str, *, field: str = "email") -> Conflict:
    """The one refusal for an address a user of this organization cannot have: taken by
    anyone, anywhere, or in a domain another organization verified. The same words for
    both, so the answer never tells which, nor which organization
    (docs/domain.md#what-scim-may-not-do)."""
    return Conflict(f"The email address {email} is already in use.", field=field)


def ensure_email_free(
    email: str, *, organization: Organization | None = None, exclude: User | None = None, field: str = "email"
) -> None:
    """Emails are unique across all organizations. With ``organization``, the address
    must also be one a home user of that organization may have (``ensure_domain_open``)."""
    taken = User.objects.filter(email=email)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise email_taken(email, field=field)
    if organization is not None:
        ensure_domain_open(organization=organization, email=email, field=field)


def ensure_domain_open(*, organization: Organization, email: str, field: str = "email") -> None:
    """A domain verified by one organization is closed to every other one: none may
    create a home user there or move one's email there, by SCIM, in the Admin Center
    or at an SSO sign-in (``SsoDomain``). Refused exactly as a taken address is."""
    if verified_by_another_organization(organization=organization, email=email):
        raise email_taken(email, field=field)


_USER_INSERT = RowInsert(User)  # SCIM creates people by the thousand: compiled once


def user_insert(*, organization: Organization, user: User, actor: Actor, audit_after: dict) -> User:
    """Insert a new home user of ``organization``: every path (manual, JIT, SCIM) ends
    here, so every new user joins *Everyone* and is audited as ``user.create``. A taken
    email, also one lost to a concurrent creation, is Conflict from the unique index; so
    is an email in a domain another organization verified (``ensure_domain_open``)."""
    ensure_domain_open(organization=organization, email=user.email)
    try:
        with atomic():
            _USER_INSERT.insert_instance(user)
    except IntegrityError:
        raise email_taken(user.email) from None
    add_new_user_to_everyone(organization, user, actor)
    audit_record(
        organization=organization,
        actor=actor,
        action=actions.USER_CREATE,
        target_type="user",
        target_id=user.pk,
        target_label=user.email,
        after=audit_after,
    )
    return user


@atomic
def user_create(
    *,
    organization: Organization,
    email: str,
    actor: Actor,
    given_name: str = "",
    family_name: str = "",
    password: str | None = None,
    source: str = UserSource.MANUAL,
) -> User:
    """Create a local (manual or invited) user. SCIM and JIT have their own entry points."""
    if source not in (UserSource.MANUAL, UserSource.INVITED):
        raise InvalidValue(f"user_create only creates manual or invited users, not '{source}'.")
    email = normalize_email(email)
    ensure_email_free(email)
    user = User(
        email=email,
        home_organization=organization,
        given_name=clean_name(given_name, field="given_name"),
        family_name=clean_name(family_name, field="family_name"),
        source=source,
    )
    if password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise InvalidValue(" ".join(exc.messages), field="password") from None
        user.set_password(password)
    else:
        user.set_unusable_password()
    user_insert(
        organization=organization,
        user=user,
        actor=actor,
        audit_after={"email": email, "given_name": user.given_name, "family_name": user.family_name, "source": source},
    )
    return user


def ensure_not_scim_managed(user: User, action: str) -> None:
    if user.is_scim_managed:
        raise Forbidden(
            f"{user.email} is managed by your identity provider, so you cannot {action} here. "
            "Make the change in the identity provider; it is synced over SCIM."
        )


def home_user_get(*, organization: Organization, user_id, for_update: bool = False) -> User:
    users = User.objects.filter(home_organization=organization)
    if for_update:
        users = users.select_for_update()
    try:
        return users.get(pk=user_id)
    except (User.DoesNotExist, ValidationError, ValueError):
        raise NotFound("No such user in this organization.") from None


@atomic
def user_update(*, organization: Organization, user: User, actor: Actor, **changes) -> User:
    """An admin edits a local user's profile (email, names). SCIM-managed users are locked."""
    user = home_user_get(organization=organization, user_id=user.pk, for_update=True)
    ensure_not_scim_managed(user, "edit their profile")
    unknown = set(changes) - set(ADMIN_EDITABLE_FIELDS)
    if unknown:
        raise InvalidValue(f"Cannot edit: {', '.join(sorted(unknown))}.")
    before = {f: getattr(user, f) for f in changes}
    if "email" in changes:
        changes["email"] = normalize_email(changes["email"])
        if changes["email"] != user.email:  # a user kept in a now-closed domain can still be renamed
            ensure_email_free(changes["email"], organization=organization, exclude=user)
    for field in ("given_name", "family_name"):
        if field in changes:
            changes[field] = clean_name(changes[field], field=field)
    for field, value in changes.items():
        setattr(user, field, (value or "").strip())
    before, after = changed_fields(before, {f: getattr(user, f) for f in changes})
    if not after:
        return user
    user.updated_at = timezone.now()
    try:
        with atomic():
            user.save()
    except IntegrityError:
        raise email_taken(user.email) from None
    audit_record(
        organization=organization,
        actor=actor,
        action=actions.USER_EMAIL_CHANGE if "email" in after else actions.USER_UPDATE,
        target_type="user",
        target_id=user.pk,
        target_label=user.email,
        before=before,
        after=after,
    )
    return user


@atomic
def user_set_active(*, organization: Organization, user: User, active: bool, actor: Actor) -> User:
    """An admin deactivates or reactivates a local user (reversible)."""
    user = home_user_get(organization=organization, user_id=user.pk, for_update=True)
    ensure_not_scim_managed(user, "deactivate or reactivate them")
    if user.is_active == active:
        return user
    if not active:
        _ensure_not_last_admin_anywhere(organization, user)
        _ensure_not_last_break_glass(organization, user)
    user_active_set(organization=organization, user=user, active=active, actor=actor)
    return user


def _ensure_not_last_break_glass(organization: Organization, user: User) -> None:
    """While SSO is required, the last break-glass administrator stays: without them an IdP
    outage locks everyone out (docs/sso.md#require-sso-and-break-glass)."""
    if not (organization.require_sso and user.local_login_allowed):
        return
    others = break_glass_admins(organization=organization, excluding=user)
    if not others and any(u.pk == user.pk for u in break_glass_admins(organization=organization)):
        raise Conflict(
            f"{user.email} is the last administrator who may sign in with a password while SSO is required. "
            "Mark another administrator as break-glass first, or stop requiring SSO."
        )


def user_active_set(*, organization: Organization, user: User, active: bool, actor: Actor) -> None:
    """Switch ``is_active`` and audit it; callers own the rules and the transaction.
    Memberships are kept: an inactive user keeps them but they grant nothing (docs/domain.md#group-membership)."""
    now = timezone.now()
    user.is_active = active
    user.deactivated_at = None if active else now
    user.updated_at = now
    user.save(update_fields=["is_active", "deactivated_at", "updated_at"])
    audit_record(
        organization=organization,
        actor=actor,
        action=actions.USER_ACTIVATE if active else actions.USER_DEACTIVATE,
        target_type="user",
        target_id=user.pk,
        target_label=user.email,
        before={"active": not active},
        after={"active": active},
    )


@atomic
def user_delete(*, organization: Organization, user: User, actor: Actor) -> None:
    """An admin deletes a local user. SCIM-managed users are offboarded in the IdP."""
    user = home_user_get(organization=organization, user_id=user.pk, for_update=True)
    ensure_not_scim_managed(user, "delete them")
    _ensure_not_last_admin_anywhere(organization, user)
    _ensure_not_last_break_glass(organization, user)
    user_delete_audited(organization=organization, user=user, actor=actor)


def user_delete_audited(*, organization: Organization, user: User, actor: Actor, after: dict | None = None) -> None:
    """Delete the user with their memberships and write ``user.delete``; callers own the
    rules and the transaction. The event keeps the email: the trail outlives the user."""
    pk, email = user.pk, user.email
    _user_row_delete(user)
    user_delete_audit(organization=organization, actor=actor, user_id=pk, email=email, after=after)


def user_delete_audit(*, organization: Organization, actor: Actor, user_id, email: str, after: dict | None) -> None:
    audit_record(
        organization=organization,
        actor=actor,
        action=actions.USER_DELETE,
        target_type="user",
        target_id=user_id,
        target_label=email,
        before={"email": email},
        after=after,
    )


def _user_row_delete(user: User) -> None:
    """``user.delete()`` for a row the caller has locked: a person's row goes by the
    statements ``hotsql.user_row_delete`` names; an operator (who may have admin-log and
    permission rows) through Django's collector."""
    if user.is_staff or user.is_superuser:
        user.delete()
        return
    user_row_delete(user)


def _ensure_not_last_admin_anywhere(organization: Organization, user: User) -> None:
    """Deactivating or deleting a person affects every organization they administer,
    including those where they are a collaborator: none may be left without an active
    administrator (docs/domain.md#last-administrator). Other organizations are not named to this one's admins."""
    ensure_not_last_admin(organization, [user.pk])
    administered = (
        GroupMembership.objects.filter(
            user=user, group__system_key=SystemGroupKey.ADMIN_CENTER_ADMINS, user__is_active=True
        )
        .exclude(group__organization=organization)
        .values_list("group_id", flat=True)
    )
    for group_id in administered:
        others = GroupMembership.objects.filter(group_id=group_id, user__is_active=True).exclude(user=user)
        if not others.exists():
            raise Forbidden(
                f"{user.email} is the last active administrator of another organization they collaborate with. "
                "That organization must add another administrator first."
            )


@atomic
def collaborator_add(*, organization: Organization, email: str, actor: Actor) -> OrgMembership:
    """Admit a user whose home is another organization (docs/domain.md#collaborator)."""
    email = normalize_email(email)
    user = User.objects.filter(email=email).first()
    if user is None:
        raise NotFound(
            f"No user with the email {email} exists yet. Create them as a user of this organization instead.",
            field="email",
        )
    if user.home_organization_id == organization.pk:
        raise Conflict(f"{email} is already a user of this organization.", field="email")
    if user.home_organization_id is None:
        raise InvalidValue(
            f"{email} is a platform operator account and cannot be a collaborator.",
            field="email",
        )
    membership, created = OrgMembership.objects.get_or_create(
        user=user,
        organization=organization,
        defaults={"invited_by": actor.display, "accepted_at": timezone.now()},
    )
    if not created:
        raise Conflict(f"{email} is already a collaborator of this organization.", field="email")
    audit_record(
        organization=organization,
        actor=actor,
        action=actions.COLLABORATOR_ADD,
        target_type="user",
        target_id=user.pk,
        target_label=email,
        after={"email": email},
    )
    return membership


@atomic
def collaborator_remove(*, organization: Organization, user: User, actor: Actor) -> None:
    """Removing a collaborator also removes their group memberships in this organization."""
    deleted, _ = OrgMembership.objects.filter(organization=organization, user=user).delete()
    if not deleted:
        raise NotFound(f"{user.email} is not a collaborator of this organization.")
    ensure_not_last_admin(organization, [user.pk])
    removed = GroupMembership.objects.filter(group__organization=organization, user=user).delete()[0]
    audit_record(
        organization=organization,
        actor=actor,
        action=actions.COLLABORATOR_REMOVE,
        target_type="user",
        target_id=user.pk,
        target_label=user.email,
        before={"email": user.email, "group_memberships": removed},
    )
