"""People: local users and collaborators (docs/domain.md#user, docs/domain.md#collaborator,
docs/domain.md#lock-matrix). JIT provisioning at SSO sign-in is tested in tests/admincenter/test_services_signin.py."""

import json

import pytest
from django.db import connection

from admincenter import services
from admincenter.errors import Conflict, Forbidden, InvalidValue, NotFound
from admincenter.models import (
    ActorType,
    AuditEvent,
    GroupMembership,
    MembershipOwner,
    OrgMembership,
    User,
    UserSource,
)
from tests.conftest import OPERATOR

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-Horse-42"


@pytest.fixture
def collaborator(organization, hank):
    services.collaborator_add(organization=organization, email=hank.email, actor=OPERATOR)
    return hank


def the_event(action, **filters):
    [event] = AuditEvent.objects.filter(action=action, **filters)
    return event


def user_snapshot(user):
    user = User.objects.get(pk=user.pk)
    return (user.email, user.given_name, user.family_name, user.is_active, user.deactivated_at, user.password)


def memberships_of(user):
    return {(m.group.name, m.managed_by) for m in GroupMembership.objects.filter(user=user).select_related("group")}


def assert_no_secret(event, *secrets):
    payload = json.dumps([event.before, event.after])
    for secret in secrets:
        assert secret not in payload
    assert not {"password", "password_hash"} & {*event.before, *event.after}


# --- user_create -------------------------------------------------------------------


def test_user_create_lowercases_the_email_joins_everyone_and_audits(organization, admin):
    user = services.user_create(
        organization=organization,
        email="  Jane.Doe@ACME.test ",
        given_name=" Jane ",
        family_name="Doe",
        password=PASSWORD,
        actor=admin,
    )

    assert user.email == "jane.doe@acme.test"
    assert (user.given_name, user.family_name, user.source) == ("Jane", "Doe", UserSource.MANUAL)
    assert user.home_organization == organization
    assert user.check_password(PASSWORD)
    assert not user.is_scim_managed
    assert memberships_of(user) == {("Everyone", MembershipOwner.SYSTEM)}

    event = the_event("user.create", target_id=str(user.pk))
    assert event.actor_type == ActorType.ADMIN_USER
    assert (event.organization, event.target_type, event.target_label) == (organization, "user", "jane.doe@acme.test")
    assert event.before == {}
    assert event.after == {
        "email": "jane.doe@acme.test",
        "given_name": "Jane",
        "family_name": "Doe",
        "source": "manual",
    }
    assert_no_secret(event, PASSWORD, user.password)


def test_user_create_without_password_gets_an_unusable_one(organization, admin):
    user = services.user_create(organization=organization, email="nopass@acme.test", source="invited", actor=admin)
    assert not user.has_usable_password()
    assert user.source == UserSource.INVITED


@pytest.mark.parametrize("email", ["HANK@globex.test", "hank@GLOBEX.TEST", " hank@globex.test"])
def test_emails_are_unique_across_organizations_case_insensitively(organization, other_organization, admin, email):
    events_before = AuditEvent.objects.count()
    with pytest.raises(Conflict) as exc:
        services.user_create(organization=organization, email=email, actor=admin)
    assert exc.value.field == "email"
    assert "globex" not in exc.value.message.replace("hank@globex.test", "")  # never names the holder
    assert User.objects.filter(email__iexact="hank@globex.test").count() == 1
    assert AuditEvent.objects.count() == events_before


def test_a_mixed_case_email_stored_behind_the_services_back_still_collides(organization, admin):
    User.objects.create(email="Mixed@Acme.test", home_organization=organization)
    with pytest.raises(Conflict):
        services.user_create(organization=organization, email="mixed@acme.test", actor=admin)


@pytest.mark.parametrize("email", ["", "not-an-email", "a@", "@acme.test", "a b@acme.test"])
def test_user_create_refuses_bad_emails(organization, admin, email):
    users_before = User.objects.count()
    with pytest.raises(InvalidValue) as exc:
        services.user_create(organization=organization, email=email, actor=admin)
    assert exc.value.field == "email"
    assert User.objects.count() == users_before


@pytest.mark.parametrize("password", ["Xy7!q", "qwertyuiop", "1234567890123", "jane.doe@acme.test"])
def test_user_create_validates_the_password(organization, admin, password):
    events_before = AuditEvent.objects.count()
    with pytest.raises(InvalidValue) as exc:
        services.user_create(
            organization=organization, email="jane.doe@acme.test", given_name="Jane", password=password, actor=admin
        )
    assert exc.value.field == "password"
    assert password not in exc.value.message
    assert not User.objects.filter(email="jane.doe@acme.test").exists()
    assert AuditEvent.objects.count() == events_before


LONG_EMAIL = "a" * 64 + "@" + ("b" * 60 + ".") * 4 + "test"  # valid syntax, 313 characters


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"email": LONG_EMAIL}, "email"),
        ({"email": "long@acme.test", "given_name": "G" * 151}, "given_name"),
        ({"email": "long@acme.test", "family_name": "F" * 151}, "family_name"),
    ],
    ids=["email", "given_name", "family_name"],
)
def test_user_create_refuses_values_longer_than_their_columns(organization, admin, kwargs, field):
    # PostgreSQL would raise DataError; SQLite would silently store the long value.
    with pytest.raises(InvalidValue, match="at most") as exc:
        services.user_create(organization=organization, actor=admin, **kwargs)
    assert exc.value.field == field
    assert not User.objects.filter(email__in=[LONG_EMAIL, "long@acme.test"]).exists()


def test_user_update_refuses_values_longer_than_their_columns(organization, manual_user, admin):
    snapshot = user_snapshot(manual_user)
    with pytest.raises(InvalidValue):
        services.user_update(organization=organization, user=manual_user, email=LONG_EMAIL, actor=admin)
    with pytest.raises(InvalidValue):
        services.user_update(organization=organization, user=manual_user, family_name="F" * 151, actor=admin)
    assert user_snapshot(manual_user) == snapshot
    services.user_update(organization=organization, user=manual_user, family_name="F" * 150, actor=admin)


@pytest.mark.parametrize("source", [UserSource.JIT, UserSource.SCIM, "bogus"])
def test_user_create_only_creates_local_users(organization, admin, source):
    with pytest.raises(InvalidValue):
        services.user_create(organization=organization, email="x@acme.test", source=source, actor=admin)


# --- user_update -------------------------------------------------------------------


def test_user_update_audits_changed_fields_only(organization, manual_user, admin):
    services.user_update(
        organization=organization,
        user=manual_user,
        given_name=" Maria-Renamed ",
        family_name=manual_user.family_name,
        actor=admin,
    )
    manual_user.refresh_from_db()
    assert manual_user.given_name == "Maria-Renamed"
    event = the_event("user.update")
    assert event.actor_type == ActorType.ADMIN_USER
    assert (event.target_id, event.target_label) == (str(manual_user.pk), "manual@acme.test")
    assert "family_name" not in event.before
    assert event.after == {"given_name": "Maria-Renamed"}


def test_user_update_of_the_email_is_lowercased_and_audited_as_an_email_change(organization, manual_user, admin):
    services.user_update(organization=organization, user=manual_user, email="New.Address@Acme.test", actor=admin)
    manual_user.refresh_from_db()
    assert manual_user.email == "new.address@acme.test"
    event = the_event("user.email.change")
    assert (event.before, event.after) == ({"email": "manual@acme.test"}, {"email": "new.address@acme.test"})
    assert event.target_label == "new.address@acme.test"


def test_user_update_without_changes_writes_nothing(organization, manual_user, admin):
    snapshot = user_snapshot(manual_user)
    services.user_update(organization=organization, user=manual_user, email="MANUAL@acme.test", actor=admin)
    assert user_snapshot(manual_user) == snapshot
    assert not AuditEvent.objects.filter(action__in=["user.update", "user.email.change"]).exists()


def test_user_update_refusals_change_nothing(organization, other_organization, manual_user, admin):
    snapshot = user_snapshot(manual_user)
    events_before = AuditEvent.objects.count()
    with pytest.raises(Conflict):
        services.user_update(organization=organization, user=manual_user, email="HANK@globex.test", actor=admin)
    with pytest.raises(InvalidValue):
        services.user_update(organization=organization, user=manual_user, email="nope", actor=admin)
    with pytest.raises(InvalidValue, match="is_staff"):
        services.user_update(organization=organization, user=manual_user, is_staff=True, given_name="X", actor=admin)
    assert user_snapshot(manual_user) == snapshot
    assert AuditEvent.objects.count() == events_before


def test_scim_managed_users_are_locked(scim_organization, scim_managed_user, admin):
    snapshot = user_snapshot(scim_managed_user)
    events_before = AuditEvent.objects.count()
    with pytest.raises(Forbidden, match="identity provider"):
        services.user_update(organization=scim_organization, user=scim_managed_user, given_name="X", actor=admin)
    with pytest.raises(Forbidden):
        services.user_set_active(organization=scim_organization, user=scim_managed_user, active=False, actor=admin)
    with pytest.raises(Forbidden):
        services.user_delete(organization=scim_organization, user=scim_managed_user, actor=admin)
    assert user_snapshot(scim_managed_user) == snapshot
    assert AuditEvent.objects.count() == events_before


def test_users_of_another_organization_are_not_found(organization, hank, admin):
    with pytest.raises(NotFound):
        services.user_update(organization=organization, user=hank, given_name="X", actor=admin)
    with pytest.raises(NotFound):
        services.user_set_active(organization=organization, user=hank, active=False, actor=admin)
    with pytest.raises(NotFound):
        services.user_delete(organization=organization, user=hank, actor=admin)
    assert User.objects.get(pk=hank.pk).is_active


# --- user_set_active ------------------------------------------------------------------


def test_deactivate_and_reactivate(organization, manual_user, admin):
    services.user_set_active(organization=organization, user=manual_user, active=False, actor=admin)
    manual_user.refresh_from_db()
    assert not manual_user.is_active
    assert manual_user.deactivated_at is not None
    event = the_event("user.deactivate")
    assert (event.target_id, event.before, event.after) == (str(manual_user.pk), {"active": True}, {"active": False})
    # Memberships are kept while the user is inactive.
    assert memberships_of(manual_user) == {("Everyone", MembershipOwner.SYSTEM)}

    services.user_set_active(organization=organization, user=manual_user, active=True, actor=admin)
    manual_user.refresh_from_db()
    assert manual_user.is_active
    assert manual_user.deactivated_at is None
    event = the_event("user.activate")
    assert (event.before, event.after) == ({"active": False}, {"active": True})


def test_setting_the_current_state_is_a_no_op(organization, manual_user, admin):
    services.user_set_active(organization=organization, user=manual_user, active=True, actor=admin)
    assert not AuditEvent.objects.filter(action__in=["user.activate", "user.deactivate"]).exists()


def test_the_last_active_admin_cannot_be_deactivated_or_deleted(organization, admin_user, admin):
    events_before = AuditEvent.objects.count()
    with pytest.raises(Forbidden, match="last active member"):
        services.user_set_active(organization=organization, user=admin_user, active=False, actor=admin)
    with pytest.raises(Forbidden, match="last active member"):
        services.user_delete(organization=organization, user=admin_user, actor=admin)
    admin_user.refresh_from_db()
    assert admin_user.is_active
    assert AuditEvent.objects.count() == events_before


def test_an_inactive_second_admin_does_not_count(organization, admin_user, manual_user, admins_group, admin):
    services.group_members_add(organization=organization, group=admins_group, user_ids=[manual_user.pk], actor=admin)
    services.user_set_active(organization=organization, user=manual_user, active=False, actor=admin)
    with pytest.raises(Forbidden):
        services.user_set_active(organization=organization, user=admin_user, active=False, actor=admin)


def test_an_admin_can_be_deactivated_when_another_active_admin_remains(
    organization, admin_user, manual_user, admins_group, admin
):
    services.group_members_add(organization=organization, group=admins_group, user_ids=[manual_user.pk], actor=admin)
    services.user_set_active(organization=organization, user=admin_user, active=False, actor=admin)
    admin_user.refresh_from_db()
    assert not admin_user.is_active


# --- user_delete -------------------------------------------------------------------


def test_user_delete_removes_the_user_and_keeps_the_audit_trail(organization, manual_user, custom_group, admin):
    services.group_members_add(organization=organization, group=custom_group, user_ids=[manual_user.pk], actor=admin)
    pk = manual_user.pk
    services.user_delete(organization=organization, user=manual_user, actor=admin)

    assert not User.objects.filter(pk=pk).exists()
    assert not GroupMembership.objects.filter(user_id=pk).exists()
    event = the_event("user.delete")
    assert event.actor_type == ActorType.ADMIN_USER
    assert (event.target_type, event.target_id, event.target_label) == ("user", str(pk), "manual@acme.test")
    assert event.before == {"email": "manual@acme.test"}
    assert AuditEvent.objects.filter(target_id=str(pk)).count() == 1
    # The email is free again.
    services.user_create(organization=organization, email="manual@acme.test", actor=admin)


def test_deleting_a_person_covers_every_relation_of_user():
    """hotsql names what deleting a person touches; a new relation to User must be added
    there (or to the operator-only list), or deletions would break on it."""
    from admincenter import hotsql

    relations = {
        (f.related_model._meta.label, f.field.name)
        for f in User._meta.get_fields(include_hidden=True)
        if f.is_relation and f.auto_created and not f.concrete and not f.many_to_many
    }
    handled = {(m._meta.label, "user") for m in hotsql.USER_DELETED_WITH}
    handled |= {(m._meta.label, field) for m, field in hotsql.USER_UNLINKED_FROM}
    handled |= {(label, "user") for label in hotsql.OPERATOR_ONLY_RELATIONS}
    assert relations == handled


@pytest.mark.parametrize("deletion", ["user_delete", pytest.param("person_row_delete", marks=pytest.mark.postgres)])
def test_deleting_a_person_removes_memberships_everywhere_and_unlinks_what_points_to_them(
    organization, other_organization, manual_user, custom_group, admin, deletion
):
    """The Admin Center's delete, and SCIM's on PostgreSQL (``hotsql.person_row_delete``:
    by id, no read first, returning the row as it was for the audit event)."""
    from admincenter import hotsql
    from admincenter.models import AuditExport, OrgMembership

    services.group_members_add(organization=organization, group=custom_group, user_ids=[manual_user.pk], actor=admin)
    OrgMembership.objects.create(user=manual_user, organization=other_organization)
    report = User.objects.create(email="report@acme.test", home_organization=organization, manager=manual_user)
    export = AuditExport.objects.create(organization=organization, requested_by=manual_user)
    before = User.objects.get(pk=manual_user.pk)

    if deletion == "user_delete":
        services.user_delete(organization=organization, user=manual_user, actor=admin)
    else:
        deleted = hotsql.person_row_delete(organization_id=organization.pk, user_id=manual_user.pk)
        assert {f.attname: getattr(deleted, f.attname) for f in User._meta.concrete_fields} == {
            f.attname: getattr(before, f.attname) for f in User._meta.concrete_fields
        }
        assert hotsql.person_row_delete(organization_id=organization.pk, user_id=before.pk) is None
    connection.check_constraints()  # the foreign keys PostgreSQL would check at commit

    assert not User.objects.filter(pk=before.pk).exists()
    assert not GroupMembership.objects.filter(user_id=before.pk).exists()
    assert not OrgMembership.objects.filter(user_id=before.pk).exists()
    report.refresh_from_db()
    export.refresh_from_db()
    assert (report.manager_id, export.requested_by_id) == (None, None)


@pytest.mark.postgres
def test_person_row_delete_leaves_other_organizations_and_operators_alone(organization, other_organization):
    from admincenter import hotsql

    stranger = User.objects.create(email="stranger@globex.test", home_organization=other_organization)
    operator = User.objects.create(email="ops@acme.test", home_organization=organization, is_staff=True)
    root = User.objects.create(email="root@acme.test", home_organization=organization, is_superuser=True)
    for user in (stranger, operator, root):
        assert hotsql.person_row_delete(organization_id=organization.pk, user_id=user.pk) is None
        assert User.objects.filter(pk=user.pk).exists()


# --- collaborators -------------------------------------------------------------------


def test_collaborator_add_admits_a_user_of_another_organization(organization, hank, admin):
    membership = services.collaborator_add(organization=organization, email=" HANK@Globex.test", actor=admin)
    assert (membership.user, membership.organization) == (hank, organization)
    assert membership.invited_by == "admin_user:admin@acme.test"
    assert membership.accepted_at is not None
    # A collaborator is not a home user and does not join Everyone of the host.
    hank.refresh_from_db()
    assert hank.home_organization.slug == "globex"
    assert not GroupMembership.objects.filter(user=hank, group__organization=organization).exists()
    event = the_event("collaborator.add")
    assert (event.organization, event.target_id, event.after) == (
        organization,
        str(hank.pk),
        {"email": "hank@globex.test"},
    )


def test_collaborator_add_refusals(organization, collaborator, manual_user, admin):
    User.objects.create_superuser(email="ops@platform.test", password=PASSWORD)
    events_before = AuditEvent.objects.count()
    with pytest.raises(Conflict, match="already a collaborator"):
        services.collaborator_add(organization=organization, email="hank@globex.test", actor=admin)
    with pytest.raises(Conflict, match="already a user"):
        services.collaborator_add(organization=organization, email=manual_user.email, actor=admin)
    with pytest.raises(NotFound):
        services.collaborator_add(organization=organization, email="nobody@nowhere.test", actor=admin)
    with pytest.raises(InvalidValue):
        services.collaborator_add(organization=organization, email="ops@platform.test", actor=admin)
    with pytest.raises(InvalidValue):
        services.collaborator_add(organization=organization, email="not-an-email", actor=admin)
    assert OrgMembership.objects.count() == 1
    assert AuditEvent.objects.count() == events_before


def test_collaborator_remove_deletes_their_memberships_in_that_organization_only(
    organization, other_organization, collaborator, custom_group, admins_group, admin
):
    services.group_members_add(organization=organization, group=custom_group, user_ids=[collaborator.pk], actor=admin)
    services.group_members_add(organization=organization, group=admins_group, user_ids=[collaborator.pk], actor=admin)
    assert GroupMembership.objects.filter(user=collaborator, group__organization=organization).count() == 2
    assert GroupMembership.objects.filter(user=collaborator, group__organization=other_organization).count() == 2

    services.collaborator_remove(organization=organization, user=collaborator, actor=admin)

    assert not OrgMembership.objects.filter(user=collaborator).exists()
    assert not GroupMembership.objects.filter(user=collaborator, group__organization=organization).exists()
    assert (
        GroupMembership.objects.filter(user=collaborator, group__organization=other_organization).count() == 2
    )  # Everyone and Globex Sales at home are kept
    assert User.objects.filter(pk=collaborator.pk).exists()
    event = the_event("collaborator.remove")
    assert event.organization == organization
    assert event.before == {"email": "hank@globex.test", "group_memberships": 2}
    assert event.after == {}


def test_collaborator_remove_of_a_non_collaborator_is_not_found(organization, manual_user, hank, admin):
    for user in (manual_user, hank):
        with pytest.raises(NotFound):
            services.collaborator_remove(organization=organization, user=user, actor=admin)
    assert not AuditEvent.objects.filter(action="collaborator.remove").exists()


def test_a_collaborator_who_is_the_last_active_admin_cannot_be_removed(
    organization, admin_user, collaborator, admins_group, admin
):
    services.group_members_add(organization=organization, group=admins_group, user_ids=[collaborator.pk], actor=admin)
    services.user_set_active(organization=organization, user=admin_user, active=False, actor=admin)
    with pytest.raises(Forbidden):
        services.collaborator_remove(organization=organization, user=collaborator, actor=admin)
    assert OrgMembership.objects.filter(user=collaborator, organization=organization).exists()
    assert GroupMembership.objects.filter(user=collaborator, group=admins_group).exists()


def test_a_person_who_is_the_last_admin_of_another_organization_cannot_be_deactivated_or_deleted(
    organization, admin_user, manual_user
):
    """docs/domain.md#last-administrator: every organization keeps an active administrator, also when its last one is a
    collaborator whose home organization deactivates or deletes them."""
    other = services.organization_create(name="Partner", slug="partner", actor=OPERATOR)
    services.collaborator_add(organization=other, email=manual_user.email, actor=OPERATOR)
    admins = other.groups.get(system_key="admin_center_admins")
    services.group_members_add(organization=other, group=admins, user_ids=[manual_user.pk], actor=OPERATOR)

    with pytest.raises(Forbidden, match="last active administrator of another organization"):
        services.user_set_active(organization=organization, user=manual_user, active=False, actor=OPERATOR)
    with pytest.raises(Forbidden, match="last active administrator of another organization"):
        services.user_delete(organization=organization, user=manual_user, actor=OPERATOR)
    manual_user.refresh_from_db()
    assert manual_user.is_active

    second = services.user_create(organization=other, email="second@partner.test", actor=OPERATOR)
    services.group_members_add(organization=other, group=admins, user_ids=[second.pk], actor=OPERATOR)
    services.user_set_active(organization=organization, user=manual_user, active=False, actor=OPERATOR)
    manual_user.refresh_from_db()
    assert not manual_user.is_active
