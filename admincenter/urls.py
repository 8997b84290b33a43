"""Admin Center URLs: sign-in and the pages for administrators."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from admincenter import views, views_audit
from admincenter.views import signin

urlpatterns = [
    path("login/", signin.login, name="login"),
    path("my-access/", signin.my_access, name="my_access"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("", include("admincenter.views.routes")),
    path("audit/", views_audit.audit_log, name="audit_log"),
    path("audit/<int:pk>/", views_audit.audit_detail, name="audit_detail"),
    path("audit/requests/", views_audit.audit_requests, name="audit_requests"),
    path("audit/export/", views_audit.audit_export, name="audit_export"),
    path("audit/exports/<int:pk>/", views_audit.audit_export_detail, name="audit_export_detail"),
    path("audit/exports/<int:pk>/download/", views_audit.audit_export_download, name="audit_export_download"),
]
