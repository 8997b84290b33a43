"""Where Celery looks for this app's tasks: ``app.autodiscover_tasks()`` (optiid/celery.py)
imports ``<app>.tasks`` of each installed app. The audit tasks live in
``admincenter.audit.tasks``; this module only imports them so the worker registers them.
"""

from admincenter.audit.tasks import process_audit_backlog, purge_audit_retention, run_audit_export, sweep_audit_backlog

__all__ = ["process_audit_backlog", "purge_audit_retention", "run_audit_export", "sweep_audit_backlog"]
