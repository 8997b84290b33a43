"""URLs of the Admin Center pages (included from ``admincenter.urls``)."""

from django.urls import path

from admincenter.views import account, domains, groups, products, settings, signin, users

urlpatterns = [
    # Account (any signed-in user)
    path("account/password/", account.password_change, name="password_change"),
    path("account/password/done/", account.password_change_done, name="password_change_done"),
    # Users
    path("users/", users.user_list, name="user_list"),
    path("users/add/", users.user_add, name="user_add"),
    path("users/picker.json", users.user_picker, name="user_picker"),
    path("users/<uuid:user_id>/", users.user_detail, name="user_detail"),
    path("users/<uuid:user_id>/edit/", users.user_edit, name="user_edit"),
    path("users/<uuid:user_id>/active/", users.user_set_active, name="user_set_active"),
    path("users/<uuid:user_id>/delete/", users.user_delete, name="user_delete"),
    path("users/<uuid:user_id>/sign-in/", signin.user_local_login, name="user_local_login"),
    path("users/<uuid:user_id>/groups/add/", users.user_group_add, name="user_group_add"),
    path("users/<uuid:user_id>/groups/<uuid:group_id>/remove/", users.user_group_remove, name="user_group_remove"),
    # Groups
    path("groups/", groups.group_list, name="group_list"),
    path("groups/new/", groups.group_create, name="group_create"),
    path("groups/<uuid:group_id>/", groups.group_detail, name="group_detail"),
    path("groups/<uuid:group_id>/rename/", groups.group_rename, name="group_rename"),
    path("groups/<uuid:group_id>/delete/", groups.group_delete, name="group_delete"),
    path("groups/<uuid:group_id>/members/add/", groups.group_member_add, name="group_member_add"),
    path(
        "groups/<uuid:group_id>/members/<uuid:user_id>/remove/",
        groups.group_member_remove,
        name="group_member_remove",
    ),
    path("groups/<uuid:group_id>/access/add/", groups.group_grant_add, name="group_grant_add"),
    path("groups/<uuid:group_id>/access/<int:grant_id>/remove/", groups.group_grant_remove, name="group_grant_remove"),
    # Products and the access export
    path("products/", products.product_list, name="product_list"),
    path("products/<int:instance_pk>/", products.product_detail, name="product_detail"),
    path("export/", products.access_export, name="access_export"),
    path("export/access.csv", products.access_export_csv, name="access_export_csv"),
    # Settings
    path("settings/", settings.settings_index, name="settings"),
    path("settings/sso/", settings.sso_list, name="sso_list"),
    path("settings/sso/new/", settings.sso_create, name="sso_create"),
    path("settings/sso/<int:connection_id>/edit/", settings.sso_edit, name="sso_edit"),
    path("settings/sso/<int:connection_id>/delete/", settings.sso_delete, name="sso_delete"),
    path("settings/domains/", domains.domain_list, name="domain_list"),
    path("settings/domains/<int:domain_id>/verify/", domains.domain_verify_view, name="domain_verify"),
    path("settings/provisioning/", settings.provisioning, name="provisioning"),
    path("settings/provisioning/scim/", settings.provisioning_scim, name="provisioning_scim"),
    path("settings/provisioning/jit/", settings.provisioning_jit, name="provisioning_jit"),
    path(
        "settings/provisioning/deactivation/",
        settings.provisioning_deactivate_action,
        name="provisioning_deactivate_action",
    ),
    path("settings/scim-tokens/", settings.scim_tokens, name="scim_tokens"),
    path("settings/scim-tokens/<int:token_id>/revoke/", settings.scim_token_revoke, name="scim_token_revoke"),
    path("settings/connect-idp/", settings.connect_idp, name="connect_idp"),
    path("settings/sign-in/", signin.sign_in_policy, name="sign_in_policy"),
]
