"""Sign-in through an SSO connection (mounted at ``/sso/``). Every URL carries the
connection's ``public_id`` (a UUID), never its database id."""

from django.urls import path

from sso import views, views_oidc, views_saml

app_name = "sso"

urlpatterns = [
    path("<uuid:public_id>/login/", views.sso_login, name="login"),
    path("<uuid:public_id>/test/", views.sso_test, name="test"),
    path("<uuid:public_id>/saml/metadata/", views_saml.metadata, name="saml_metadata"),
    path("<uuid:public_id>/saml/acs/", views_saml.acs, name="saml_acs"),
    path("<uuid:public_id>/saml/complete/", views_saml.complete, name="saml_complete"),
    path("<uuid:public_id>/oidc/callback/", views_oidc.callback, name="oidc_callback"),
]
