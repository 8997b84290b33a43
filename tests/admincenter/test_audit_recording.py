"""Recording: every kind of change writes exactly one AuditEvent with the right fields and
no secrets, a rolled-back change writes none, and a transaction enqueues processing once."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from django.db import transaction
from django.forms.models import model_to_dict

from admincenter import services
from admincenter.audit import actions, enqueue
from admincenter.audit.record import audit_record
from admincenter.errors import Conflict, Forbidden, InvalidValue
from admincenter.models import ActorType, AuditEvent, GroupGrant, Outcome, Role, ScimToken
from admincenter.services import Actor
from tests.factories import OrganizationFactory, UserFactory

OPERATOR = Actor.operator("tests")
PASSWORD = "Sekret-Passw0rd-42"


@dataclass
class Expect:
    action: str
    target_type: str
    target_label: str
    before: dict = field(default_factory=dict)
    after: dict | None = None  # None: not checked key by key
    outcome: str = Outcome.SUCCESS
    actor_type: str = ActorType.ADMIN_USER


@pytest.fixture
def actor(admin_user):
    return Actor.admin(admin_user).with_request(request_id="req-42", ip="203.0.113.7", user_agent="Firefox/130")


# Each case prepares its state with the operator actor, then returns (the change, what to expect).
def _user_create(org, actor):
    change = lambda: services.user_create(  # noqa: E731
        organization=org, email="New@Acme.test", given_name="Nina", password=PASSWORD, actor=actor
    )
    return change, Expect(
        "user.create",
        "user",
        "new@acme.test",
        after={"email": "new@acme.test", "given_name": "Nina", "family_name": "", "source": "manual"},
    )


def _user_update(org, actor):
    user = services.user_create(organization=org, email="bob@acme.test", given_name="Bob", actor=OPERATOR)
    change = lambda: services.user_update(organization=org, user=user, given_name="Robert", actor=actor)  # noqa: E731
    return change, Expect(
        "user.update", "user", "bob@acme.test", before={"given_name": "Bob"}, after={"given_name": "Robert"}
    )


def _user_email_change(org, actor):
    user = services.user_create(organization=org, email="bob@acme.test", actor=OPERATOR)
    change = lambda: services.user_update(organization=org, user=user, email="rob@acme.test", actor=actor)  # noqa: E731
    return change, Expect(
        "user.email.change",
        "user",
        "rob@acme.test",
        before={"email": "bob@acme.test"},
        after={"email": "rob@acme.test"},
    )


def _user_deactivate(org, actor):
    user = services.user_create(organization=org, email="bob@acme.test", actor=OPERATOR)
    change = lambda: services.user_set_active(organization=org, user=user, active=False, actor=actor)  # noqa: E731
    return change, Expect("user.deactivate", "user", "bob@acme.test", before={"active": True}, after={"active": False})


def _user_activate(org, actor):
    user = services.user_create(organization=org, email="bob@acme.test", actor=OPERATOR)
    services.user_set_active(organization=org, user=user, active=False, actor=OPERATOR)
    change = lambda: services.user_set_active(organization=org, user=user, active=True, actor=actor)  # noqa: E731
    return change, Expect("user.activate", "user", "bob@acme.test", before={"active": False}, after={"active": True})


def _user_delete(org, actor):
    user = services.user_create(organization=org, email="bob@acme.test", actor=OPERATOR)
    change = lambda: services.user_delete(organization=org, user=user, actor=actor)  # noqa: E731
    return change, Expect("user.delete", "user", "bob@acme.test", before={"email": "bob@acme.test"}, after={})


def _collaborator_add(org, actor):
    UserFactory(organization=OrganizationFactory(), email="guest@other.test")
    change = lambda: services.collaborator_add(organization=org, email="guest@other.test", actor=actor)  # noqa: E731
    return change, Expect("collaborator.add", "user", "guest@other.test", after={"email": "guest@other.test"})


def _collaborator_remove(org, actor):
    guest = UserFactory(organization=OrganizationFactory(), email="guest@other.test")
    services.collaborator_add(organization=org, email=guest.email, actor=OPERATOR)
    change = lambda: services.collaborator_remove(organization=org, user=guest, actor=actor)  # noqa: E731
    return change, Expect(
        "collaborator.remove", "user", "guest@other.test", before={"email": "guest@other.test", "group_memberships": 0}
    )


def _group_create(org, actor):
    change = lambda: services.group_create(organization=org, name="  Sales  ", actor=actor)  # noqa: E731
    return change, Expect("group.create", "group", "Sales", after={"name": "Sales", "kind": "custom"})


def _group_rename(org, actor):
    group = services.group_create(organization=org, name="Sales", actor=OPERATOR)
    change = lambda: services.group_rename(organization=org, group=group, name="Revenue", actor=actor)  # noqa: E731
    return change, Expect("group.rename", "group", "Revenue", before={"name": "Sales"}, after={"name": "Revenue"})


def _group_delete(org, actor):
    group = services.group_create(organization=org, name="Sales", actor=OPERATOR)
    change = lambda: services.group_delete(organization=org, group=group, actor=actor)  # noqa: E731
    return change, Expect("group.delete", "group", "Sales", before={"name": "Sales", "members": 0}, after={})


def _group_members_add(org, actor):
    group = services.group_create(organization=org, name="Sales", actor=OPERATOR)
    users = [services.user_create(organization=org, email=f"m{i}@acme.test", actor=OPERATOR) for i in range(3)]
    change = lambda: services.group_members_add(  # noqa: E731
        organization=org, group=group, user_ids=[u.pk for u in users], actor=actor
    )
    return change, Expect(
        "group.member.add", "group", "Sales", after={"members": ["m0@acme.test", "m1@acme.test", "m2@acme.test"]}
    )


def _group_members_remove(org, actor):
    group = services.group_create(organization=org, name="Sales", actor=OPERATOR)
    user = services.user_create(organization=org, email="m@acme.test", actor=OPERATOR)
    services.group_members_add(organization=org, group=group, user_ids=[user.pk], actor=OPERATOR)
    change = lambda: services.group_members_remove(  # noqa: E731
        organization=org, group=group, user_ids=[user.pk], actor=actor
    )
    return change, Expect("group.member.remove", "group", "Sales", before={"members": ["m@acme.test"]}, after={})


def _cms(org):
    instance = services.product_instance_create(
        organization=org, product_code="cms", nickname="Production", actor=OPERATOR
    )
    return instance, Role.objects.filter(product=instance.product).order_by("id").first()


def _group_grant_add(org, actor):
    group = services.group_create(organization=org, name="Editors", actor=OPERATOR)
    instance, role = _cms(org)
    change = lambda: services.group_grant_add(  # noqa: E731
        organization=org, group=group, instance=instance, roles=[role], actor=actor
    )
    return change, Expect(
        "group.grant.add",
        "group",
        "Editors",
        after={"instance": str(instance), "instance_id": instance.instance_id, "roles": [role.name]},
    )


def _group_grant_remove(org, actor):
    group = services.group_create(organization=org, name="Editors", actor=OPERATOR)
    instance, role = _cms(org)
    services.group_grant_add(organization=org, group=group, instance=instance, roles=[role], actor=OPERATOR)
    grant = GroupGrant.objects.get(group=group)
    change = lambda: services.group_grant_remove(organization=org, grant=grant, actor=actor)  # noqa: E731
    before = {"instance": str(instance), "instance_id": instance.instance_id, "roles": [role.name]}
    return change, Expect("group.grant.remove", "group", "Editors", before=before, after={})


def _product_instance_create(org, actor):
    change = lambda: services.product_instance_create(  # noqa: E731
        organization=org, product_code="cms", nickname="Staging", actor=actor
    )
    return change, Expect("product_instance.create", "product_instance", "Content Management System – Staging")


def _sso_create(org, actor):
    change = lambda: services.sso_connection_create(  # noqa: E731
        organization=org, name="Okta", protocol="oidc", domains=["acme-labs.test"], actor=actor
    )
    return change, Expect(
        "sso_connection.create",
        "sso_connection",
        "Okta",
        after={"name": "Okta", "protocol": "oidc", "domains": ["acme-labs.test"]},
    )


def _sso_update(org, actor):
    connection = org.sso_connections.get(name="PingOne")
    change = lambda: services.sso_connection_update(  # noqa: E731
        organization=org, connection=connection, name="PingOne EU", actor=actor
    )
    return change, Expect(
        "sso_connection.update",
        "sso_connection",
        "PingOne EU",
        before={"name": "PingOne"},
        after={"name": "PingOne EU"},
    )


def _sso_delete(org, actor):
    connection = services.sso_connection_create(organization=org, name="Okta", protocol="saml", actor=OPERATOR)
    change = lambda: services.sso_connection_delete(organization=org, connection=connection, actor=actor)  # noqa: E731
    return change, Expect("sso_connection.delete", "sso_connection", "Okta", before={"name": "Okta"}, after={})


def _scim_enable(org, actor):
    connection = org.sso_connections.get(name="PingOne")
    change = lambda: services.scim_enable(organization=org, connection=connection, actor=actor)  # noqa: E731
    return change, Expect(
        "scim.enable",
        "sso_connection",
        "PingOne",
        before={"provisioning_mode": "jit"},
        after={"provisioning_mode": "scim"},
    )


def _scim_disable(org, actor):
    services.scim_enable(organization=org, connection=org.sso_connections.get(name="PingOne"), actor=OPERATOR)
    change = lambda: services.scim_disable(organization=org, actor=actor)  # noqa: E731
    return change, Expect("scim.disable", "organization", "acme", before={"provisioning_mode": "scim"})


def _scim_token_issue(org, actor):
    services.scim_enable(organization=org, connection=org.sso_connections.get(name="PingOne"), actor=OPERATOR)
    change = lambda: services.scim_token_issue(organization=org, label="PingOne prod", actor=actor)  # noqa: E731
    return change, Expect("scim.token.create", "scim_token", "")


def _scim_token_revoke(org, actor):
    services.scim_enable(organization=org, connection=org.sso_connections.get(name="PingOne"), actor=OPERATOR)
    token = services.scim_token_issue(organization=org, label="old", actor=OPERATOR).token
    change = lambda: services.scim_token_revoke(organization=org, token=token, actor=actor)  # noqa: E731
    return change, Expect("scim.token.revoke", "scim_token", f"old ({token.token_prefix})")


CASES = {
    "user_create": _user_create,
    "user_update": _user_update,
    "user_email_change": _user_email_change,
    "user_deactivate": _user_deactivate,
    "user_activate": _user_activate,
    "user_delete": _user_delete,
    "collaborator_add": _collaborator_add,
    "collaborator_remove": _collaborator_remove,
    "group_create": _group_create,
    "group_rename": _group_rename,
    "group_delete": _group_delete,
    "group_members_add": _group_members_add,
    "group_members_remove": _group_members_remove,
    "group_grant_add": _group_grant_add,
    "group_grant_remove": _group_grant_remove,
    "product_instance_create": _product_instance_create,
    "sso_connection_create": _sso_create,
    "sso_connection_update": _sso_update,
    "sso_connection_delete": _sso_delete,
    "scim_enable": _scim_enable,
    "scim_disable": _scim_disable,
    "scim_token_issue": _scim_token_issue,
    "scim_token_revoke": _scim_token_revoke,
}


def _secrets() -> set[str]:
    values = {PASSWORD}
    for token in ScimToken.objects.all():
        values.add(token.token_hash)
    return values


def _new_events(since_id: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(id__gt=since_id).order_by("id"))


def _last_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_kind_of_change_writes_exactly_one_event_with_its_fields(case, organization, actor):
    change, expect = case(organization, actor)
    last = _last_id()

    result = change()

    [event] = _new_events(last)
    assert event.organization == organization
    assert event.action == expect.action
    assert event.target_type == expect.target_type
    if expect.target_label:
        assert event.target_label == expect.target_label
    assert event.outcome == expect.outcome
    assert event.processed_at is None and event.summary == ""  # enrichment is asynchronous
    assert event.actor_type == expect.actor_type
    if expect.actor_type == ActorType.ADMIN_USER:
        assert (event.actor_label, event.request_id, event.ip, event.user_agent) == (
            "admin@acme.test",
            "req-42",
            "203.0.113.7",
            "Firefox/130",
        )
    assert event.before == expect.before
    if expect.after is not None:
        assert event.after == expect.after
    raw_values = json.dumps(model_to_dict(event), default=str)
    secrets = _secrets()
    raw_token = getattr(result, "raw", None)
    if raw_token:
        secrets.add(raw_token)
        assert event.after["token_prefix"] == result.token.token_prefix
        assert raw_token.startswith(result.token.token_prefix) and raw_token != result.token.token_prefix
    for secret in secrets:
        assert secret not in raw_values


def test_a_refused_change_writes_no_event(organization, actor):
    services.user_create(organization=organization, email="taken@acme.test", actor=OPERATOR)
    everyone = organization.groups.get(system_key="everyone")
    last = _last_id()

    with pytest.raises(Conflict):
        services.user_create(organization=organization, email="TAKEN@acme.test", actor=actor)
    with pytest.raises(Forbidden):
        services.group_delete(organization=organization, group=everyone, actor=actor)

    assert _new_events(last) == []


def test_a_change_rolled_back_after_its_event_was_written_leaves_no_event(db, operator):
    last = _last_id()
    # organization_create writes organization.create, then fails on the admin's email.
    with pytest.raises(InvalidValue):
        services.organization_create(name="Initech", slug="initech", admin_email="not an email", actor=operator)
    assert _new_events(last) == []


def test_an_outer_rollback_drops_the_events_and_their_enqueue(db, operator, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        org = services.organization_create(name="Initech", slug="initech", actor=operator)
        services.group_create(organization=org, name="Doomed", actor=operator)
        raise RuntimeError("the request failed later")
    assert not AuditEvent.objects.exists()
    assert callbacks == []


def _processing_hooks(callbacks) -> int:
    return sum(1 for cb in callbacks if cb is enqueue._enqueue_processing_hook)


def test_one_transaction_enqueues_processing_once_however_many_events(db, operator, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        org = services.organization_create(
            name="Initech", slug="initech", admin_email="boss@initech.test", actor=operator
        )
        users = [services.user_create(organization=org, email=f"u{i}@initech.test", actor=operator) for i in range(20)]
        group = services.group_create(organization=org, name="Everybody else", actor=operator)
        services.group_members_add(organization=org, group=group, user_ids=[u.pk for u in users], actor=operator)
    assert AuditEvent.objects.filter(organization=org).count() == 25
    assert _processing_hooks(callbacks) == 1


def test_scheduling_runs_no_sql(db, django_assert_num_queries):
    with transaction.atomic(), django_assert_num_queries(0):
        enqueue.schedule_audit_processing()
        enqueue.schedule_audit_processing()


def test_a_savepoint_rolled_back_does_not_lose_the_enqueue_of_a_later_event(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        try:
            with transaction.atomic():
                enqueue.schedule_audit_processing()  # its hook goes with the savepoint
                raise RuntimeError
        except RuntimeError:
            pass
        enqueue.schedule_audit_processing()
        enqueue.schedule_audit_processing()
    assert _processing_hooks(callbacks) == 1


def test_every_scim_request_writes_one_log_row_errors_included(client, scim_organization, scim_token):
    from admincenter.models import ScimRequestLog

    user_body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice@acme.test"}
    created = client.post(
        "/api/scim/v2/Users",
        data=json.dumps(user_body),
        content_type="application/scim+json",
        HTTP_AUTHORIZATION=f"Bearer {scim_token}",
        HTTP_USER_AGENT="PingOne/1.0",
    )
    assert created.status_code == 201, created.content
    duplicate = client.post(
        "/api/scim/v2/Users",
        data=json.dumps(user_body),
        content_type="application/scim+json",
        HTTP_AUTHORIZATION=f"Bearer {scim_token}",
    )
    unauthenticated = client.get("/api/scim/v2/Users", HTTP_AUTHORIZATION="Bearer wrong")

    assert (created.status_code, duplicate.status_code, unauthenticated.status_code) == (201, 409, 401)
    rows = list(ScimRequestLog.objects.order_by("id"))
    assert [(r.method, r.status_code, r.scim_type) for r in rows] == [
        ("POST", 201, ""),
        ("POST", 409, "uniqueness"),
        ("GET", 401, ""),
    ]
    assert rows[0].organization == scim_organization and rows[2].organization is None
    created_event = AuditEvent.objects.get(action="user.create", target_label="alice@acme.test")
    assert created_event.request_id == rows[0].request_id == created["X-Request-Id"]
    assert created_event.actor_type == ActorType.SCIM_TOKEN
    for row in rows:
        assert "Bearer" not in row.path and "wrong" not in json.dumps(model_to_dict(row), default=str)


def test_an_unregistered_action_is_refused_before_a_row_is_written(db):
    with pytest.raises(actions.UnknownAuditAction, match=r"user\.explode"):
        audit_record(organization=None, actor=OPERATOR, action="user.explode")
    forged = actions.AuditAction(name="user.create", done=str, attempted=str)  # not the registered object
    with pytest.raises(actions.UnknownAuditAction):
        audit_record(organization=None, actor=OPERATOR, action=forged)
    assert not AuditEvent.objects.exists()


def test_a_registered_action_is_stored_by_its_name(db):
    event = audit_record(organization=None, actor=OPERATOR, action=actions.AUDIT_PURGE, target_label="retention")
    assert event.action == "audit.purge"
    assert audit_record(organization=None, actor=OPERATOR, action="audit.purge").action == "audit.purge"


def test_the_audit_log_filter_offers_every_registered_action_once():
    names = [action.name for action in vars(actions).values() if isinstance(action, actions.AuditAction)]
    assert len(names) == len(set(names))
    assert tuple(sorted(names)) == actions.KNOWN_ACTIONS
    assert {"login.success", "domain.verify", "organization.require_sso", "user.local_login"} <= set(names)
    assert actions.action_get("user.create").counter == "users_created"
