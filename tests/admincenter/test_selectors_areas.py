"""The per-area selectors (admincenter/selectors/): each read stays inside the organization it is
given, and the look-ups that may miss return ``None`` for the views to answer 404."""

import uuid
from pathlib import Path

import pytest

from admincenter import services
from admincenter.models import ScimToken, SsoProtocol
from admincenter.selectors import groups as groups_selectors
from admincenter.selectors import sso as sso_selectors
from admincenter.selectors import tokens as tokens_selectors
from admincenter.selectors import users as users_selectors
from tests.conftest import OPERATOR
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_group_get_returns_none_for_another_organizations_group_or_a_malformed_id(
    organization, custom_group, other_organization
):
    assert groups_selectors.group_get(organization=organization, group_id=custom_group.pk) == custom_group
    assert groups_selectors.group_get(organization=other_organization, group_id=custom_group.pk) is None
    assert groups_selectors.group_get(organization=organization, group_id="not-a-uuid") is None
    assert groups_selectors.group_get(organization=organization, group_id=uuid.uuid4()) is None


def test_scim_connection_for_is_the_scim_enabled_connection_or_none(organization, sso_connection):
    assert sso_selectors.scim_connection_for(organization=organization) is None
    services.scim_enable(organization=organization, connection=sso_connection, actor=OPERATOR)
    assert sso_selectors.scim_connection_for(organization=organization) == sso_connection


def test_scim_connection_for_never_answers_with_another_organizations_connection(organization, other_organization):
    assert sso_selectors.scim_connection_for(organization=other_organization) is not None
    assert sso_selectors.scim_connection_for(organization=organization) is None


def test_sso_connection_get_and_domain_get_stay_in_the_organization(organization, sso_connection, other_organization):
    other = other_organization.sso_connections.get()
    assert (
        sso_selectors.sso_connection_get(organization=organization, connection_id=sso_connection.pk) == sso_connection
    )
    assert sso_selectors.sso_connection_get(organization=organization, connection_id=other.pk) is None
    domain = sso_connection.domains.get()
    assert sso_selectors.domain_get(organization=organization, domain_id=domain.pk) == domain
    assert sso_selectors.domain_get(organization=other_organization, domain_id=domain.pk) is None
    assert [d.domain for d in sso_selectors.domain_list(organization=organization)] == ["acme.test"]


def test_sso_connection_by_public_id_can_require_a_protocol(sso_connection):
    found = sso_selectors.sso_connection_by_public_id(public_id=sso_connection.public_id)
    assert found == sso_connection
    assert sso_selectors.sso_connection_by_public_id(public_id=sso_connection.public_id, protocol=SsoProtocol.SAML)
    assert (
        sso_selectors.sso_connection_by_public_id(public_id=sso_connection.public_id, protocol=SsoProtocol.OIDC) is None
    )
    assert sso_selectors.sso_connection_by_public_id(public_id=uuid.uuid4()) is None


def test_token_get_and_unrevoked_list_stay_in_the_organization(scim_organization, other_organization):
    live = services.scim_token_issue(organization=scim_organization, label="live", actor=OPERATOR).token
    revoked = services.scim_token_issue(organization=scim_organization, label="old", actor=OPERATOR).token
    services.scim_token_revoke(organization=scim_organization, token=revoked, actor=OPERATOR)
    assert tokens_selectors.token_get(organization=scim_organization, token_id=live.pk) == live
    assert tokens_selectors.token_get(organization=other_organization, token_id=live.pk) is None
    assert [t.pk for t in tokens_selectors.token_list_unrevoked(organization=scim_organization)] == [live.pk]
    assert ScimToken.objects.filter(organization=scim_organization).count() == 2


def test_email_domain_is_scim_managed_only_on_the_scim_connection(organization, sso_connection):
    assert not users_selectors.email_domain_is_scim_managed(organization=organization, domain="acme.test")
    services.scim_enable(organization=organization, connection=sso_connection, actor=OPERATOR)
    assert users_selectors.email_domain_is_scim_managed(organization=organization, domain="acme.test")
    assert not users_selectors.email_domain_is_scim_managed(organization=organization, domain="globex.test")


def test_user_ids_in_group_lists_only_members(organization, custom_group, manual_user):
    outsider = UserFactory(organization=organization, email="out@acme.test")
    services.group_members_add(organization=organization, group=custom_group, user_ids=[manual_user.pk], actor=OPERATOR)
    ids = [str(manual_user.pk), str(outsider.pk)]
    assert users_selectors.user_ids_in_group(group=custom_group, user_ids=ids) == {str(manual_user.pk)}


def test_break_glass_users_are_home_users_allowed_a_password(organization, admin_user, other_organization):
    services.user_local_login_set(organization=organization, user=admin_user, allowed=True, actor=OPERATOR)
    assert list(users_selectors.break_glass_users(organization=organization)) == [admin_user]
    assert admin_user not in users_selectors.break_glass_users(organization=other_organization)


# --- reads stay in the selectors ----------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
VIEW_FILES = sorted(
    [*(ROOT / "admincenter" / "views").glob("*.py"), *(ROOT / "sso").glob("views*.py"), ROOT / "scim" / "views.py"]
)


@pytest.mark.parametrize("path", VIEW_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_views_build_no_queryset_themselves(path):
    """Views call selectors (reads) and services (writes); a model manager here is a read that escaped."""
    source = path.read_text()
    assert ".objects." not in source and "get_object_or_404" not in source, path


def test_the_scim_connection_is_looked_up_in_one_place():
    spelled = [
        str(path.relative_to(ROOT))
        for folder in ("admincenter", "scim", "sso")
        for path in (ROOT / folder).rglob("*.py")
        if "scim_enabled=True).first()" in path.read_text()
    ]
    assert spelled == ["admincenter/selectors/sso.py"]
