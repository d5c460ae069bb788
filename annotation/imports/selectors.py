"""Reads on import jobs."""

from __future__ import annotations

from django.db.models import QuerySet

from annotation.exceptions import NotFound
from annotation.imports.models import ImportJob
from annotation.projects.models import Project


def import_job_list(*, project: Project) -> QuerySet[ImportJob]:
    return project.imports.select_related("created_by").order_by("-created_at", "-id")


def import_job_get(*, project: Project, job_id: int) -> ImportJob:
    job = project.imports.filter(pk=job_id).first()
    if job is None:
        raise NotFound("Import not found.")
    return job
