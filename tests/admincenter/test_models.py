"""Uniqueness that matters is a database constraint, not only a Python check
(docs/architecture.md#transactions). These tests bypass the services and
write rows directly, so they prove the constraint itself holds."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from admincenter.models import (
    Group,
    GroupGrant,
    GroupKind,
    ProductInstance,
    Role,
    ScimToken,
    SsoConnection,
    SsoDomain,
    SystemGroupKey,
    User,
)
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


# --- User -------------------------------------------------------------------------


def test_user_emails_differing_only_in_case_are_refused():
    User.objects.create(email="Ann.Lee@Example.test")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="ann.lee@example.TEST")
    assert User.objects.count() == 1


def test_user_emails_are_unique_across_organizations():
    acme, globex = OrganizationFactory(), OrganizationFactory()
    User.objects.create(email="ann@example.test", home_organization=acme)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="ANN@example.test", home_organization=globex)


# --- SSO connections and domains -------------------------------------------------


def test_only_one_scim_enabled_connection_per_organization():
    org = OrganizationFactory()
    SsoConnection.objects.create(organization=org, name="Okta", protocol="saml", scim_enabled=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        SsoConnection.objects.create(organization=org, name="Entra", protocol="oidc", scim_enabled=True)
    # Connections without SCIM, and SCIM connections of other organizations, are fine.
    SsoConnection.objects.create(organization=org, name="Entra", protocol="oidc", scim_enabled=False)
    SsoConnection.objects.create(organization=OrganizationFactory(), name="Okta", protocol="saml", scim_enabled=True)
    assert SsoConnection.objects.filter(scim_enabled=True).count() == 2


def test_sso_connection_names_are_unique_per_organization_case_insensitively():
    org = OrganizationFactory()
    SsoConnection.objects.create(organization=org, name="Okta", protocol="saml")
    with pytest.raises(IntegrityError), transaction.atomic():
        SsoConnection.objects.create(organization=org, name="OKTA", protocol="oidc")
    SsoConnection.objects.create(organization=OrganizationFactory(), name="okta", protocol="saml")


def test_a_domain_is_claimed_once_per_organization_and_verified_once_across_organizations():
    acme, globex = OrganizationFactory(), OrganizationFactory()
    acme_conn = SsoConnection.objects.create(organization=acme, name="A", protocol="saml")
    acme_other_conn = SsoConnection.objects.create(organization=acme, name="B", protocol="oidc")
    globex_conn = SsoConnection.objects.create(organization=globex, name="A", protocol="saml")
    ours = SsoDomain.objects.create(connection=acme_conn, organization=acme, domain="shared.test")
    # Within an organization a domain is claimed once, whatever the connection.
    with pytest.raises(IntegrityError), transaction.atomic():
        SsoDomain.objects.create(connection=acme_other_conn, organization=acme, domain="shared.test")
    # Another organization may claim it too, and only one of them can have it verified.
    theirs = SsoDomain.objects.create(connection=globex_conn, organization=globex, domain="shared.test")
    SsoDomain.objects.filter(pk=ours.pk).update(verified_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        SsoDomain.objects.filter(pk=theirs.pk).update(verified_at=timezone.now())
    assert SsoDomain.objects.get(domain="shared.test", verified_at__isnull=False).pk == ours.pk


def test_scim_token_hash_and_prefix_are_unique():
    org = OrganizationFactory()
    conn = SsoConnection.objects.create(organization=org, name="A", protocol="saml", scim_enabled=True)
    ScimToken.objects.create(organization=org, sso_connection=conn, label="a", token_prefix="p1", token_hash="h" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        ScimToken.objects.create(
            organization=org, sso_connection=conn, label="b", token_prefix="p2", token_hash="h" * 64
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        ScimToken.objects.create(
            organization=org, sso_connection=conn, label="c", token_prefix="p1", token_hash="g" * 64
        )


# --- Groups ------------------------------------------------------------------------


def test_group_names_are_unique_per_organization_case_insensitively():
    acme, globex = OrganizationFactory(), OrganizationFactory()
    Group.objects.create(organization=acme, name="Marketing", kind=GroupKind.CUSTOM)
    with pytest.raises(IntegrityError), transaction.atomic():
        Group.objects.create(organization=acme, name="MARKETING", kind=GroupKind.SCIM)
    # The same name in another organization is allowed.
    Group.objects.create(organization=globex, name="marketing", kind=GroupKind.CUSTOM)
    assert Group.objects.filter(name__iexact="marketing").count() == 2


def test_two_system_groups_with_the_same_key_are_refused():
    org = OrganizationFactory()  # already has Everyone and Admin Center Administrators
    with pytest.raises(IntegrityError), transaction.atomic():
        Group.objects.create(
            organization=org, name="Everyone again", kind=GroupKind.SYSTEM, system_key=SystemGroupKey.EVERYONE
        )
    assert Group.objects.filter(organization=org, system_key=SystemGroupKey.EVERYONE).count() == 1


@pytest.mark.parametrize(
    ("kind", "system_key"),
    [(GroupKind.CUSTOM, SystemGroupKey.EVERYONE), (GroupKind.SYSTEM, None)],
    ids=["custom-with-key", "system-without-key"],
)
def test_system_key_is_set_exactly_on_system_groups(kind, system_key):
    org = OrganizationFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Group.objects.create(organization=org, name="Odd", kind=kind, system_key=system_key)


def test_one_product_group_per_instance_and_role():
    org = OrganizationFactory()
    role = Role.objects.get(product__code="cms", key="content_admins")
    instance = ProductInstance.objects.create(
        organization=org, product=role.product, nickname="Prod", instance_id="model-test-1"
    )
    Group.objects.create(organization=org, name="P1", kind=GroupKind.PRODUCT, product_instance=instance, role=role)
    with pytest.raises(IntegrityError), transaction.atomic():
        Group.objects.create(organization=org, name="P2", kind=GroupKind.PRODUCT, product_instance=instance, role=role)


def test_duplicate_grant_is_refused():
    org = OrganizationFactory()
    role = Role.objects.get(product__code="cms", key="content_editors")
    instance = ProductInstance.objects.create(
        organization=org, product=role.product, nickname="Prod", instance_id="model-test-2"
    )
    group = Group.objects.create(organization=org, name="Editors", kind=GroupKind.CUSTOM)
    GroupGrant.objects.create(group=group, product_instance=instance, role=role)
    with pytest.raises(IntegrityError), transaction.atomic():
        GroupGrant.objects.create(group=group, product_instance=instance, role=role)
    # Another role on the same instance is a different grant.
    other_role = Role.objects.get(product__code="cms", key="content_admins")
    GroupGrant.objects.create(group=group, product_instance=instance, role=other_role)
    assert group.grants.count() == 2


def test_instance_nickname_is_unique_per_organization_and_product_case_insensitively():
    org = OrganizationFactory()
    cms = Role.objects.get(product__code="cms", key="content_admins").product
    ProductInstance.objects.create(organization=org, product=cms, nickname="Prod", instance_id="model-test-3")
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductInstance.objects.create(organization=org, product=cms, nickname="PROD", instance_id="model-test-4")
