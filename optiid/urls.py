"""Top-level URLs: the Admin Center, Django admin for operators, the SCIM API and SSO sign-in."""

from django.contrib import admin
from django.urls import include, path, re_path

urlpatterns = [
    path("operator/", admin.site.urls),
    re_path(r"^api/scim/v2(?:/+|$)", include("scim.urls")),
    path("sso/", include("sso.urls")),
    path("", include("admincenter.urls")),
]
