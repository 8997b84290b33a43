"""Top-level URLs: the Admin Center, Django admin for operators, the SCIM API and SSO sign-in."""

import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from admincenter.views import health
from optiid.metrics import metrics_view

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("operator/", admin.site.urls),
    re_path(rf"^{re.escape(settings.SCIM_PATH.lstrip('/'))}(?:/+|$)", include("scim.urls")),
    path("sso/", include("sso.urls")),
    path("", include("admincenter.urls")),
]
