"""Who may use the Admin Center: login, the admin check, CSRF, organization scoping.

``admin_client`` is pytest-django's fixture: a client logged in as ``admin_user``,
which tests/conftest.py defines as the first admin of ``organization``."""

import pytest
from django.test import Client
from django.urls import URLPattern, get_resolver, reverse

from admincenter import services
from admincenter.models import AuditEvent, Group, SystemGroupKey
from admincenter.services import Actor
from tests.conftest import ADMIN_PASSWORD
from tests.factories import UserFactory

OPERATOR = Actor.operator("tests")


@pytest.fixture
def other_admin_client(other_organization):
    client = Client()
    client.force_login(other_organization.home_users.get(email="admin@globex.test"))
    return client


def last_event(organization, action):
    return AuditEvent.objects.filter(organization=organization, action=action).order_by("-id").first()


def admincenter_routes():
    """Every named Admin Center page (the routes of ``admincenter.views.routes``, the dashboard)."""
    from admincenter.views import routes

    return [p for p in routes.urlpatterns if isinstance(p, URLPattern)]


# GET pages without URL arguments, used for the permission matrix.
SIMPLE_PAGES = [
    "home",
    "user_list",
    "user_add",
    "user_picker",
    "group_list",
    "group_create",
    "product_list",
    "access_export",
    "access_export_csv",
    "settings",
    "sso_list",
    "sso_create",
    "provisioning",
    "provisioning_jit",
    "scim_tokens",
    "connect_idp",
]


@pytest.mark.parametrize("name", SIMPLE_PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(client, organization, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


# The dashboard sends non-admins to My access instead (tests/admincenter/test_views_signin.py).
@pytest.mark.parametrize("name", [name for name in SIMPLE_PAGES if name != "home"])
def test_non_admins_get_the_friendly_403_page(member_client, name):
    response = member_client.get(reverse(name))
    assert response.status_code == 403
    assert b"have access to the Admin Center" in response.content
    assert b"Admin Center Administrators" in response.content


@pytest.mark.parametrize("name", SIMPLE_PAGES)
def test_admins_can_open_every_page(admin_client, name):
    response = admin_client.get(reverse(name))
    assert response.status_code in (200, 302)


def test_every_admin_center_route_is_guarded():
    unguarded = [
        p.name
        for p in admincenter_routes()
        if not getattr(p.callback, "admin_required", False) and not p.name.startswith("password_change")
    ]
    assert unguarded == []


def test_post_only_actions_are_guarded_too(client, member_client, custom_group, manual_user):
    url = reverse("group_rename", args=[custom_group.pk])
    assert client.post(url, {"rename-name": "X"}).status_code == 302
    assert member_client.post(url, {"rename-name": "X"}).status_code == 403
    custom_group.refresh_from_db()
    assert custom_group.name == "Marketing"


def test_the_403_page_lists_the_members_own_access(member_client, member_editors):
    response = member_client.get(reverse("user_list"))
    assert response.status_code == 403
    assert b"Your product access" in response.content
    assert b"Content Editors" in response.content


def test_a_deactivated_admin_loses_access_at_once(admin_client, admin_user, organization):
    second = UserFactory(organization=organization, email="second@acme.test")
    admins = Group.objects.get(organization=organization, system_key=SystemGroupKey.ADMIN_CENTER_ADMINS)
    services.group_members_add(organization=organization, group=admins, user_ids=[second.pk], actor=OPERATOR)
    services.user_set_active(organization=organization, user=admin_user, active=False, actor=OPERATOR)
    response = admin_client.get(reverse("home"))
    assert response.status_code == 302  # the session no longer authenticates an inactive user


def test_login_with_email_and_password_then_logout(client, organization):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b'<label for="id_username">Email</label>' in page.content
    response = client.post(reverse("login"), {"username": "ADMIN@acme.test", "password": ADMIN_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert client.get(reverse("home")).status_code == 200
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_a_wrong_password_shows_an_error(client, organization):
    response = client.post(reverse("login"), {"username": "admin@acme.test", "password": "nope"})
    assert response.status_code == 200
    assert b'role="alert"' in response.content


def test_forms_are_csrf_protected(organization, admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post(reverse("group_create"), {"name": "Sneaky"})
    assert response.status_code == 403
    assert b"This form has expired" in response.content
    assert not Group.objects.filter(organization=organization, name="Sneaky").exists()
    page = client.get(reverse("group_create"))
    token = page.cookies["csrftoken"].value
    response = client.post(reverse("group_create"), {"name": "Fine", "csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_pages_never_show_another_organizations_objects(admin_client, other_organization):
    other_user = other_organization.home_users.get(email="hank@globex.test")
    other_group = Group.objects.get(organization=other_organization, name="Globex Sales")
    other_connection = other_organization.sso_connections.get()
    other_token = services.scim_token_issue(organization=other_organization, label="Okta", actor=OPERATOR).token
    other_instance = services.product_instance_create(
        organization=other_organization, product_code="cms", nickname="Prod", actor=OPERATOR
    )
    urls = [
        reverse("user_detail", args=[other_user.pk]),
        reverse("user_delete", args=[other_user.pk]),
        reverse("group_detail", args=[other_group.pk]),
        reverse("group_delete", args=[other_group.pk]),
        reverse("product_detail", args=[other_instance.pk]),
        reverse("sso_edit", args=[other_connection.pk]),
        reverse("sso_delete", args=[other_connection.pk]),
        reverse("scim_token_revoke", args=[other_token.pk]),
    ]
    for url in urls:
        assert admin_client.get(url).status_code == 404, url
    posts = [
        (reverse("user_edit", args=[other_user.pk]), {"email": "x@acme.test"}),
        (reverse("user_delete", args=[other_user.pk]), {}),
        (reverse("group_rename", args=[other_group.pk]), {"rename-name": "Mine"}),
        (reverse("group_delete", args=[other_group.pk]), {}),
        (reverse("group_member_add", args=[other_group.pk]), {"member-email": "admin@acme.test"}),
        (reverse("sso_delete", args=[other_connection.pk]), {}),
        (reverse("scim_token_revoke", args=[other_token.pk]), {}),
    ]
    for url, data in posts:
        assert admin_client.post(url, data).status_code == 404, url
    other_token.refresh_from_db()
    assert other_token.revoked_at is None
    assert Group.objects.filter(pk=other_group.pk, name="Globex Sales").exists()


def test_a_collaborator_admitted_elsewhere_is_not_visible_in_their_home_organization(
    admin_client, organization, other_organization
):
    hank = other_organization.home_users.get(email="hank@globex.test")
    assert admin_client.get(reverse("user_detail", args=[hank.pk])).status_code == 404
    services.collaborator_add(organization=organization, email=hank.email, actor=OPERATOR)
    assert admin_client.get(reverse("user_detail", args=[hank.pk])).status_code == 200


def test_password_change_is_audited_and_keeps_the_session(client, organization, admin_user):
    client.force_login(admin_user)
    url = reverse("password_change")
    response = client.post(
        url, {"old_password": "wrong", "new_password1": "Brand-New-Pass-99", "new_password2": "Brand-New-Pass-99"}
    )
    assert response.status_code == 400
    assert b"incorrectly" in response.content
    response = client.post(
        url,
        {"old_password": ADMIN_PASSWORD, "new_password1": "Brand-New-Pass-99", "new_password2": "Brand-New-Pass-99"},
    )
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200
    event = last_event(organization, "user.password.change")
    assert event is not None and event.target_label == "admin@acme.test"
    assert "Brand-New" not in str(event.before) + str(event.after)
    admin_user.refresh_from_db()
    assert admin_user.check_password("Brand-New-Pass-99")


def test_user_picker_needs_an_admin(member_client):
    assert member_client.get(reverse("user_picker"), {"q": "a"}).status_code == 403


def test_non_admins_may_change_their_own_password(member_client):
    assert member_client.get(reverse("password_change")).status_code == 200


def test_operators_without_an_organization_get_the_403_page(db):
    from admincenter.models import User

    operator = User.objects.create_superuser("ops@platform.test", "Operator-Pass-1")
    client = Client()
    client.force_login(operator)
    response = client.get(reverse("home"))
    assert response.status_code == 403
    assert b"operator console" in response.content


def test_every_response_carries_a_request_id_that_the_audit_records(admin_client, organization):
    response = admin_client.post(reverse("group_create"), {"name": "Traced"}, HTTP_X_REQUEST_ID="req-123")
    assert response.status_code == 302
    assert response["X-Request-ID"] == "req-123"
    event = last_event(organization, "group.create")
    assert event.request_id == "req-123"
    assert event.actor_label == "admin@acme.test"
    assert event.ip == "127.0.0.1"


def test_url_names_are_unique():
    names = [p.name for p in get_resolver().url_patterns if isinstance(p, URLPattern)]
    assert len(names) == len(set(names))
