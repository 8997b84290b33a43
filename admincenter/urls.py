"""Admin Center URLs: sign-in and the pages for administrators."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from admincenter import views, views_audit

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("", include("admincenter.views.routes")),
    path("audit/", views_audit.audit_log, name="audit_log"),
]
