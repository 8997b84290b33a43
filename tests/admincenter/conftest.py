"""Fixtures the Admin Center's service and view tests share: the acting administrator, the
organization's system groups, a member who is no administrator (and one who edits content),
Globex's Hank, and an organization ready to require SSO. The organizations and connections
they build on come from tests/conftest.py."""

import pytest
from django.test import Client

from admincenter import services
from admincenter.models import Group, SystemGroupKey, User
from admincenter.services import Actor, signin
from tests.conftest import ADMIN_PASSWORD, OPERATOR
from tests.factories import UserFactory, sso_connection_make_ready, sso_domain_verify


@pytest.fixture
def admin(admin_user):
    """``admin_user`` as the actor a service call names."""
    return Actor.admin(admin_user)


@pytest.fixture
def everyone(organization):
    return Group.objects.get(organization=organization, system_key=SystemGroupKey.EVERYONE)


@pytest.fixture
def admins_group(organization):
    return Group.objects.get(organization=organization, system_key=SystemGroupKey.ADMIN_CENTER_ADMINS)


@pytest.fixture
def hank(other_organization):
    """A (SCIM-managed) home user of Globex."""
    return User.objects.get(email="hank@globex.test")


@pytest.fixture
def member_user(organization):
    """An active user of ``organization`` who is not an Admin Center administrator."""
    return UserFactory(organization=organization, email="member@acme.test", password=ADMIN_PASSWORD)


@pytest.fixture
def member_client(member_user):
    client = Client()
    client.force_login(member_user)
    return client


@pytest.fixture
def member_editors(member_user, organization, cms_instance):
    """An *Editors* group with ``member_user`` in it, granted Content Editors on the CMS instance."""
    group = services.group_create(organization=organization, name="Editors", actor=OPERATOR)
    services.group_members_add(organization=organization, group=group, user_ids=[member_user.pk], actor=OPERATOR)
    role = cms_instance.product.roles.get(key="content_editors")
    services.group_grant_add(
        organization=organization, group=group, instance=cms_instance, roles=[role], actor=OPERATOR
    )
    return group


@pytest.fixture
def ready_to_require(organization, sso_connection, admin_user):
    """``organization`` with a verified domain, a ready connection and an admin who keeps a
    password: everything requiring SSO asks for first."""
    sso_domain_verify(organization)
    sso_connection_make_ready(sso_connection)
    signin.user_local_login_set(organization=organization, user=admin_user, allowed=True, actor=OPERATOR)
    return organization
