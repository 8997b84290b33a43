"""What a sign-in does: SSO sign-in (JIT, SCIM mode, group claims), password sign-in
under "require SSO", and the sign-in policy switches (docs/sso.md, "What a sign-in does"
and "Require SSO and break-glass").

Every outcome is an ``AuditEvent``: a success is written in the transaction of the
changes it makes (a JIT user, new names, group-claim memberships); a refusal rolls back
whatever the attempt did and is then written in a transaction of its own, so it is
committed although the sign-in fails. A protocol failure (``sso.identity.SsoValidationError``)
is audited with its reason code only, never the assertion or the token.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from admincenter import metrics
from admincenter.audit import actions
from admincenter.audit.record import Actor, audit_record, changed_fields
from admincenter.errors import Conflict, DomainError, Forbidden, InvalidValue
from admincenter.models import (
    ActorType,
    Group,
    GroupKind,
    GroupMembership,
    MembershipOwner,
    Organization,
    Outcome,
    SsoConnection,
    SsoDomain,
    SystemGroupKey,
    User,
    UserSource,
)
from admincenter.selectors.users import break_glass_admins
from admincenter.services.domains import verified_domain_for
from admincenter.services.groups import group_audit_record
from admincenter.services.sso import connection_audit_record
from admincenter.services.users import NAME_MAX_LENGTH, home_user_get, normalize_email, user_insert
from admincenter.transactions import atomic

PASSWORD_METHOD = "password"

# Reason codes of refusals, each with the sentence the person reads. They never name
# another organization or say whether an address exists elsewhere.
REFUSAL_MESSAGES = {
    "invalid_email": (
        "Your identity provider sent an email address that is not valid, so you cannot be signed in. "
        "Ask your IT administrator to check the email attribute of the application."
    ),
    "other_organization": (
        "Your account is not managed by this organization's identity provider, so it cannot sign you in. "
        "Sign in through your own organization's identity provider, or with your password."
    ),
    "deactivated": "Your account is deactivated. Ask your IT administrator to reactivate it.",
    "not_assigned": (
        "You don't have an account here yet. Your organization creates accounts from its identity provider: "
        "ask your IT administrator to assign you the Opti ID Admin Center application, then sign in again."
    ),
    "not_provisioned": (
        "Your organization manages accounts from its identity provider, and yours was not provisioned by it. "
        "Ask your IT administrator to assign you the Opti ID Admin Center application, then sign in again."
    ),
    "domain_not_verified": (
        "No account can be created for your email address, because its domain is not verified by your "
        "organization. Ask your IT administrator to verify the domain or to create your account."
    ),
    "require_sso": (
        "Your organization requires signing in with its identity provider. "
        "Enter your email address and continue to your identity provider instead of using a password."
    ),
}


def user_audit_record(
    action: actions.AuditAction, *, organization: Organization, actor: Actor, user: User, **values
) -> None:
    """One audit event about ``user``, under its id and email; ``values`` are ``audit_record``'s
    (``before``, ``after``...)."""
    audit_record(
        organization=organization,
        actor=actor,
        action=action,
        target_type="user",
        target_id=user.pk,
        target_label=user.email,
        **values,
    )


@dataclass(frozen=True)
class SignInContext:
    """The request a sign-in comes from, copied onto its audit events."""

    request_id: str = ""
    ip: str | None = None
    user_agent: str = ""


class SignInRefused(DomainError):
    """A verified person who must not be signed in. ``reason`` is a short code (audited),
    ``message`` the sentence shown to them, ``action`` the audit action it was recorded as."""

    code = "sign_in_refused"

    def __init__(self, reason: str, *, action: actions.AuditAction = actions.LOGIN_REFUSED):
        super().__init__(REFUSAL_MESSAGES[reason])
        self.reason = reason
        self.action = action.name  # the stored name, as callers compare it


def _sign_in_actor(label: str, context: SignInContext, user: User | None = None) -> Actor:
    """The person signing in is the author of what their sign-in does."""
    return Actor(type=ActorType.JIT_LOGIN, id=str(user.pk) if user else "", label=label).with_request(
        request_id=context.request_id, ip=context.ip, user_agent=context.user_agent
    )


# --- SSO sign-in -----------------------------------------------------------------


def sso_sign_in(*, connection: SsoConnection, identity, context: SignInContext) -> User:
    """The user a verified ``identity`` (``sso.identity.SsoIdentity``) from ``connection``
    signs in as, created in JIT mode when the rules allow it; or ``SignInRefused``."""
    email = (identity.email or "").strip().lower()
    actor = _sign_in_actor(email, context)
    try:
        user = _sso_sign_in(connection, identity, email, actor)
    except SignInRefused as refusal:
        _record_refusal(connection.organization, email, refusal, actor, protocol=connection.protocol)
        outcome = "jit_refused" if refusal.action == actions.LOGIN_JIT_REFUSED.name else "refused"
        metrics.sign_in_count(method="sso", outcome=outcome, organization=connection.organization)
        raise
    metrics.sign_in_count(method="sso", outcome="success", organization=connection.organization)
    return user


@atomic
def _record_refusal(organization: Organization, email: str, refusal: SignInRefused, actor: Actor, **after) -> None:
    audit_record(
        organization=organization,
        actor=actor,
        action=refusal.action,
        target_type="user",
        target_label=email,
        after={"reason": refusal.reason, **after},
        outcome=Outcome.DENIED,
        status_code=403,
    )


@atomic
def _sso_sign_in(connection: SsoConnection, identity, email: str, actor: Actor) -> User:
    # Read afresh: the provisioning mode may have changed since the flow started.
    organization = Organization.objects.get(pk=connection.organization_id)
    try:
        email = normalize_email(email)
    except InvalidValue:
        raise SignInRefused("invalid_email") from None
    user = _locked_user(email)
    if user is None and not organization.is_scim_mode:
        user = _jit_create(organization, identity, email, actor)
        created = user is not None
        if user is None:  # a concurrent sign-in of the same person created them first
            user = _locked_user(email)
    else:
        created = False
    if user is None:
        # SCIM mode: JIT is off (or, in JIT mode, the account vanished again mid-race).
        raise SignInRefused("not_assigned", action=actions.LOGIN_JIT_REFUSED)
    if user.home_organization_id != organization.pk:
        raise SignInRefused("other_organization")
    if not user.is_active:
        raise SignInRefused("deactivated")
    if organization.is_scim_mode:
        if not user.is_scim_managed:
            raise SignInRefused("not_provisioned")
    else:
        if not created and not user.is_scim_managed:
            _update_names(organization, user, identity, actor)
        if connection.group_claims_enabled:
            _add_group_claims(organization, connection, user, identity.groups, actor)
    user_audit_record(
        actions.LOGIN_SUCCESS,
        organization=organization,
        actor=replace(actor, id=str(user.pk)),
        user=user,
        after={"method": connection.protocol, "connection": connection.name},
    )
    return user


def _locked_user(email: str) -> User | None:
    return User.objects.select_for_update().filter(email=email).first()


def _idp_name(value: str) -> str:
    """The IdP's names are cut to fit rather than refusing the sign-in."""
    return (value or "").strip()[:NAME_MAX_LENGTH]


def _jit_create(organization: Organization, identity, email: str, actor: Actor) -> User | None:
    """A new home user with source ``jit``, for an email in a domain the organization
    verified; None when a concurrent sign-in created the same address first."""
    domain = verified_domain_for(email)
    if domain is None or domain.organization_id != organization.pk:
        raise SignInRefused("domain_not_verified", action=actions.LOGIN_JIT_REFUSED)
    user = User(
        email=email,
        home_organization=organization,
        given_name=_idp_name(identity.given_name),
        family_name=_idp_name(identity.family_name),
        source=UserSource.JIT,
    )
    user.set_unusable_password()
    try:
        user_insert(
            organization=organization,
            user=user,
            actor=actor,
            audit_after={
                "email": email,
                "given_name": user.given_name,
                "family_name": user.family_name,
                "source": UserSource.JIT.value,
            },
        )
    except Conflict:
        return None
    return user


def _update_names(organization: Organization, user: User, identity, actor: Actor) -> None:
    """Names follow the IdP at every sign-in; an attribute the IdP leaves out keeps the name."""
    before, after = changed_fields(
        {"given_name": user.given_name, "family_name": user.family_name},
        {
            "given_name": _idp_name(identity.given_name) or user.given_name,
            "family_name": _idp_name(identity.family_name) or user.family_name,
        },
    )
    if not after:
        return
    for field, value in after.items():
        setattr(user, field, value)
    user.updated_at = timezone.now()
    user.save(update_fields=[*after, "updated_at"])
    user_audit_record(
        actions.USER_UPDATE,
        organization=organization,
        actor=actor,
        user=user,
        before=before,
        after=after,
    )


def _add_group_claims(organization: Organization, connection: SsoConnection, user: User, claims, actor: Actor) -> None:
    """``jit`` memberships in the existing custom groups the claim names (case-insensitive).
    Never creates a group, never touches SCIM, product or system groups, except *Admin
    Center Administrators* when the connection's separate opt-in is on."""
    names = {str(n).strip().lower() for n in claims or () if str(n or "").strip()}
    if not names:
        return
    claimable = Q(kind=GroupKind.CUSTOM)
    if connection.group_claims_grant_admin:
        claimable |= Q(kind=GroupKind.SYSTEM, system_key=SystemGroupKey.ADMIN_CENTER_ADMINS)
    groups = list(
        Group.objects.filter(claimable, organization=organization)
        .annotate(lower_name=Lower("name"))
        .filter(lower_name__in=names)
        .exclude(memberships__user=user)
        .order_by("name")
    )
    if not groups:
        return
    GroupMembership.objects.bulk_create(
        [GroupMembership(group=g, user=user, managed_by=MembershipOwner.JIT, added_by=actor.display) for g in groups],
        ignore_conflicts=True,
    )
    for group in groups:
        group_audit_record(
            actions.GROUP_MEMBER_ADD,
            organization=organization,
            actor=actor,
            group=group,
            after={"members": [user.email], "via": "jit"},
        )


def sso_validation_failed(*, connection: SsoConnection, error, context: SignInContext) -> None:
    """Audit a response that failed a protocol check (``SsoValidationError``): its reason
    code only, never the assertion, the token or the error's detail."""
    _record_failure(connection, error.reason, _sign_in_actor("unidentified person", context))
    metrics.sign_in_count(method="sso", outcome="failure", organization=connection.organization)


@atomic
def _record_failure(connection: SsoConnection, reason: str, actor: Actor) -> None:
    connection_audit_record(
        actions.LOGIN_FAILURE,
        organization=connection.organization,
        actor=actor,
        connection=connection,
        after={"reason": reason, "protocol": connection.protocol, "connection": connection.name},
        outcome=Outcome.FAILED,
        status_code=400,
    )


@atomic
def sso_connection_test_record(*, connection: SsoConnection, identity, actor: Actor) -> None:
    """Audit a Test sign-in: who tested which connection and for which email (nothing else
    the IdP sent)."""
    connection_audit_record(
        actions.SSO_CONNECTION_TEST,
        organization=connection.organization,
        actor=actor,
        connection=connection,
        after={"protocol": connection.protocol, "email": (identity.email or "").strip().lower()},
    )


# --- Password sign-in ------------------------------------------------------------


def password_sign_in(*, user: User, context: SignInContext) -> None:
    """After the password checked out: refuse it when the person's home organization
    requires SSO and they are not break-glass; otherwise audit the success."""
    actor = _sign_in_actor(user.email, context, user)
    organization = user.home_organization
    if organization is not None and organization.require_sso and not user.local_login_allowed:
        refusal = SignInRefused("require_sso")
        _record_refusal(organization, user.email, refusal, actor, method=PASSWORD_METHOD)
        metrics.sign_in_count(method="password", outcome="refused", organization=organization)
        raise refusal
    _record_password_success(user, actor)
    metrics.sign_in_count(method="password", outcome="success", organization=organization)


@atomic
def _record_password_success(user: User, actor: Actor) -> None:
    user_audit_record(
        actions.LOGIN_SUCCESS,
        organization=user.home_organization,
        actor=actor,
        user=user,
        after={"method": PASSWORD_METHOD},
    )


# --- Sign-in policy: require SSO, break-glass --------------------------------------


def _has_ready_connection_with_verified_domain(organization: Organization) -> bool:
    verified = SsoDomain.objects.filter(organization=organization, verified_at__isnull=False).select_related(
        "connection"
    )
    return any(d.connection.organization_id == organization.pk and d.connection.is_ready for d in verified)


@atomic
def organization_require_sso_set(*, organization: Organization, require: bool, actor: Actor) -> Organization:
    """Switch "require SSO". Turning it on is refused while nobody could sign in through
    SSO (no ready connection with a verified domain) or nobody could get in without it
    (no active break-glass administrator with a password)."""
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    if organization.require_sso == require:
        return organization
    if require:
        if not _has_ready_connection_with_verified_domain(organization):
            raise Forbidden(
                "SSO cannot be required yet: no SSO connection with a verified domain is ready to sign anyone in. "
                "Complete a connection's settings and verify its domain first.",
                field="require_sso",
            )
        if not break_glass_admins(organization=organization):
            raise Forbidden(
                "SSO cannot be required yet: no active administrator is allowed to sign in with a password. "
                "Mark at least one administrator who has a password as break-glass (on their user page) first, "
                "so an outage of your identity provider never locks everyone out.",
                field="require_sso",
            )
    organization.require_sso = require
    organization.save(update_fields=["require_sso"])
    audit_record(
        organization=organization,
        actor=actor,
        action=actions.ORGANIZATION_REQUIRE_SSO,
        target_type="organization",
        target_id=organization.pk,
        target_label=organization.name,
        before={"require_sso": not require},
        after={"require_sso": require},
    )
    return organization


@atomic
def user_local_login_set(*, organization: Organization, user: User, allowed: bool, actor: Actor) -> User:
    """Mark a home user break-glass (password sign-in kept while SSO is required), or not.
    While SSO is required, the last break-glass administrator keeps the mark."""
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    user = home_user_get(organization=organization, user_id=user.pk, for_update=True)
    if user.local_login_allowed == allowed:
        return user
    if allowed and not user.has_usable_password():
        raise InvalidValue(
            f"{user.email} has no password, so they could not sign in with one. "
            "Break-glass is for people who have a password.",
            field="local_login_allowed",
        )
    if not allowed and organization.require_sso and not break_glass_admins(organization=organization, excluding=user):
        raise Forbidden(
            f"{user.email} is the last administrator who may sign in with a password while SSO is required. "
            "Mark another administrator as break-glass first, or stop requiring SSO.",
            field="local_login_allowed",
        )
    user.local_login_allowed = allowed
    user.updated_at = timezone.now()
    user.save(update_fields=["local_login_allowed", "updated_at"])
    user_audit_record(
        actions.USER_LOCAL_LOGIN,
        organization=organization,
        actor=actor,
        user=user,
        before={"local_login_allowed": not allowed},
        after={"local_login_allowed": allowed},
    )
    return user
