"""Celery tasks of the Admin Center: thin wrappers around ``admincenter.services.audit_pipeline``.

Arguments are ids only. With no broker configured (``make run``) they run eagerly in-process;
otherwise in ``make worker``, with ``make beat`` sending the sweep and the retention task.
Task names are explicit so the beat schedule in settings does not depend on module paths.
"""

from __future__ import annotations

from celery import shared_task

from admincenter.services import audit_pipeline
from admincenter.services.audit import Actor


@shared_task(name="admincenter.audit.process", ignore_result=True)
def process_audit_backlog() -> dict:
    """Enqueued after each commit that wrote audit rows; drains the backlog in batches."""
    result = audit_pipeline.process_backlog(time_budget=audit_pipeline.TASK_TIME_BUDGET_SECONDS)
    if result.more:
        audit_pipeline.enqueue_processing()
    return {"events": result.events, "requests": result.requests}


@shared_task(name="admincenter.audit.sweep", ignore_result=True)
def sweep_audit_backlog() -> dict:
    """Every minute (beat): picks up rows whose enqueue was lost, for example while Redis was down."""
    result = audit_pipeline.sweep()
    if result.more:
        audit_pipeline.enqueue_processing()
    return {"events": result.events, "requests": result.requests}


@shared_task(name="admincenter.audit.retention", ignore_result=True)
def purge_audit_retention() -> dict:
    """Daily (beat): deletes raw rows past AUDIT_*_RETENTION_DAYS; roll-ups are kept."""
    return audit_pipeline.purge_expired(actor=Actor.system("audit retention")).as_dict()


@shared_task(name="admincenter.audit.export", ignore_result=True)
def run_audit_export(job_id: int) -> None:
    """Writes the file of an Admin Center export job (large ranges)."""
    audit_pipeline.export_job_run(job_id=job_id)
