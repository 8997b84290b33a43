"""Shared fixtures, named by the state they provide (docs/architecture.md#tests)."""

import os
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from admincenter import services
from admincenter.models import GroupKind, ScimToken, UserSource
from admincenter.services import Actor
from tests.factories import GroupFactory, UserFactory, globex_create

OPERATOR = Actor.operator("tests")
ADMIN_PASSWORD = "Correct-Horse-42"


def pytest_collection_modifyitems(config, items):
    """Tests that need a real server are skipped, with the reason, when it is not configured."""
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
    has_redis = bool(os.environ.get("REDIS_URL"))
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://..."))
        if "redis" in item.keywords and not has_redis:
            item.add_marker(pytest.mark.skip(reason="needs Redis: set REDIS_URL=redis://..."))


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Fixtures create admins with passwords; the production hasher costs ~0.2 s each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _product_catalogue(request):
    """The catalogue is seed data from migration 0002. Transactional tests (real workers,
    live servers, concurrency) end with a flush that empties it, so reload it when a test
    that uses the database finds it missing."""
    names = set(request.fixturenames)
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction")) or bool(
        {"transactional_db", "live_server"} & names
    )
    if not transactional and marker is None and "db" not in names:
        return
    request.getfixturevalue("transactional_db" if transactional else "db")
    from admincenter.catalogue import load_catalogue
    from admincenter.models import Product, Role

    if not Product.objects.exists():
        load_catalogue(Product, Role)


@pytest.fixture
def on_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture
def operator():
    return OPERATOR


@pytest.fixture
def organization(db):
    """A JIT-mode organization with one admin (``admin_user``) and one SSO connection."""
    org = services.organization_create(
        name="Acme", slug="acme", actor=OPERATOR, admin_email="admin@acme.test", admin_password=ADMIN_PASSWORD
    )
    services.sso_connection_create(
        organization=org, name="PingOne", protocol="saml", domains=["acme.test"], actor=OPERATOR
    )
    return org


@pytest.fixture
def admin_user(organization):
    return organization.home_users.get(email="admin@acme.test")


@pytest.fixture
def sso_connection(organization):
    return organization.sso_connections.get(name="PingOne")


@pytest.fixture
def scim_organization(organization, sso_connection):
    """``organization`` switched to SCIM mode on its PingOne connection."""
    services.scim_enable(organization=organization, connection=sso_connection, actor=OPERATOR)
    organization.refresh_from_db()
    return organization


@pytest.fixture
def issued_scim_token(scim_organization):
    return services.scim_token_issue(organization=scim_organization, label="PingOne prod", actor=OPERATOR)


@pytest.fixture
def scim_token(issued_scim_token):
    """The raw bearer value of a live token of ``scim_organization``."""
    return issued_scim_token.raw


@pytest.fixture
def revoked_scim_token(scim_organization):
    issued = services.scim_token_issue(organization=scim_organization, label="old", actor=OPERATOR)
    services.scim_token_revoke(organization=scim_organization, token=issued.token, actor=OPERATOR)
    return issued.raw


@pytest.fixture
def expired_scim_token(scim_organization):
    issued = services.scim_token_issue(organization=scim_organization, label="expired", actor=OPERATOR)
    ScimToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    return issued.raw


@pytest.fixture
def other_organization(db):
    """A second tenant in SCIM mode with a user and a SCIM group, for isolation tests."""
    org, conn = globex_create(admin_password=ADMIN_PASSWORD)
    services.scim_enable(organization=org, connection=conn, actor=OPERATOR)
    user = UserFactory(organization=org, email="hank@globex.test", source=UserSource.SCIM, scim_connection=conn)
    GroupFactory(organization=org, name="Globex Sales", kind=GroupKind.SCIM, scim_connection=conn, members=[user])
    org.refresh_from_db()
    return org


@pytest.fixture
def other_organization_token(other_organization):
    return services.scim_token_issue(organization=other_organization, label="Okta", actor=OPERATOR).raw


@pytest.fixture
def manual_user(organization):
    return UserFactory(organization=organization, email="manual@acme.test", source=UserSource.MANUAL)


@pytest.fixture
def scim_managed_user(scim_organization, sso_connection):
    return UserFactory(
        organization=scim_organization,
        email="scim.user@acme.test",
        source=UserSource.SCIM,
        scim_connection=sso_connection,
        external_id="ext-1",
    )


@pytest.fixture
def custom_group(organization):
    return services.group_create(organization=organization, name="Marketing", actor=OPERATOR)


@pytest.fixture
def scim_group(scim_organization, sso_connection, scim_managed_user):
    return GroupFactory(
        organization=scim_organization,
        name="Opti_SCIM_Engineering",
        kind=GroupKind.SCIM,
        scim_connection=sso_connection,
        members=[scim_managed_user],
    )


@pytest.fixture
def cms_instance(organization):
    return services.product_instance_create(
        organization=organization, product_code="cms", nickname="Production", actor=OPERATOR
    )
