"""SCIM 2.0 endpoints mounted at /api/scim/v2. Paths tolerate a trailing slash and the
doubled slashes some connectors produce when joining the base URL (PingOne)."""

from django.urls import re_path

from scim import views

urlpatterns = [
    re_path(r"^Users/*$", views.UsersView.as_view(), name="scim-users"),
    re_path(r"^Users/+(?P<pk>[^/]+)/*$", views.UserView.as_view(), name="scim-user"),
    re_path(r"^Groups/*$", views.GroupsView.as_view(), name="scim-groups"),
    re_path(r"^Groups/+(?P<pk>[^/]+)/*$", views.GroupView.as_view(), name="scim-group"),
    re_path(r"^ServiceProviderConfig/*$", views.ServiceProviderConfigView.as_view(), name="scim-spc"),
    re_path(r"^ResourceTypes/*$", views.ResourceTypesView.as_view(), name="scim-resource-types"),
    re_path(r"^ResourceTypes/+(?P<resource_id>[^/]+)/*$", views.ResourceTypesView.as_view()),
    re_path(r"^Schemas/*$", views.SchemasView.as_view(), name="scim-schemas"),
    re_path(r"^Schemas/+(?P<schema_id>[^/]+)/*$", views.SchemasView.as_view()),
    re_path(r"^Bulk/*$", views.NotImplementedView.as_view(feature="Bulk"), name="scim-bulk"),
    re_path(r"^Me/*$", views.NotImplementedView.as_view(feature="/Me"), name="scim-me"),
    re_path(r"^.*$", views.UnknownEndpointView.as_view()),
]
