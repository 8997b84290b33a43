"""organization_create and product_instance_create (docs/domain.md#organization,
docs/domain.md#product-role-and-instance)."""

import json

import pytest

from admincenter import services
from admincenter.errors import Conflict, InvalidValue, NotFound
from admincenter.models import (
    ActorType,
    AuditEvent,
    Group,
    GroupGrant,
    GroupKind,
    GroupMembership,
    MembershipOwner,
    Organization,
    ProductInstance,
    SystemGroupKey,
    User,
)
from tests.conftest import OPERATOR

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-Horse-42"


def the_event(organization, action):
    [event] = AuditEvent.objects.filter(organization=organization, action=action)
    return event


def assert_no_secret(event, *secrets):
    payload = json.dumps([event.before, event.after, event.target_label, event.actor_label])
    for secret in secrets:
        assert secret not in payload
    assert not {"password", "password_hash", "token", "token_hash"} & {*event.before, *event.after}


# --- organization_create ------------------------------------------------------------


def test_organization_create_builds_system_groups_admin_center_and_first_admin():
    org = services.organization_create(
        name=" Acme ", slug="Acme", actor=OPERATOR, admin_email="Boss@Acme.test", admin_password=PASSWORD
    )

    assert (org.name, org.slug, org.provisioning_mode) == ("Acme", "acme", "jit")
    assert org.created_by == "operator:tests"
    groups = {g.system_key: g for g in Group.objects.filter(organization=org)}
    assert set(groups) == {SystemGroupKey.EVERYONE, SystemGroupKey.ADMIN_CENTER_ADMINS}
    everyone, admins = groups[SystemGroupKey.EVERYONE], groups[SystemGroupKey.ADMIN_CENTER_ADMINS]
    assert (everyone.name, everyone.kind) == ("Everyone", GroupKind.SYSTEM)
    assert (admins.name, admins.kind) == ("Admin Center Administrators", GroupKind.SYSTEM)

    [instance] = ProductInstance.objects.filter(organization=org)
    assert instance.product.code == "admin_center"
    assert not everyone.grants.exists()
    [grant] = admins.grants.all()
    assert (grant.product_instance, grant.role.key) == (instance, "administrator")

    admin = User.objects.get(home_organization=org)
    assert admin.email == "boss@acme.test"
    assert admin.check_password(PASSWORD)
    memberships = {m.group_id: m.managed_by for m in GroupMembership.objects.filter(user=admin)}
    assert memberships == {everyone.pk: MembershipOwner.SYSTEM, admins.pk: MembershipOwner.ADMIN}

    created = the_event(org, "organization.create")
    assert created.actor_type == ActorType.OPERATOR
    assert (created.target_type, created.target_id, created.target_label) == ("organization", str(org.pk), "acme")
    assert created.before == {}
    assert created.after == {"name": "Acme", "slug": "acme"}
    user_created = the_event(org, "user.create")
    assert user_created.target_id == str(admin.pk)
    assert user_created.after["email"] == "boss@acme.test"
    joined = the_event(org, "group.member.add")
    assert (joined.target_id, joined.after) == (str(admins.pk), {"members": ["boss@acme.test"]})
    for event in AuditEvent.objects.filter(organization=org):
        assert_no_secret(event, PASSWORD, admin.password)


def test_organization_create_without_admin_has_empty_admins_group():
    org = services.organization_create(name="Solo", slug="solo", actor=OPERATOR)
    assert not User.objects.filter(home_organization=org).exists()
    assert not GroupMembership.objects.filter(group__organization=org).exists()
    assert list(AuditEvent.objects.filter(organization=org).values_list("action", flat=True)) == ["organization.create"]


@pytest.mark.parametrize("slug", ["acme", "ACME", " acme "])
def test_organization_create_refuses_a_duplicate_slug(slug):
    services.organization_create(name="Acme", slug="acme", actor=OPERATOR)
    events_before = AuditEvent.objects.count()

    with pytest.raises(Conflict) as exc:
        services.organization_create(name="Acme 2", slug=slug, actor=OPERATOR)

    assert exc.value.field == "slug"
    assert Organization.objects.count() == 1
    assert AuditEvent.objects.count() == events_before


@pytest.mark.parametrize("slug", ["", "not a slug", "bad/slug", "émile", "a.b"])
def test_organization_create_refuses_an_invalid_slug(slug):
    with pytest.raises(InvalidValue) as exc:
        services.organization_create(name="Acme", slug=slug, actor=OPERATOR)
    assert exc.value.field == "slug"
    assert not Organization.objects.exists()
    assert not AuditEvent.objects.exists()


def test_organization_create_refuses_an_empty_name():
    with pytest.raises(InvalidValue) as exc:
        services.organization_create(name="  ", slug="acme", actor=OPERATOR)
    assert exc.value.field == "name"
    assert not Organization.objects.exists()


def test_organization_create_rolls_back_everything_when_the_admin_password_is_weak():
    with pytest.raises(InvalidValue) as exc:
        services.organization_create(
            name="Acme", slug="acme", actor=OPERATOR, admin_email="boss@acme.test", admin_password="123"
        )
    assert exc.value.field == "password"
    assert not Organization.objects.exists()
    assert not Group.objects.exists()
    assert not User.objects.exists()
    assert not AuditEvent.objects.exists()


# --- product_instance_create ------------------------------------------------------


def test_product_instance_create_adds_one_product_group_per_system_role(organization):
    instance = services.product_instance_create(
        organization=organization, product_code="web_experimentation", nickname=" Production ", actor=OPERATOR
    )

    assert instance.nickname == "Production"
    assert len(instance.instance_id) >= 16
    groups = Group.objects.filter(product_instance=instance).select_related("role")
    assert {(g.kind, g.name) for g in groups} == {
        (GroupKind.PRODUCT, "Web Experimentation – Production – Administrator"),
        (GroupKind.PRODUCT, "Web Experimentation – Production – Project Owner"),
        (GroupKind.PRODUCT, "Web Experimentation – Production – Editor"),
    }
    for group in groups:
        assert group.organization == organization
        [grant] = group.grants.all()
        assert (grant.product_instance, grant.role) == (instance, group.role)
        assert grant.granted_by == "operator:tests"
        assert not group.memberships.exists()

    event = the_event(organization, "product_instance.create")
    assert event.actor_type == ActorType.OPERATOR
    assert (event.target_type, event.target_id) == ("product_instance", str(instance.pk))
    assert event.target_label == "Web Experimentation – Production"
    assert event.after == {
        "product": "web_experimentation",
        "nickname": "Production",
        "instance_id": instance.instance_id,
    }


def test_product_instance_ids_are_distinct(organization):
    a = services.product_instance_create(organization=organization, product_code="cms", nickname="A", actor=OPERATOR)
    b = services.product_instance_create(organization=organization, product_code="cms", nickname="B", actor=OPERATOR)
    assert a.instance_id != b.instance_id


def test_admin_center_instances_get_no_product_groups(organization):
    instance = services.product_instance_create(
        organization=organization, product_code="admin_center", nickname="Second", actor=OPERATOR
    )
    assert not Group.objects.filter(product_instance=instance).exists()
    assert not GroupGrant.objects.filter(product_instance=instance).exists()
    assert the_event(organization, "product_instance.create").after["product"] == "admin_center"


def test_product_instance_create_refuses_a_duplicate_nickname(organization, cms_instance):
    events_before = AuditEvent.objects.count()
    with pytest.raises(Conflict) as exc:
        services.product_instance_create(
            organization=organization, product_code="cms", nickname="PRODUCTION", actor=OPERATOR
        )
    assert exc.value.field == "nickname"
    assert ProductInstance.objects.filter(organization=organization, product__code="cms").count() == 1
    assert AuditEvent.objects.count() == events_before


def test_the_same_nickname_is_fine_for_another_product_or_organization(organization, cms_instance):
    other = services.organization_create(name="Globex", slug="globex", actor=OPERATOR)
    services.product_instance_create(
        organization=organization, product_code="odp", nickname="Production", actor=OPERATOR
    )
    services.product_instance_create(organization=other, product_code="cms", nickname="Production", actor=OPERATOR)
    assert ProductInstance.objects.filter(nickname="Production").count() == 3


def test_product_instance_create_refuses_an_unknown_product(organization):
    with pytest.raises(NotFound) as exc:
        services.product_instance_create(organization=organization, product_code="nope", nickname="X", actor=OPERATOR)
    assert exc.value.field == "product"


def test_product_instance_create_refuses_an_empty_nickname(organization):
    with pytest.raises(InvalidValue) as exc:
        services.product_instance_create(organization=organization, product_code="cms", nickname=" ", actor=OPERATOR)
    assert exc.value.field == "nickname"
    assert not ProductInstance.objects.filter(organization=organization, product__code="cms").exists()


def test_product_instance_create_refuses_when_a_product_group_name_is_taken(organization):
    services.group_create(
        organization=organization, name="Content Management System – Staging – Content Admins", actor=OPERATOR
    )
    events_before = AuditEvent.objects.count()

    with pytest.raises(Conflict) as exc:
        services.product_instance_create(
            organization=organization, product_code="cms", nickname="Staging", actor=OPERATOR
        )

    assert "Content Management System – Staging – Content Admins" in exc.value.message
    assert not ProductInstance.objects.filter(organization=organization, product__code="cms").exists()
    assert AuditEvent.objects.count() == events_before


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"name": "N" * 201, "slug": "acme"}, "name"), ({"name": "Acme", "slug": "a" * 65}, "slug")],
    ids=["name", "slug"],
)
def test_organization_create_refuses_values_longer_than_their_columns(kwargs, field):
    # PostgreSQL would raise DataError; SQLite would silently store the long value.
    with pytest.raises(InvalidValue, match="at most") as exc:
        services.organization_create(actor=OPERATOR, **kwargs)
    assert exc.value.field == field
    assert not Organization.objects.exists()


def test_organization_create_accepts_values_of_exactly_the_column_length():
    org = services.organization_create(name="N" * 200, slug="a" * 64, actor=OPERATOR)
    assert (len(org.name), len(org.slug)) == (200, 64)


def test_product_instance_create_refuses_an_overlong_nickname(organization):
    with pytest.raises(InvalidValue, match="at most 100") as exc:
        services.product_instance_create(
            organization=organization, product_code="cms", nickname="N" * 101, actor=OPERATOR
        )
    assert exc.value.field == "nickname"
    services.product_instance_create(organization=organization, product_code="cms", nickname="N" * 100, actor=OPERATOR)
