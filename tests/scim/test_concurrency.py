"""Concurrent SCIM requests on PostgreSQL: a userName is created once, and overlapping
PATCHes to one group never lose a member change (Entra and Okta send them)."""

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

from admincenter import services
from admincenter.models import Group, GroupKind, GroupMembership, MembershipOwner, User, UserSource
from admincenter.services import Actor

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BASE = "/api/scim/v2"
OPERATOR = Actor.operator("tests")


@pytest.fixture
def tenant(db):
    org = services.organization_create(name="Race", slug="race", actor=OPERATOR)
    conn = services.sso_connection_create(organization=org, name="Okta", protocol="saml", actor=OPERATOR)
    services.scim_enable(organization=org, connection=conn, actor=OPERATOR)
    token = services.scim_token_issue(organization=org, label="race", actor=OPERATOR).raw
    return org, conn, token


def _run_concurrently(count: int, request):
    """Start ``count`` requests at the same moment, each on its own DB connection."""
    barrier = threading.Barrier(count)

    def worker(i):
        try:
            barrier.wait(timeout=10)
            return request(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(worker, range(count)))


def _scim_users(org, conn, prefix: str, count: int) -> list[User]:
    """``count`` SCIM-provisioned users of ``org``, named ``{prefix}{i}@race.test``."""
    return [
        User.objects.create(
            id=uuid.uuid4(),
            email=f"{prefix}{i}@race.test",
            home_organization=org,
            source=UserSource.SCIM,
            scim_connection=conn,
        )
        for i in range(count)
    ]


def test_twenty_simultaneous_posts_of_one_username_create_exactly_one_user(tenant):
    _, _, token = tenant
    body = json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "same@race.test"})

    def post(_):
        response = Client(HTTP_AUTHORIZATION=f"Bearer {token}").post(
            f"{BASE}/Users", data=body, content_type="application/scim+json"
        )
        return response.status_code, response.json()

    results = _run_concurrently(20, post)

    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * 19
    assert all(body["scimType"] == "uniqueness" for status, body in results if status == 409)
    assert User.objects.filter(email="same@race.test").count() == 1


def test_concurrent_patches_to_one_group_never_lose_a_member_change(tenant):
    org, conn, token = tenant
    users = _scim_users(org, conn, "m", 20)
    group = Group.objects.create(organization=org, name="Opti_SCIM_Race", kind=GroupKind.SCIM, scim_connection=conn)
    # Members 10-19 are there at the start and are removed concurrently; 0-9 are added.
    GroupMembership.objects.bulk_create(
        [GroupMembership(group=group, user=u, managed_by=MembershipOwner.SCIM) for u in users[10:]]
    )
    Client(HTTP_AUTHORIZATION=f"Bearer {token}").get(f"{BASE}/Groups?count=0")  # see the replacement test

    def patch(i):
        op = "add" if i < 10 else "remove"
        body = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                # Okta repeats the unchanged name with every membership change.
                {"op": "replace", "value": {"id": str(group.pk), "displayName": "Opti_SCIM_Race"}},
                {"op": op, "path": "members", "value": [{"value": str(users[i].pk)}]},
            ],
        }
        response = Client(HTTP_AUTHORIZATION=f"Bearer {token}").patch(
            f"{BASE}/Groups/{group.pk}?excludedAttributes=members",
            data=json.dumps(body),
            content_type="application/scim+json",
        )
        return response.status_code

    assert _run_concurrently(20, patch) == [200] * 20
    members = set(GroupMembership.objects.filter(group=group).values_list("user_id", flat=True))
    assert members == {u.pk for u in users[:10]}


def test_concurrent_full_replacements_of_a_group_serialise(tenant):
    """Ten Push-Now style replacements at once end with exactly one of the ten member
    lists, never a mix: each PATCH reads and rewrites the set under the group's row lock."""
    org, conn, token = tenant
    users = _scim_users(org, conn, "r", 20)
    group = Group.objects.create(organization=org, name="Opti_SCIM_Push", kind=GroupKind.SCIM, scim_connection=conn)
    member_sets = [{users[2 * i].pk, users[2 * i + 1].pk} for i in range(10)]
    # Use the token once first: its throttled last_used_at UPDATE would otherwise make
    # the ten requests queue on the token row and hide a missing group lock.
    Client(HTTP_AUTHORIZATION=f"Bearer {token}").get(f"{BASE}/Groups?count=0")

    def replace(i):
        body = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "replace", "path": "members", "value": [{"value": str(pk)} for pk in member_sets[i]]}
            ],
        }
        return (
            Client(HTTP_AUTHORIZATION=f"Bearer {token}")
            .patch(f"{BASE}/Groups/{group.pk}", data=json.dumps(body), content_type="application/scim+json")
            .status_code
        )

    assert _run_concurrently(10, replace) == [200] * 10
    members = set(GroupMembership.objects.filter(group=group).values_list("user_id", flat=True))
    assert members in member_sets


def test_concurrent_patches_of_different_attributes_of_one_user_all_stick(tenant):
    """Entra PATCHes one attribute per operation and may overlap: each PATCH must see the
    others' committed changes, not write back a stale copy of them."""
    org, conn, token = tenant
    user = User.objects.create(
        id=uuid.uuid4(), email="patched@race.test", home_organization=org, source=UserSource.SCIM, scim_connection=conn
    )
    Client(HTTP_AUTHORIZATION=f"Bearer {token}").get(f"{BASE}/Users?count=0")  # see the replacement test
    enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    changes = [
        ("title", "Engineer"),
        ("displayName", "Pat Ched"),
        ("nickName", "Pat"),
        (f"{enterprise}:department", "R&D"),
        (f"{enterprise}:employeeNumber", "42"),
        ("name.givenName", "Pat"),
        ("name.familyName", "Ched"),
        ("externalId", "ext-42"),
    ]

    def patch(i):
        path, value = changes[i]
        body = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": path, "value": value}],
        }
        return (
            Client(HTTP_AUTHORIZATION=f"Bearer {token}")
            .patch(f"{BASE}/Users/{user.pk}", data=json.dumps(body), content_type="application/scim+json")
            .status_code
        )

    assert _run_concurrently(len(changes), patch) == [200] * len(changes)
    user.refresh_from_db()
    assert (user.title, user.display_name, user.scim_attributes.get("nickName")) == ("Engineer", "Pat Ched", "Pat")
    assert (user.department, user.employee_number, user.external_id) == ("R&D", "42", "ext-42")
    assert (user.given_name, user.family_name) == ("Pat", "Ched")


def test_deprovisioning_removes_a_membership_committed_while_it_waited_for_the_user(tenant):
    """Another transaction holds the user's row and adds them to a group; the DELETE waits
    for it, then must delete that membership too (a statement that started before the
    commit would not see it, and the foreign key would fail at commit: a 500)."""
    from django.db import transaction

    from tests.factories import GroupFactory, UserFactory

    org, _, token = tenant
    user = UserFactory(organization=org, email="leaver@race.test", source=UserSource.SCIM)
    group = GroupFactory(organization=org, name="Custom Team", kind=GroupKind.CUSTOM)
    holding, release = threading.Event(), threading.Event()

    def other_transaction():
        try:
            with transaction.atomic():
                User.objects.select_for_update().get(pk=user.pk)
                GroupMembership.objects.create(group=group, user=user, managed_by=MembershipOwner.ADMIN)
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    def delete():
        try:
            return Client(HTTP_AUTHORIZATION=f"Bearer {token}").delete(f"{BASE}/Users/{user.pk}").status_code
        finally:
            connection.close()

    other = threading.Thread(target=other_transaction)
    other.start()
    assert holding.wait(10)
    with ThreadPoolExecutor(max_workers=1) as pool:
        status = pool.submit(delete)
        for _ in range(100):  # until the DELETE waits for the other transaction's lock
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                if cursor.fetchone()[0]:
                    break
            threading.Event().wait(0.05)
        release.set()
        other.join(10)
        assert status.result(timeout=10) == 204
    assert not User.objects.filter(pk=user.pk).exists()
    assert not GroupMembership.objects.filter(user_id=user.pk).exists()
