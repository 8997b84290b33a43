"""What a sign-in does (docs/sso.md): JIT creation in verified domains only, the home
organization rule, SCIM mode, deactivated users, group claims, the audit trail of every
outcome, password sign-in under "require SSO", and the sign-in policy switches."""

import pytest
from django.db import transaction

from admincenter import services
from admincenter.errors import Conflict, Forbidden, InvalidValue, NotFound
from admincenter.models import (
    ActorType,
    AuditEvent,
    Group,
    GroupKind,
    GroupMembership,
    MembershipOwner,
    Organization,
    Outcome,
    SsoConnection,
    SsoDomain,
    User,
    UserSource,
)
from admincenter.services import Actor, signin
from admincenter.services.signin import SignInContext, SignInRefused
from sso.identity import SsoIdentity, SsoValidationError
from tests.conftest import ADMIN_PASSWORD, OPERATOR
from tests.factories import GroupFactory, UserFactory, sso_domain_verify

pytestmark = pytest.mark.django_db

CONTEXT = SignInContext(request_id="req-7", ip="198.51.100.4", user_agent="Firefox/131")


def sign_in(connection, email, **fields):
    return signin.sso_sign_in(connection=connection, identity=SsoIdentity(email=email, **fields), context=CONTEXT)


def events(action, **filters):
    return list(AuditEvent.objects.filter(action=action, **filters).order_by("id"))


def memberships_of(user):
    return {(m.group.name, m.managed_by) for m in GroupMembership.objects.filter(user=user).select_related("group")}


@pytest.fixture
def verified(organization):
    sso_domain_verify(organization)
    return organization


@pytest.fixture
def claims_connection(verified, sso_connection):
    SsoConnection.objects.filter(pk=sso_connection.pk).update(group_claims_enabled=True)
    sso_connection.refresh_from_db()
    return sso_connection


# --- JIT mode ----------------------------------------------------------------------


def test_jit_creates_a_user_in_a_verified_domain_who_joins_everyone(verified, sso_connection):
    user = sign_in(sso_connection, "New.Person@ACME.test", given_name="New", family_name="Person")
    assert user.email == "new.person@acme.test"
    assert (user.source, user.home_organization, user.given_name, user.family_name) == (
        UserSource.JIT,
        verified,
        "New",
        "Person",
    )
    assert not user.has_usable_password()
    assert memberships_of(user) == {("Everyone", MembershipOwner.SYSTEM)}
    [created] = events("user.create", target_id=str(user.pk))
    assert (created.actor_type, created.actor_label) == (ActorType.JIT_LOGIN, "new.person@acme.test")
    assert created.after["source"] == "jit"
    [success] = events("login.success")
    assert (success.organization, success.outcome, success.target_id) == (verified, Outcome.SUCCESS, str(user.pk))
    assert success.after == {"method": "saml", "connection": "PingOne"}
    assert (success.request_id, success.ip, success.user_agent) == ("req-7", "198.51.100.4", "Firefox/131")
    assert success.actor_id == str(user.pk)


def test_jit_refuses_an_unknown_email_in_a_claimed_but_unverified_domain(organization, sso_connection):
    with pytest.raises(SignInRefused) as refused:
        sign_in(sso_connection, "new@acme.test")
    assert refused.value.reason == "domain_not_verified"
    assert "not verified" in refused.value.message
    assert not User.objects.filter(email="new@acme.test").exists()
    [event] = events("login.jit_refused")
    assert (event.organization, event.outcome, event.target_label) == (organization, Outcome.DENIED, "new@acme.test")
    assert event.after == {"reason": "domain_not_verified", "protocol": "saml"}
    assert not events("login.success")


def test_jit_refuses_a_domain_another_organization_verified(verified, sso_connection, other_organization):
    sso_domain_verify(other_organization, "globex.test")
    with pytest.raises(SignInRefused) as refused:
        sign_in(sso_connection, "newcomer@globex.test")
    assert refused.value.reason == "domain_not_verified"
    assert not User.objects.filter(email="newcomer@globex.test").exists()


def test_names_follow_the_idp_at_each_sign_in(verified, sso_connection, manual_user):
    old_family = manual_user.family_name
    user = sign_in(sso_connection, "MANUAL@acme.test", given_name="Renamed")
    assert user.pk == manual_user.pk
    user.refresh_from_db()
    assert (user.given_name, user.family_name, user.source) == ("Renamed", old_family, UserSource.MANUAL)
    [update] = events("user.update")
    assert (update.actor_type, update.before.keys(), update.after) == (
        ActorType.JIT_LOGIN,
        {"given_name"},
        {"given_name": "Renamed"},
    )
    sign_in(sso_connection, "manual@acme.test", given_name="Renamed")
    assert len(events("user.update")) == 1  # the same names again change nothing
    assert len(events("login.success")) == 2


def test_overlong_idp_names_are_cut_to_fit_instead_of_refusing(verified, sso_connection):
    user = sign_in(sso_connection, "long.names@acme.test", given_name="G" * 300, family_name="F" * 200)
    user.refresh_from_db()
    assert (len(user.given_name), len(user.family_name)) == (150, 150)


def test_an_address_that_is_not_an_email_is_refused(verified, sso_connection):
    with pytest.raises(SignInRefused) as refused:
        sign_in(sso_connection, "not-an-email")
    assert refused.value.reason == "invalid_email"
    assert events("login.refused")[0].after["reason"] == "invalid_email"


def test_a_concurrent_first_sign_in_of_the_same_person_signs_in_the_user_it_created(
    verified, sso_connection, monkeypatch
):
    """Two tabs finishing a first sign-in together: the slower one loses the insert and
    signs in as the user the faster one created."""
    winner = UserFactory(organization=verified, email="twin@acme.test", source=UserSource.JIT)
    reads = []
    real_locked_user = signin._locked_user

    def first_read_misses(email):
        reads.append(email)
        return None if len(reads) == 1 else real_locked_user(email)

    monkeypatch.setattr(signin, "_locked_user", first_read_misses)
    user = sign_in(sso_connection, "twin@acme.test", given_name="Twin")
    assert user.pk == winner.pk
    assert User.objects.filter(email="twin@acme.test").count() == 1
    assert not events("user.create", target_label="twin@acme.test")
    assert len(events("login.success")) == 1


# --- The home organization decides -------------------------------------------------------


@pytest.mark.parametrize("mode", ["jit", "scim"])
def test_a_user_of_another_organization_is_never_signed_in(organization, sso_connection, hank, mode):
    sso_domain_verify(organization)
    Organization.objects.filter(pk=organization.pk).update(provisioning_mode=mode)
    snapshot = User.objects.filter(pk=hank.pk).values().get()
    with pytest.raises(SignInRefused) as refused:
        sign_in(sso_connection, hank.email, given_name="Hijack")
    assert refused.value.reason == "other_organization"
    assert "Globex" not in refused.value.message
    assert User.objects.filter(pk=hank.pk).values().get() == snapshot
    [event] = events("login.refused")
    assert (event.organization, event.outcome, event.after["reason"]) == (
        organization,
        Outcome.DENIED,
        "other_organization",
    )


def test_a_collaborator_signs_in_through_their_home_organization_only(verified, sso_connection, hank):
    services.collaborator_add(organization=verified, email=hank.email, actor=OPERATOR)
    with pytest.raises(SignInRefused) as refused:
        sign_in(sso_connection, hank.email)
    assert refused.value.reason == "other_organization"


def test_a_platform_operator_is_not_signed_in_by_an_organizations_idp(verified, sso_connection):
    User.objects.create_superuser("ops@acme.test", "Operator-Pass-1")
    with pytest.raises(SignInRefused) as refused:
        sign_in(sso_connection, "ops@acme.test")
    assert refused.value.reason == "other_organization"


def test_a_deactivated_user_is_refused_in_jit_mode(verified, sso_connection, manual_user):
    User.objects.filter(pk=manual_user.pk).update(is_active=False)
    with pytest.raises(SignInRefused) as refused:
        sign_in(sso_connection, manual_user.email, given_name="Changed")
    assert refused.value.reason == "deactivated"
    manual_user.refresh_from_db()
    assert manual_user.given_name != "Changed"
    assert events("login.refused")[0].after["reason"] == "deactivated"


# --- SCIM mode ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_in_scim_mode_an_unknown_person_is_refused_and_the_refusal_is_committed(scim_organization, sso_connection):
    sso_domain_verify(scim_organization)
    assert transaction.get_autocommit()  # no test transaction around us: what we read is committed
    with pytest.raises(SignInRefused) as refused:
        sign_in(sso_connection, "newcomer@acme.test", given_name="New")
    assert refused.value.reason == "not_assigned"
    assert refused.value.action == "login.jit_refused"
    assert "ask your IT administrator to assign you" in refused.value.message
    assert not User.objects.filter(email="newcomer@acme.test").exists()
    [event] = AuditEvent.objects.filter(action="login.jit_refused")
    assert (event.organization_id, event.outcome, event.actor_type, event.target_label) == (
        scim_organization.pk,
        Outcome.DENIED,
        ActorType.JIT_LOGIN,
        "newcomer@acme.test",
    )
    assert event.after == {"reason": "not_assigned", "protocol": "saml"}


def test_in_scim_mode_a_provisioned_user_signs_in_unchanged_and_claims_are_ignored(
    scim_organization, sso_connection, scim_managed_user, custom_group
):
    SsoConnection.objects.filter(pk=sso_connection.pk).update(group_claims_enabled=True)
    sso_connection.refresh_from_db()
    user = sign_in(sso_connection, scim_managed_user.email.upper(), given_name="Changed", groups=("Marketing",))
    assert user.pk == scim_managed_user.pk
    user.refresh_from_db()
    assert user.given_name == scim_managed_user.given_name
    assert not custom_group.memberships.filter(user=user).exists()
    assert [e.action for e in AuditEvent.objects.filter(actor_type=ActorType.JIT_LOGIN)] == ["login.success"]


def test_in_scim_mode_a_deactivated_user_is_refused(scim_organization, sso_connection, scim_managed_user):
    User.objects.filter(pk=scim_managed_user.pk).update(is_active=False)
    with pytest.raises(SignInRefused) as refused:
        sign_in(sso_connection, scim_managed_user.email)
    assert refused.value.reason == "deactivated"
    assert events("login.refused", target_label=scim_managed_user.email)


def test_in_scim_mode_a_user_the_idp_did_not_provision_is_refused(scim_organization, sso_connection, manual_user):
    with pytest.raises(SignInRefused) as refused:
        sign_in(sso_connection, manual_user.email)
    assert refused.value.reason == "not_provisioned"
    assert events("login.refused")[0].after["reason"] == "not_provisioned"


# --- Group claims ------------------------------------------------------------------------


def test_group_claims_are_off_by_default(verified, sso_connection, custom_group):
    user = sign_in(sso_connection, "claims@acme.test", groups=("Marketing",))
    assert memberships_of(user) == {("Everyone", MembershipOwner.SYSTEM)}


def test_group_claims_only_add_to_existing_custom_groups(claims_connection, custom_group, cms_instance):
    product_group = Group.objects.filter(product_instance=cms_instance).first()
    GroupFactory(organization=claims_connection.organization, name="Pushed", kind=GroupKind.SCIM)
    user = sign_in(
        claims_connection,
        "claims@acme.test",
        groups=(" MARKETING ", "Everyone", "Admin Center Administrators", product_group.name, "Pushed", "Nope", ""),
    )
    assert memberships_of(user) == {("Everyone", MembershipOwner.SYSTEM), ("Marketing", MembershipOwner.JIT)}
    assert not Group.objects.filter(name__iexact="nope").exists()
    [event] = events("group.member.add", target_id=str(custom_group.pk))
    assert (event.actor_type, event.after) == (ActorType.JIT_LOGIN, {"members": ["claims@acme.test"], "via": "jit"})
    assert AuditEvent.objects.filter(action="group.member.add", actor_type=ActorType.JIT_LOGIN).count() == 1


def test_group_claims_add_administrators_only_with_the_separate_opt_in(claims_connection, admins_group):
    user = sign_in(claims_connection, "would.be.admin@acme.test", groups=("admin center administrators",))
    assert not admins_group.memberships.filter(user=user).exists()
    SsoConnection.objects.filter(pk=claims_connection.pk).update(group_claims_grant_admin=True)
    claims_connection.refresh_from_db()
    sign_in(claims_connection, "would.be.admin@acme.test", groups=("admin center administrators",))
    assert admins_group.memberships.get(user=user).managed_by == MembershipOwner.JIT
    assert events("group.member.add", target_id=str(admins_group.pk))


def test_group_claims_keep_an_existing_admin_row(claims_connection, manual_user, custom_group):
    services.group_members_add(
        organization=claims_connection.organization, group=custom_group, user_ids=[manual_user.pk], actor=OPERATOR
    )
    sign_in(claims_connection, manual_user.email, groups=("Marketing",))
    assert GroupMembership.objects.get(group=custom_group, user=manual_user).managed_by == MembershipOwner.ADMIN
    assert len(events("group.member.add", target_id=str(custom_group.pk))) == 1


def test_admins_may_remove_memberships_a_claim_added(claims_connection, custom_group):
    user = sign_in(claims_connection, "jit@acme.test", groups=("Marketing",))
    services.group_members_remove(
        organization=claims_connection.organization, group=custom_group, user_ids=[user.pk], actor=OPERATOR
    )
    assert not custom_group.memberships.exists()


# --- Protocol failures ------------------------------------------------------------------


def test_a_validation_failure_is_audited_with_its_reason_only(organization, sso_connection):
    error = SsoValidationError("signature_invalid", "<samlp:Response>secret assertion</samlp:Response>")
    signin.sso_validation_failed(connection=sso_connection, error=error, context=CONTEXT)
    [event] = events("login.failure")
    assert (event.organization, event.outcome, event.target_label) == (organization, Outcome.FAILED, "PingOne")
    assert event.after == {"reason": "signature_invalid", "protocol": "saml", "connection": "PingOne"}
    assert "secret assertion" not in str(event.before) + str(event.after)
    assert event.request_id == "req-7"


def test_a_test_sign_in_is_audited_as_a_connection_test(organization, sso_connection, admin_user):
    identity = SsoIdentity(email="Tester@Acme.test", attributes={"secret": "value"})
    signin.sso_connection_test_record(connection=sso_connection, identity=identity, actor=Actor.admin(admin_user))
    [event] = events("sso_connection.test")
    assert (event.target_label, event.actor_label) == ("PingOne", "admin@acme.test")
    assert event.after == {"protocol": "saml", "email": "tester@acme.test"}
    assert not User.objects.filter(email="tester@acme.test").exists()


# --- Password sign-in and require SSO --------------------------------------------------


def test_password_sign_in_is_audited(organization, admin_user):
    signin.password_sign_in(user=admin_user, context=CONTEXT)
    [event] = events("login.success")
    assert (event.organization, event.target_label, event.after) == (
        organization,
        "admin@acme.test",
        {"method": "password"},
    )


def test_require_sso_refuses_password_sign_in_except_for_break_glass(organization, admin_user, manual_user):
    Organization.objects.filter(pk=organization.pk).update(require_sso=True)
    User.objects.filter(pk=admin_user.pk).update(local_login_allowed=True)
    manual_user.refresh_from_db()
    with pytest.raises(SignInRefused) as refused:
        signin.password_sign_in(user=manual_user, context=CONTEXT)
    assert refused.value.reason == "require_sso"
    [event] = events("login.refused")
    assert (event.target_label, event.after) == ("manual@acme.test", {"reason": "require_sso", "method": "password"})
    admin_user.refresh_from_db()
    signin.password_sign_in(user=admin_user, context=CONTEXT)
    assert events("login.success")[0].target_label == "admin@acme.test"


def test_require_sso_is_switched_on_and_off_and_audited(ready_to_require):
    org = signin.organization_require_sso_set(organization=ready_to_require, require=True, actor=OPERATOR)
    assert org.require_sso and Organization.objects.get(pk=org.pk).require_sso
    [on] = events("organization.require_sso")
    assert (on.before, on.after, on.target_label) == ({"require_sso": False}, {"require_sso": True}, "Acme")
    signin.organization_require_sso_set(organization=org, require=True, actor=OPERATOR)
    assert len(events("organization.require_sso")) == 1  # no change, no event
    signin.organization_require_sso_set(organization=org, require=False, actor=OPERATOR)
    assert events("organization.require_sso")[-1].after == {"require_sso": False}


def test_require_sso_needs_a_ready_connection_with_a_verified_domain(ready_to_require, sso_connection):
    SsoDomain.objects.filter(connection=sso_connection).update(verified_at=None)
    with pytest.raises(Forbidden, match="verified domain") as refused:
        signin.organization_require_sso_set(organization=ready_to_require, require=True, actor=OPERATOR)
    assert refused.value.field == "require_sso"
    sso_domain_verify(ready_to_require)
    SsoConnection.objects.filter(pk=sso_connection.pk).update(saml_idp_x509_cert="")  # a draft again
    with pytest.raises(Forbidden, match="verified domain"):
        signin.organization_require_sso_set(organization=ready_to_require, require=True, actor=OPERATOR)
    assert not Organization.objects.get(pk=ready_to_require.pk).require_sso
    assert not events("organization.require_sso")


def test_require_sso_needs_an_active_break_glass_administrator_with_a_password(ready_to_require, admin_user):
    User.objects.filter(pk=admin_user.pk).update(is_active=False)
    with pytest.raises(Forbidden, match="break-glass"):
        signin.organization_require_sso_set(organization=ready_to_require, require=True, actor=OPERATOR)
    User.objects.filter(pk=admin_user.pk).update(is_active=True, password="!unusable")
    with pytest.raises(Forbidden, match="break-glass"):
        signin.organization_require_sso_set(organization=ready_to_require, require=True, actor=OPERATOR)
    # A break-glass user who is not an administrator does not count either.
    User.objects.filter(pk=admin_user.pk).update(local_login_allowed=False)
    UserFactory(organization=ready_to_require, email="bg@acme.test", password=ADMIN_PASSWORD, local_login_allowed=True)
    with pytest.raises(Forbidden, match="break-glass"):
        signin.organization_require_sso_set(organization=ready_to_require, require=True, actor=OPERATOR)


def test_break_glass_is_set_and_audited(organization, admin_user):
    user = signin.user_local_login_set(organization=organization, user=admin_user, allowed=True, actor=OPERATOR)
    assert user.local_login_allowed and User.objects.get(pk=admin_user.pk).local_login_allowed
    [event] = events("user.local_login")
    assert (event.target_label, event.before, event.after) == (
        "admin@acme.test",
        {"local_login_allowed": False},
        {"local_login_allowed": True},
    )
    signin.user_local_login_set(organization=organization, user=admin_user, allowed=True, actor=OPERATOR)
    assert len(events("user.local_login")) == 1


def test_break_glass_needs_a_password(organization, manual_user):
    with pytest.raises(InvalidValue, match="no password") as refused:
        signin.user_local_login_set(organization=organization, user=manual_user, allowed=True, actor=OPERATOR)
    assert refused.value.field == "local_login_allowed"
    assert not events("user.local_login")


def test_the_last_break_glass_administrator_keeps_it_while_sso_is_required(ready_to_require, admin_user):
    signin.organization_require_sso_set(organization=ready_to_require, require=True, actor=OPERATOR)
    with pytest.raises(Forbidden, match="last administrator"):
        signin.user_local_login_set(organization=ready_to_require, user=admin_user, allowed=False, actor=OPERATOR)
    assert User.objects.get(pk=admin_user.pk).local_login_allowed


def test_break_glass_is_only_for_the_organizations_own_users(organization, hank):
    with pytest.raises(NotFound):
        signin.user_local_login_set(organization=organization, user=hank, allowed=True, actor=OPERATOR)


def test_the_last_break_glass_administrator_cannot_be_deactivated_or_deleted_while_sso_is_required(
    ready_to_require, admin_user, admins_group, manual_user, admin
):
    # A second administrator without a password path: the last-administrator rule alone allows this.
    services.group_members_add(
        organization=ready_to_require, group=admins_group, user_ids=[manual_user.pk], actor=admin
    )
    signin.organization_require_sso_set(organization=ready_to_require, require=True, actor=OPERATOR)
    ready_to_require.refresh_from_db()
    for attempt in (
        lambda: services.user_set_active(organization=ready_to_require, user=admin_user, active=False, actor=OPERATOR),
        lambda: services.user_delete(organization=ready_to_require, user=admin_user, actor=OPERATOR),
    ):
        with pytest.raises(Conflict, match="last administrator who may sign in with a password"):
            attempt()
    admin_user.refresh_from_db()
    assert admin_user.is_active
    # Once SSO is no longer required, the same deactivation goes through.
    signin.organization_require_sso_set(organization=ready_to_require, require=False, actor=OPERATOR)
    ready_to_require.refresh_from_db()
    services.user_set_active(organization=ready_to_require, user=admin_user, active=False, actor=OPERATOR)
    assert not User.objects.get(pk=admin_user.pk).is_active
