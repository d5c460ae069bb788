"""Background tasks: load, then call a service."""

from __future__ import annotations

from django_tasks import task

from annotation.projects.models import Project
from consensus.aggregation import DEFAULT_METHOD
from consensus.decisions.services import consensus_reestimate


@task()
def reestimate_task(project_id: int, method: str = DEFAULT_METHOD) -> dict:
    project = Project.objects.select_related("current_rulebook").get(pk=project_id)
    return consensus_reestimate(project=project, method=method).as_dict()
