from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _raise_sqlite_parameter_limit(sender, connection, **kwargs):
    """Django assumes SQLite's old limit of 999 parameters per statement and splits bulk
    inserts accordingly; SQLite 3.32+ allows 32766. Use the real limit so that adding
    1,000 group members is one INSERT on SQLite as on PostgreSQL."""
    if connection.vendor != "sqlite":
        return
    import sqlite3

    limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    connection.features.max_query_params = min(limit, 32766)


class AdminCenterConfig(AppConfig):
    name = "admincenter"
    verbose_name = "Admin Center"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        connection_created.connect(_raise_sqlite_parameter_limit, dispatch_uid="optiid-sqlite-parameter-limit")
        # Registers the audit tasks in every process, the web ones too: admincenter.audit.enqueue
        # publishes them by name. Inside ready() because the tasks import the models.
        from admincenter.audit import tasks  # noqa: F401
