from django.apps import AppConfig


class AdminCenterConfig(AppConfig):
    name = "admincenter"
    verbose_name = "Admin Center"
    default_auto_field = "django.db.models.BigAutoField"
