"""Routes of the Admin Center audit pages (included from admincenter/urls.py)."""

from django.urls import path

from admincenter.audit import views

urlpatterns = [
    path("audit/", views.audit_log, name="audit_log"),
    path("audit/<int:pk>/", views.audit_detail, name="audit_detail"),
    path("audit/requests/", views.audit_requests, name="audit_requests"),
    path("audit/export/", views.audit_export, name="audit_export"),
    path("audit/exports/<int:pk>/", views.audit_export_detail, name="audit_export_detail"),
    path("audit/exports/<int:pk>/download/", views.audit_export_download, name="audit_export_download"),
]
