"""Background tasks: load, then call a service."""

from __future__ import annotations

from django_tasks import task

from annotation.imports.services import import_run


@task()
def import_run_task(job_id: int) -> int:
    return import_run(job_id=job_id).created
