"""Fixtures the Admin Center's service and view tests share: the acting administrator, the
organization's system groups, a member who is no administrator, and Globex's Hank. The
organizations and connections they build on come from tests/conftest.py."""

import pytest
from django.test import Client

from admincenter.models import Group, SystemGroupKey, User
from admincenter.services import Actor
from tests.conftest import ADMIN_PASSWORD
from tests.factories import UserFactory


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
