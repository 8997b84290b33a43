"""Django admin for platform operators (read-mostly). Writes that carry domain rules go
through manage.py commands, which call the services and are audited."""

from django.contrib import admin

from admincenter import models


@admin.register(models.Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "slug",
        "provisioning_mode",
        "on_scim_deactivate",
        "created_at",
    )
    search_fields = ("name", "slug")


@admin.register(models.User)
class UserAdmin(admin.ModelAdmin):
    list_display = (
        "email",
        "home_organization",
        "source",
        "is_active",
        "is_staff",
        "created_at",
    )
    list_filter = ("source", "is_active", "is_staff")
    search_fields = ("email", "given_name", "family_name", "external_id")
    list_select_related = ("home_organization",)
    exclude = ("password",)
    readonly_fields = (
        "scim_connection",
        "scim_released_at",
        "source",
        "created_at",
        "updated_at",
        "last_login",
    )


@admin.register(models.Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "kind", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "external_id")
    list_select_related = ("organization",)


@admin.register(models.ScimToken)
class ScimTokenAdmin(admin.ModelAdmin):
    list_display = (
        "token_prefix",
        "label",
        "organization",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    exclude = ("token_hash",)
    readonly_fields = ("token_prefix", "created_at", "last_used_at")
    list_select_related = ("organization",)


@admin.register(models.AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = (
        "occurred_at",
        "organization",
        "actor_type",
        "actor_label",
        "action",
        "target_label",
        "outcome",
    )
    list_filter = ("actor_type", "outcome")
    search_fields = ("action", "target_label", "actor_label", "request_id")
    list_select_related = ("organization",)

    def has_change_permission(self, request, obj=None):
        return False  # append-only

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register([models.SsoConnection, models.Product, models.Role, models.ProductInstance])
