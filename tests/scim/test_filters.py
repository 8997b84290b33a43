"""Filters (RFC 7644 §3.4.2.2; docs/idp-notes.md#filters): every operator,
and/or/not, case-insensitive names and operators, the attributes the IdPs filter on,
``+`` and ``%20`` encodings, bare values, and the errors for what is not supported."""

from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from admincenter.models import GroupKind, User
from tests.factories import GroupFactory, UserFactory
from tests.scim.helpers import (
    EMPTY_LIST,
    ENTERPRISE_URN,
    GROUP_URN,
    USER_URN,
    assert_error,
    assert_scim,
    expected_group,
    expected_list,
    expected_user,
)


@pytest.fixture
def people(scim_organization, sso_connection, admin_user):
    alice = UserFactory(
        organization=scim_organization,
        email="alice@acme.test",
        source="scim",
        scim_connection=sso_connection,
        given_name="Alice",
        family_name="Anders",
        external_id="jyoung",
        title="Engineer",
    )
    bob = UserFactory(
        organization=scim_organization,
        email="bob@acme.test",
        source="scim",
        scim_connection=sso_connection,
        given_name="Bob",
        family_name="Brown",
        external_id="JYOUNG",
        title="Manager",
        is_active=False,
    )
    carol = UserFactory(
        organization=scim_organization,
        email="carol@example.com",
        source="manual",
        given_name="Carol",
        family_name="Clark",
    )
    User.objects.filter(pk=alice.pk).update(
        display_name="Alice A",
        department="R&D",
        employee_number="E-1",
        manager=bob,
        updated_at=datetime(2024, 1, 1, tzinfo=UTC),
        created_at=datetime(2023, 1, 1, tzinfo=UTC),
    )
    User.objects.filter(pk=bob.pk).update(updated_at=datetime(2024, 6, 1, tzinfo=UTC))
    User.objects.filter(pk=carol.pk).update(updated_at=datetime(2025, 1, 1, tzinfo=UTC))
    admin_user.refresh_from_db()
    return {"admin": admin_user, "alice": alice, "bob": bob, "carol": carol}


def _users(scim, expression: str) -> set[str]:
    body = assert_scim(
        scim.get("/Users", params={"filter": expression, "attributes": "userName", "count": "1000"}), 200
    )
    assert body["totalResults"] == body["itemsPerPage"] == len(body["Resources"])
    return {r["userName"].split("@")[0] for r in body["Resources"]}


ALL = {"admin", "alice", "bob", "carol"}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('userName eq "alice@acme.test"', {"alice"}),
        ('userName ne "alice@acme.test"', ALL - {"alice"}),
        ('userName co "acme"', {"admin", "alice", "bob"}),
        ('userName sw "b"', {"bob"}),
        ('userName ew "example.com"', {"carol"}),
        ("userName pr", ALL),
        ('userName gt "bob@acme.test"', {"carol"}),
        ('userName ge "bob@acme.test"', {"bob", "carol"}),
        ('userName lt "alice@acme.test"', {"admin"}),
        ('userName le "alice@acme.test"', {"admin", "alice"}),
        ('title eq "engineer"', {"alice"}),
        ('title ne "Engineer"', ALL - {"alice"}),
        ('title co "GIN"', {"alice"}),
        ('title sw "man"', {"bob"}),
        ('title ew "ER"', {"alice", "bob"}),
        ("title pr", {"alice", "bob"}),
        ('userName sw "a" and active eq true', {"admin", "alice"}),
        ('title eq "Engineer" or title eq "Manager"', {"alice", "bob"}),
        ('not (userName co "acme")', {"carol"}),
        ('(userName eq "alice@acme.test" or userName eq "bob@acme.test") and active eq false', {"bob"}),
        ('userName eq "alice@acme.test" and not (title pr)', set()),
        ('name.givenName eq "alice" or (name.familyName sw "cl" and userName ew ".com")', {"alice", "carol"}),
    ],
)
def test_operators_and_logic(scim, people, expression, expected):
    assert _users(scim, expression) == expected


@pytest.mark.parametrize(
    "expression",
    [
        'username Eq "alice@acme.test"',  # PingOne's documented example
        'USERNAME EQ "ALICE@ACME.TEST"',
        'UserName eQ "Alice@Acme.Test"',
        'userName eq "alice@ACME.test"',
        f'{USER_URN}:userName eq "alice@acme.test"',
        'email eq "alice@acme.test"',  # PingOne setup guides (docs/idp-notes.md#email-aliases-in-filters)
        'email.value Eq "alice@acme.test"',
        'emails eq "alice@acme.test"',
        'emails.value eq "ALICE@acme.test"',
        'emails[type eq "work"].value eq "alice@acme.test"',
        'emails[type eq "work" and primary eq true].value eq "alice@acme.test"',
        'emails[value eq "alice@acme.test"]',
        'emails[type eq "work" and value co "alice"]',
        'externalId eq "jyoung"',
        "externalId eq jyoung",  # unquoted (Entra's old samples)
        "userName eq alice@acme.test",  # unquoted (PingOne's default filter)
        'name.givenName eq "ALICE"',
        'name.familyName eq "anders"',
        'displayName eq "alice a"',
        f'{ENTERPRISE_URN}:department eq "r&d"',
        f'{ENTERPRISE_URN}:employeeNumber eq "E-1"',
        'employeeNumber eq "E-1"',
        'meta.lastModified lt "2024-03-01T00:00:00Z"',
        'meta.created lt "2023-06-01T00:00:00+02:00"',
    ],
)
def test_attributes_that_find_alice(scim, people, expression):
    assert _users(scim, expression) == {"alice"}


def test_list_entries_carry_the_full_resource(scim, people):
    """Entra compares filter results with its source (docs/idp-notes.md#microsoft-entra-id)."""
    body = assert_scim(scim.get('/Users?filter=userName eq "alice@acme.test"'), 200)
    assert body == expected_list([expected_user(people["alice"])])


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('externalId eq "JYOUNG"', {"bob"}),  # caseExact
        ('externalId eq "Jyoung"', set()),
        ('emails[type eq "home"].value eq "alice@acme.test"', set()),
        ('emails co "example"', {"carol"}),
        ("active eq false", {"bob"}),
        ('active eq "False"', {"bob"}),
        ("active ne true", {"bob"}),
        ("externalId pr", {"alice", "bob"}),
        ('meta.lastModified gt "2024-03-01T00:00:00Z"', {"admin", "bob", "carol"}),
        ('meta.lastModified ge "2024-06-01T00:00:00Z"', {"admin", "bob", "carol"}),
        ('meta.lastModified le "2024-06-01T02:00:00+02:00"', {"alice", "bob"}),
        (
            'meta.lastModified gt "2024-03-01T00:00:00Z" and meta.lastModified lt "2025-06-01T00:00:00Z"',
            {"bob", "carol"},
        ),
        ("title eq null", {"admin", "carol"}),
    ],
)
def test_more_attribute_semantics(scim, people, expression, expected):
    assert _users(scim, expression) == expected


@pytest.mark.parametrize(
    "template",
    [
        'manager eq "{bob}"',
        'manager.value eq "{bob}"',
        f'{ENTERPRISE_URN}:manager eq "{{bob}}"',
        f'{ENTERPRISE_URN}:manager.value eq "{{bob}}"',
        'id eq "{alice}" and manager eq "{bob}"',  # Entra's legacy manager check (docs/idp-notes.md#entra-manager)
        'id eq "{alice}"',
        'id eq "{alice_upper}"',
    ],
)
def test_id_and_manager(scim, people, template):
    expression = template.format(
        bob=people["bob"].pk, alice=people["alice"].pk, alice_upper=str(people["alice"].pk).upper()
    )
    assert _users(scim, expression) == {"alice"}


def test_entra_legacy_manager_check_with_attributes_id(scim, people):
    alice, bob = people["alice"], people["bob"]
    query = f"?attributes=id&filter=id+eq+%22{alice.pk}%22+and+manager+eq+%22{bob.pk}%22"
    body = assert_scim(scim.get(f"/Users{query}"), 200)
    full = expected_user(alice)
    assert body == expected_list([{"schemas": full["schemas"], "id": str(alice.pk), "meta": full["meta"]}])


@pytest.mark.parametrize("value", ["not-a-uuid", "010101001010101011001010101011", ""])
def test_id_that_cannot_exist_matches_nothing(scim, people, value):
    assert_scim(scim.get("/Users", params={"filter": f'id eq "{value}"'}), 200, EMPTY_LIST)


@pytest.mark.parametrize(
    "query",
    [
        "filter=userName+eq+%22alice%40acme.test%22",  # Entra and old Okta
        "filter=userName%20eq%20%22alice%40acme.test%22",  # current Okta
        "filter=userName%20eq%20%22alice%40acme.test%22&startIndex=1&count=100",
        "filter=username+Eq+%22alice%40acme.test%22",
        'filter=userName eq "alice@acme.test"',
        "excludedAttributes=groups&filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22alice%40acme.test%22",
    ],
)
def test_query_string_encodings(scim, people, query):
    body = assert_scim(scim.get(f"/Users?{query}"), 200)
    assert [r["id"] for r in body["Resources"]] == [str(people["alice"].pk)]


def test_no_match_is_an_empty_200_never_404(scim, people):
    assert_scim(scim.get('/Users?filter=userName eq "nobody@acme.test"'), 200, EMPTY_LIST)
    assert_scim(scim.get("/Users?filter=userName+eq+%22Test_User_00aa00aa-bb11%22"), 200, EMPTY_LIST)
    assert_scim(scim.get('/Users?filter=externalId eq "0a21f0f2"&startIndex=1&count=100'), 200, EMPTY_LIST)


def test_filter_counts_only_matches(scim, people):
    body = assert_scim(scim.get('/Users?filter=userName co "acme"&count=1&attributes=id'), 200)
    assert (body["totalResults"], body["itemsPerPage"]) == (3, 1)


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "detail"),
    [
        ('foo eq "x"', "Filtering on 'foo' is not supported."),
        ('password eq "secret"', "Filtering on 'password' is not supported."),
        ('name.middleName eq "x"', "Filtering on 'name.middleName' is not supported."),
        ('emails.type eq "work"', "Filtering on 'emails.type' is not supported."),
        ('phoneNumbers[type eq "work"].value eq "1"', "Filtering inside 'phoneNumbers[...]' is not supported."),
        ('urn:ietf:params:scim:schemas:extension:Custom:2.0:User:tag eq "x"', None),
        ('emails[display eq "x"].value eq "y"', "Unsupported comparison on emails.display."),
        ("active gt true", "The operator 'gt' cannot be used with 'active'."),
        ('id co "abc"', "The operator 'co' cannot be used with 'id'."),
        ('meta.lastModified co "2024"', "The operator 'co' cannot be used with 'meta.lastModified'."),
        (
            'meta.lastModified gt "yesterday"',
            "'meta.lastModified' compares with an RFC 3339 date-time such as 2024-05-01T10:00:00Z.",
        ),
        (
            'meta.lastModified gt "2024-13-45T00:00:00Z"',
            "'meta.lastModified' compares with an RFC 3339 date-time such as 2024-05-01T10:00:00Z.",
        ),
        (
            'meta.created lt "2024-02-30T25:00:00Z"',
            "'meta.created' compares with an RFC 3339 date-time such as 2024-05-01T10:00:00Z.",
        ),
        ('active eq "maybe"', "'active' compares with true or false."),
        ("userName gt null", "'gt null' is not a valid comparison."),
    ],
)
def test_unsupported_filters_are_400_invalid_filter(scim, people, expression, detail):
    assert_error(scim.get("/Users", params={"filter": expression}), 400, "invalidFilter", detail)


@pytest.mark.parametrize(
    "expression",
    [
        "ALICE@ACME.TEST",  # Okta Spec Test 2016 step 15: a bare value
        "RUNSCOPE300HFLUAKLAB151",
        "userName eq",
        'userName xx "a"',
        '(userName eq "a"',
        'userName eq "a" and',
        'userName eq "a" garbage',
        'userName eq "unterminated',
        "and",
        " ",
    ],
)
def test_malformed_filters_are_400_invalid_filter(scim, people, expression):
    body = assert_error(scim.get("/Users", params={"filter": expression}), 400, "invalidFilter")
    assert body["detail"].startswith(("The filter could not be parsed", "The filter is empty"))


def test_overlong_filter_is_400(scim):
    expression = " or ".join(f'userName eq "u{i}@acme.test"' for i in range(200))
    assert_error(
        scim.get("/Users", params={"filter": expression}),
        400,
        "invalidFilter",
        "The filter is too long (at most 4096 characters).",
    )


def test_an_empty_filter_parameter_lists_everything(scim, people):
    body = assert_scim(scim.get("/Users?filter=&attributes=id"), 200)
    assert body["totalResults"] == 4


# --- groups ---------------------------------------------------------------------------------------


@pytest.fixture
def teams(scim_organization, sso_connection, people):
    sales = GroupFactory(
        organization=scim_organization,
        name="Opti_SCIM_Sales",
        kind=GroupKind.SCIM,
        scim_connection=sso_connection,
        external_id="ext-s",
        members=[people["alice"]],
    )
    support = GroupFactory(
        organization=scim_organization,
        name="Opti_SCIM_Support",
        kind=GroupKind.SCIM,
        scim_connection=sso_connection,
        members=[people["bob"], people["alice"]],
    )
    empty = GroupFactory(
        organization=scim_organization, name="Opti_SCIM_Empty", kind=GroupKind.SCIM, scim_connection=sso_connection
    )
    GroupFactory(organization=scim_organization, name="Sales Custom", kind=GroupKind.CUSTOM, members=[people["bob"]])
    return {"sales": sales, "support": support, "empty": empty}


def _groups(scim, expression: str) -> set[str]:
    body = assert_scim(scim.get("/Groups", params={"filter": expression, "excludedAttributes": "members"}), 200)
    return {r["displayName"].removeprefix("Opti_SCIM_") for r in body["Resources"]}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('displayName eq "Opti_SCIM_Sales"', {"Sales"}),
        ('displayName eq "opti_scim_sales"', {"Sales"}),  # Validator: another letter case (docs/idp-notes.md#filters)
        ('DISPLAYNAME EQ "OPTI_SCIM_SALES"', {"Sales"}),
        (f'{GROUP_URN}:displayName eq "Opti_SCIM_Sales"', {"Sales"}),
        ('displayName ne "Opti_SCIM_Sales"', {"Support", "Empty"}),
        ('displayName co "sup"', {"Support"}),
        ('displayName sw "opti_scim_s"', {"Sales", "Support"}),
        ('displayName ew "ty"', {"Empty"}),
        ("displayName pr", {"Sales", "Support", "Empty"}),
        ('displayName eq "Sales Custom"', set()),
        ('externalId eq "ext-s"', {"Sales"}),
        ('externalId eq "EXT-S"', set()),
        ("externalId pr", {"Sales"}),
        ('id eq "{sales}"', {"Sales"}),
        ('members eq "{alice}"', {"Sales", "Support"}),
        ('members.value eq "{bob}"', {"Support"}),
        ('members[value eq "{bob}"]', {"Support"}),
        ("members pr", {"Sales", "Support"}),
        ('id eq "{support}" and members eq "{bob}"', {"Support"}),
        ('id eq "{sales}" and members eq "{bob}"', set()),
        ('members eq "not-a-uuid"', set()),
        ('displayName eq "Opti_SCIM_Sales" or displayName eq "Opti_SCIM_Empty"', {"Sales", "Empty"}),
        ('meta.lastModified gt "2000-01-01T00:00:00Z"', {"Sales", "Support", "Empty"}),
    ],
)
def test_group_filters(scim, people, teams, template, expected):
    expression = template.format(
        alice=people["alice"].pk, bob=people["bob"].pk, sales=teams["sales"].pk, support=teams["support"].pk
    )
    assert _groups(scim, expression) == expected


def test_entra_group_lookup_shape(scim, teams):
    """Entra's group lookup (docs/idp-notes.md#microsoft-entra-id): excludedAttributes first,
    + encoding; the answer carries no members."""
    body = assert_scim(scim.get("/Groups?excludedAttributes=members&filter=displayName+eq+%22Opti_SCIM_Sales%22"), 200)
    assert body == expected_list([expected_group(teams["sales"], with_members=False)])


def test_group_filter_no_match_is_an_empty_200(scim, teams):
    for expression in ('displayName eq "00aa00aa-bb11-cc22"', 'externalId eq "nope"', f'id eq "{quote("x y")}"'):
        assert_scim(scim.get("/Groups", params={"filter": expression}), 200, EMPTY_LIST)


@pytest.mark.parametrize(
    ("expression", "detail"),
    [
        ('name eq "x"', "Filtering on 'name' is not supported."),
        ('members co "x"', "The operator 'co' cannot be used with 'members'."),
        ('members[display eq "x"]', "Only 'value' can be compared inside members[...]."),
        (f'{USER_URN}:userName eq "x"', f"Filtering on '{USER_URN.lower()}:userName' is not supported."),
        ('displayName xx "a"', None),
    ],
)
def test_unsupported_group_filters_are_400(scim, teams, expression, detail):
    assert_error(scim.get("/Groups", params={"filter": expression}), 400, "invalidFilter", detail)


# --- one-equality look-ups run precompiled SQL (selectors/scim.py equality_page) ----


@pytest.mark.parametrize(
    "expression",
    [
        'userName eq "alice@acme.test"',
        'UserName EQ "ALICE@acme.TEST"',
        "userName eq alice@acme.test",
        f'{USER_URN}:userName eq "alice@acme.test"',
        'emails.value eq "Bob@Acme.test"',
        'externalId eq "jyoung"',
        'externalId eq "JYOUNG"',
        'externalId eq "Jyoung"',
        'userName eq "nobody@acme.test"',
    ],
)
@pytest.mark.parametrize(("start", "count"), [(1, 100), (1, 1), (2, 1), (5, 10), (1, 0)])
def test_equality_lookups_return_what_the_general_filter_returns(people, scim_organization, expression, start, count):
    from admincenter.selectors.scim import equality_page, page_of, scim_users
    from scim.filters import user_equality, user_filter

    equality = user_equality(expression)
    assert equality is not None
    fast, fast_total = equality_page(scim_users, scim_organization, equality, start=start, count=count)
    general, total = page_of(
        scim_users(scim_organization).filter(user_filter(expression)), start=start, count=count, filtered=True
    )
    assert [u.pk for u in fast] == [u.pk for u in general]
    assert fast_total == total
    assert [{f.attname: getattr(u, f.attname) for f in User._meta.concrete_fields} for u in fast] == [
        {f.attname: getattr(u, f.attname) for f in User._meta.concrete_fields} for u in general
    ]


def test_equality_lookup_with_more_matches_than_the_page_counts_them(people, scim_organization):
    from admincenter.selectors.scim import equality_page, scim_users
    from scim.filters import user_equality

    User.objects.filter(pk=people["bob"].pk).update(external_id="jyoung")
    page, total = equality_page(
        scim_users, scim_organization, user_equality('externalId eq "jyoung"'), start=1, count=1
    )
    assert (len(page), total) == (1, 2)
    assert page[0].pk == people["alice"].pk  # created first (2023)


@pytest.mark.parametrize(
    "expression",
    [
        'userName ne "alice@acme.test"',
        'userName co "alice"',
        'not (userName eq "alice@acme.test")',
        'userName eq "a@acme.test" or userName eq "b@acme.test"',
        'emails[type eq "work"].value eq "alice@acme.test"',
        'id eq "6c1a44e5-0000-4000-8000-000000000000"',
        "active eq true",
        "userName eq null",
        'title eq "Engineer"',
    ],
)
def test_other_filters_take_the_general_path(expression):
    from scim.filters import user_equality

    assert user_equality(expression) is None


def test_equality_on_an_unknown_attribute_is_still_invalid_filter(scim):
    assert_error(scim.get("/Users", params={"filter": 'nickName eq "x"'}), 400, "invalidFilter")
    assert_error(scim.get("/Groups", params={"filter": 'name eq "x"'}), 400, "invalidFilter")


def test_group_display_name_lookup_is_case_insensitive_and_scoped(scim, scim_organization, other_organization):
    GroupFactory(organization=scim_organization, name="Sales Team", kind=GroupKind.SCIM)
    GroupFactory(organization=other_organization, name="Sales Team", kind=GroupKind.SCIM)
    GroupFactory(organization=scim_organization, name="Marketing", kind=GroupKind.CUSTOM)
    body = assert_scim(scim.get("/Groups", params={"filter": 'displayName eq "sales TEAM"'}), 200)
    assert (body["totalResults"], [g["displayName"] for g in body["Resources"]]) == (1, ["Sales Team"])
    body = assert_scim(scim.get("/Groups", params={"filter": 'displayName eq "Marketing"'}), 200)
    assert body["totalResults"] == 0
