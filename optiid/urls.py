"""Top-level URLs: the Admin Center, Django admin for operators, the SCIM API and SSO sign-in."""

import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

urlpatterns = [
    path("operator/", admin.site.urls),
    re_path(rf"^{re.escape(settings.SCIM_PATH.lstrip('/'))}(?:/+|$)", include("scim.urls")),
    path("sso/", include("sso.urls")),
    path("", include("admincenter.urls")),
]
