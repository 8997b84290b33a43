"""Database work per SCIM request does not grow with the data: constant query counts for
pages of users and groups whatever the page size, group sizes or table size, and for
membership PATCHes whatever the number of members; lookups IdPs use are index scans."""

import json
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from admincenter.models import Group, GroupKind, GroupMembership, MembershipOwner, User
from tests.scim.helpers import scim_users_bulk_create

BASE = "/api/scim/v2"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def client(scim_token):
    return Client(HTTP_AUTHORIZATION=f"Bearer {scim_token}")


def _bulk_users(organization, connection_, count: int) -> list[User]:
    return scim_users_bulk_create(organization, connection_, count, email="u{i}@acme.test", external_id="ext-u{i}")


def _bulk_groups(organization, connection_, users, *, groups: int, members_each: int) -> list[Group]:
    created = Group.objects.bulk_create(
        [
            Group(organization=organization, name=f"Opti_SCIM_G{i}", kind=GroupKind.SCIM, scim_connection=connection_)
            for i in range(groups)
        ]
    )
    GroupMembership.objects.bulk_create(
        [
            GroupMembership(group=g, user=u, managed_by=MembershipOwner.SCIM)
            for g in created
            for u in users[:members_each]
        ],
        batch_size=2000,
    )
    return created


def _queries(client, method: str, path: str, body=None) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as captured:
        if body is None:
            response = getattr(client, method)(path)
        else:
            response = getattr(client, method)(path, data=json.dumps(body), content_type="application/scim+json")
    assert response.status_code < 300, response.content
    return len(captured), response


@pytest.mark.parametrize("rows", [200, 2000])
def test_a_page_of_users_costs_the_same_queries_whatever_the_table_and_page_size(
    client, scim_organization, sso_connection, rows
):
    users = _bulk_users(scim_organization, sso_connection, rows)
    _bulk_groups(scim_organization, sso_connection, users, groups=5, members_each=min(rows, 150))
    client.get(f"{BASE}/Users?count=1")  # the token's throttled last_used_at write happens once

    small, _ = _queries(client, "get", f"{BASE}/Users?count=10")
    large, response = _queries(client, "get", f"{BASE}/Users?count=1000&startIndex=1")
    filtered, _ = _queries(client, "get", f'{BASE}/Users?filter=userName eq "u7@acme.test"')

    body = response.json()
    assert body["totalResults"] == rows + 1  # plus the organization's admin
    assert body["itemsPerPage"] == min(rows + 1, 1000)
    if rows + 1 > 1000:
        assert small == large  # both pages are full: token, COUNT, page, SCIM groups, log row
    else:
        assert large == small - 1  # the whole table fits the page: its length is the total
    assert filtered == small - 1  # a lookup finding 0 or 1 user needs no COUNT
    assert small <= 6


@pytest.mark.parametrize("members_each", [20, 400])
def test_a_page_of_groups_costs_the_same_queries_whatever_the_group_sizes(
    client, scim_organization, sso_connection, members_each
):
    users = _bulk_users(scim_organization, sso_connection, 400)
    _bulk_groups(scim_organization, sso_connection, users, groups=30, members_each=members_each)
    client.get(f"{BASE}/Groups?count=1")

    small, _ = _queries(client, "get", f"{BASE}/Groups?count=2")
    large, response = _queries(client, "get", f"{BASE}/Groups?count=1000")
    without_members, _ = _queries(client, "get", f"{BASE}/Groups?count=1000&excludedAttributes=members")

    resources = response.json()["Resources"]
    assert len(resources) == 30
    assert all(len(r["members"]) == members_each for r in resources)
    assert large == small - 1  # all 30 groups fit the page: no COUNT
    assert without_members == large - 1  # no member query at all
    assert small <= 6


def _members_patch(op: str, users) -> dict:
    return {
        "schemas": [PATCH],
        "Operations": [{"op": op, "path": "members", "value": [{"value": str(u.pk)} for u in users]}],
    }


@pytest.mark.parametrize("members", [10, 1000])
def test_adding_and_removing_members_costs_the_same_queries_for_10_and_1000(
    client, scim_organization, sso_connection, members, django_assert_max_num_queries
):
    users = _bulk_users(scim_organization, sso_connection, members)
    group = _bulk_groups(scim_organization, sso_connection, users, groups=1, members_each=0)[0]
    client.get(f"{BASE}/Groups?count=1")
    path = f"{BASE}/Groups/{group.pk}?excludedAttributes=members"

    with django_assert_max_num_queries(14):
        client.patch(path, data=json.dumps(_members_patch("add", users)), content_type="application/scim+json")
    assert GroupMembership.objects.filter(group=group).count() == members

    with django_assert_max_num_queries(14):
        client.patch(path, data=json.dumps(_members_patch("remove", users)), content_type="application/scim+json")
    assert GroupMembership.objects.filter(group=group).count() == 0


def test_membership_patch_query_count_does_not_depend_on_the_number_of_members(
    client, scim_organization, sso_connection
):
    users = _bulk_users(scim_organization, sso_connection, 1000)
    small_group, large_group = _bulk_groups(scim_organization, sso_connection, users, groups=2, members_each=0)
    client.get(f"{BASE}/Groups?count=1")

    small, _ = _queries(client, "patch", f"{BASE}/Groups/{small_group.pk}", _members_patch("add", users[:10]))
    large, _ = _queries(client, "patch", f"{BASE}/Groups/{large_group.pk}", _members_patch("add", users))
    assert small == large


@pytest.mark.postgres
@pytest.mark.parametrize(
    "model, lookup, index",
    [
        (User, lambda org: User.objects.filter(home_organization=org, email="u1@acme.test"), "email"),
        (
            User,
            lambda org: User.objects.filter(home_organization=org, external_id="ext-u1"),
            "user_org_external_id_idx",
        ),
    ],
)
def test_user_lookups_idps_use_are_index_scans(scim_organization, sso_connection, model, lookup, index):
    _bulk_users(scim_organization, sso_connection, 500)
    _assert_index_scan(lookup(scim_organization), index)


@pytest.mark.postgres
def test_scim_filters_idps_use_are_index_scans(scim_organization, sso_connection):
    from scim.filters import group_filter, user_filter

    users = _bulk_users(scim_organization, sso_connection, 500)
    _bulk_groups(scim_organization, sso_connection, users, groups=500, members_each=0)
    users = User.objects.filter(home_organization=scim_organization)
    for expression in (
        'userName eq "U1@acme.test"',
        'emails.value eq "u1@acme.test"',
        'emails[type eq "work"].value eq "u1@acme.test"',
        'externalId eq "ext-u1"',
    ):
        _assert_index_scan(users.filter(user_filter(expression)), "")
    groups = Group.objects.filter(organization=scim_organization, kind=GroupKind.SCIM)
    _assert_index_scan(groups.filter(group_filter('displayName eq "OPTI_SCIM_G7"')), "group_name_ci_unique_per_org")
    _assert_index_scan(groups.filter(group_filter('externalId eq "abc"')), "group_org_external_id_idx")


@pytest.mark.postgres
def test_reads_and_deletes_by_id_use_the_primary_key_before_any_statistics(scim_organization, sso_connection):
    """A table PostgreSQL has not analysed yet (autovacuum off, or just filled by an IdP):
    with a plain tenant equality it was read through an index on the organization, every
    user of the tenant scanned to find one."""
    from admincenter import hotsql
    from admincenter.selectors import scim

    user = _bulk_users(scim_organization, sso_connection, 300)[150]
    plans = []
    with connection.cursor() as cursor:
        for scoped in (scim.scim_users, scim.scim_groups):
            sql, _ = scim._BY_ID[scoped, True]._compile(connection)
            cursor.execute(
                f"EXPLAIN {sql}",
                [scim_organization.pk, user.pk]
                if scoped is scim.scim_users
                else [scim_organization.pk, "scim", user.pk],
            )
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
        cursor.execute(f"EXPLAIN {hotsql._person_delete_sql(connection)}", [user.pk, scim_organization.pk])
        plans.append("\n".join(row[0] for row in cursor.fetchall()))
    user_read, group_read, delete = plans
    assert "Index Scan using admincenter_user_pkey" in user_read and "Index Cond: (id = " in user_read, user_read
    assert "Index Scan using admincenter_group_pkey" in group_read, group_read
    assert delete.count("Index Scan using admincenter_user_pkey") == 1, delete
    assert User.objects.filter(pk=user.pk).exists()  # EXPLAIN ran nothing


def _assert_index_scan(queryset, index_name: str) -> None:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {queryset.model._meta.db_table}")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan" not in plan, plan
    assert "Index" in plan, plan
    if index_name:
        assert index_name in plan, plan


def _statements(client, method: str, path: str, body=None) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        kwargs = {} if body is None else {"data": json.dumps(body), "content_type": "application/scim+json"}
        response = getattr(client, method)(path, **kwargs)
    assert response.status_code < 300, response.content
    return [" ".join(q["sql"].split()[:3]) for q in captured]


def test_a_user_create_writes_its_rows_in_two_statements(client, scim_organization, on_postgres):
    client.get(f"{BASE}/ServiceProviderConfig")  # the token's throttled last_used_at write happens once
    statements = _statements(client, "post", f"{BASE}/Users", {"userName": "new@acme.test"})
    # The rows nothing reads back in the request go last, together (hotsql.deferred_inserts).
    together = (
        ["WITH w0 AS"]  # its membership of Everyone, user.create and the request-log row
        if on_postgres
        else [
            "INSERT INTO admincenter_groupmembership",
            "INSERT INTO admincenter_auditevent",
            "INSERT INTO admincenter_scimrequestlog",
        ]
    )
    # The request's own transaction is a savepoint here only because the test runs in one.
    expected = [
        "SAVEPOINT",  # the request's transaction
        "SELECT",  # the token
        "SELECT",  # the email's domain is not verified by another organization (users.ensure_domain_open)
        "INSERT INTO admincenter_user",
        *together,
        "RELEASE",
    ]
    cleaned = [s.replace('"', "") for s in statements]
    assert len(cleaned) == len(expected), cleaned
    assert all(s.startswith(e) for s, e in zip(cleaned, expected, strict=True)), cleaned
    user = User.objects.get(email="new@acme.test")
    assert user.group_memberships.filter(group__system_key="everyone").exists()


@pytest.mark.postgres
def test_deprovisioning_a_person_is_two_statements_on_postgresql(client, scim_managed_user):
    client.get(f"{BASE}/ServiceProviderConfig")
    statements = _statements(client, "delete", f"{BASE}/Users/{scim_managed_user.pk}")
    assert [s.split()[0] for s in statements] == [
        "SAVEPOINT",  # the request's transaction
        "SELECT",  # the token
        "DELETE",  # the user's row, returned for the audit event
        "WITH",  # their memberships deleted and links to them unlinked, in a statement seeing later commits
        "WITH",  # user.delete and the request-log row
        "RELEASE",
    ]
    assert not User.objects.filter(pk=scim_managed_user.pk).exists()


def test_writes_set_no_savepoint_inside_the_request_transaction(client, scim_organization, scim_managed_user):
    client.get(f"{BASE}/ServiceProviderConfig")
    path = f"{BASE}/Users/{scim_managed_user.pk}"
    patch = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "Boss"}]}
    for method, body in [("patch", patch), ("put", {"userName": scim_managed_user.email}), ("delete", None)]:
        statements = _statements(client, method, path, body)
        assert sum(s.startswith("SAVEPOINT") for s in statements) == 1, (method, statements)


def test_a_failed_write_still_leaves_nothing_behind(client, scim_organization):
    users_before = User.objects.count()
    group = {"displayName": "Opti_SCIM_X", "members": [{"value": str(uuid.uuid4())}]}
    response = client.post(f"{BASE}/Groups", data=json.dumps(group), content_type="application/scim+json")
    assert response.status_code == 400
    assert not Group.objects.filter(name="Opti_SCIM_X").exists()
    assert User.objects.count() == users_before
