"""SCIM requests skip the Admin Center's middleware (scim/middleware.py)."""

from unittest import mock

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.response import Response
from rest_framework.views import APIView

from scim.middleware import ScimShortcutMiddleware, is_scim_path


def test_it_sits_right_after_the_security_middleware():
    # The request id comes first, so SCIM answers carry it too (optiid/middleware.py).
    assert settings.MIDDLEWARE[:3] == [
        "optiid.middleware.RequestIdMiddleware",
        "django.middleware.security.SecurityMiddleware",
        "scim.middleware.ScimShortcutMiddleware",
    ]


@pytest.mark.parametrize(
    ("path", "scim"),
    [
        ("/api/scim/v2", True),
        ("/api/scim/v2/Users", True),
        ("//api/scim/v2/Users", False),
        ("/api/scim/v2x/Users", False),
        ("/api/scim/", False),
        ("/login/", False),
    ],
)
def test_scim_paths_are_those_under_the_base(path, scim):
    assert is_scim_path(path) is scim


def test_a_scim_answer_has_the_security_headers_and_nothing_of_the_browser_middleware(scim_token):
    response = Client(HTTP_AUTHORIZATION=f"Bearer {scim_token}").get("/api/scim/v2/Users?count=1")
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware still runs
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Content-Length"] == str(len(response.content))
    assert "X-Frame-Options" not in response
    assert "Vary" not in response
    assert not response.cookies


@pytest.mark.parametrize("path", ["/api/scim/v2", "/api/scim/v2/", "/api/scim/v2//Nowhere/"])
def test_paths_under_the_base_without_an_endpoint_are_scim_404s(scim_token, path):
    response = Client(HTTP_AUTHORIZATION=f"Bearer {scim_token}").get(path)
    assert (response.status_code, response["Content-Type"]) == (404, "application/scim+json")
    assert response.json()["status"] == "404"


@pytest.mark.django_db
def test_admin_center_pages_still_pass_every_middleware():
    response = Client().get("/login/")
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert "csrftoken" in response.cookies


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/api/scim/v2/Users", "GET, POST, HEAD, OPTIONS"),
        ("/api/scim/v2/ServiceProviderConfig", "GET, HEAD, OPTIONS"),
    ],
)
def test_options_is_a_scim_answer_naming_the_allowed_methods(scim_token, path, allow):
    response = Client(HTTP_AUTHORIZATION=f"Bearer {scim_token}").options(path)
    assert (response.status_code, response.content) == (204, b"")
    assert response["Allow"] == allow
    assert response["Content-Length"] == "0"


def test_options_on_a_path_without_an_endpoint_is_a_scim_404(scim_token):
    response = Client(HTTP_AUTHORIZATION=f"Bearer {scim_token}").options("/api/scim/v2/Nowhere")
    assert (response.status_code, response["Content-Type"]) == (404, "application/scim+json")


def test_options_without_a_token_is_a_scim_401(db):
    response = Client().options("/api/scim/v2/Users")
    assert (response.status_code, response["Content-Type"]) == (401, "application/scim+json")


def test_a_deferred_response_is_rendered_before_its_length_is_set(rf):
    class Deferred(APIView):
        authentication_classes: list = []
        permission_classes: list = []

        def get(self, request):
            return Response({"ok": True})

    request = rf.get("/api/scim/v2/Users")
    request.path_info = "/api/scim/v2/Users"
    middleware = ScimShortcutMiddleware(lambda request: None)
    with mock.patch("scim.middleware.resolve") as resolve:
        resolve.return_value = mock.Mock(func=Deferred.as_view(), args=(), kwargs={})
        response = middleware(request)
    assert response.content == b'{"ok":true}'
    assert response["Content-Length"] == str(len(response.content))
