"""Celery tasks of the audit log: thin wrappers that call the audit services in their bodies.

Arguments are ids only. With no broker configured (``make run``) they run eagerly in-process;
otherwise in ``make worker``, with ``make beat`` sending the sweep and the retention task.
Task names are explicit so the beat schedule in settings, and ``admincenter.audit.enqueue``
(which publishes by name), do not depend on module paths.
"""

from __future__ import annotations

from celery import shared_task

from admincenter.audit import enqueue, export, processing, retention
from admincenter.audit.record import Actor


@shared_task(name="admincenter.audit.process", ignore_result=True)
def process_audit_backlog() -> dict:
    """Enqueued after each commit that wrote audit rows; drains the backlog in batches."""
    result = processing.audit_backlog_process(time_budget=processing.TASK_TIME_BUDGET_SECONDS)
    if result.more:
        enqueue.enqueue_processing()
    return {"events": result.events, "requests": result.requests}


@shared_task(name="admincenter.audit.sweep", ignore_result=True)
def sweep_audit_backlog() -> dict:
    """Every minute (beat): picks up rows whose enqueue was lost, for example while Redis was down."""
    result = processing.audit_backlog_sweep()
    if result.more:
        enqueue.enqueue_processing()
    return {"events": result.events, "requests": result.requests}


@shared_task(name="admincenter.audit.retention", ignore_result=True)
def purge_audit_retention() -> dict:
    """Daily (beat): deletes raw rows past AUDIT_*_RETENTION_DAYS; roll-ups are kept."""
    return retention.audit_retention_purge(actor=Actor.system("audit retention")).as_dict()


@shared_task(name="admincenter.audit.export", ignore_result=True)
def run_audit_export(job_id: int) -> None:
    """Writes the file of an Admin Center export job (large ranges)."""
    export.export_job_run(job_id=job_id)
