"""Reads on projects: who may see what (``access_project``), the project list, progress, members, audit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet

from annotation.exceptions import ProjectNotFound, RoleRequired
from annotation.items.models import Item, ItemState
from annotation.projects.models import ROLE_RANK, AuditEvent, Membership, Project, Role
from annotation.voters.models import Voter

User = AbstractBaseUser | AnonymousUser


@dataclass(frozen=True)
class ProjectAccess:
    project: Project
    role: str
    voter: Voter | None = None  # whom the user votes as, read with the membership

    def has(self, role: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(role)]


def access_project(*, user: User, slug: str, role: str = Role.ANNOTATOR) -> ProjectAccess:
    """The project and the user's role in it.

    Raises ``ProjectNotFound`` for a missing project and for a non-member alike (so outsiders
    learn nothing), and ``RoleRequired`` for a member whose role is below ``role``.
    """
    if not user.is_authenticated:
        raise ProjectNotFound("Project not found.")
    membership = (
        Membership.objects.select_related("project", "project__current_rulebook", "voter")
        .filter(project__slug=slug, user_id=user.pk)
        .first()
    )
    if membership is None:
        raise ProjectNotFound("Project not found.")
    access = ProjectAccess(project=membership.project, role=membership.role, voter=membership.voter)
    if not access.has(role):
        raise RoleRequired(
            f"This needs the {Role(role).label.lower()} role in {membership.project.name}; "
            f"you are {Role(membership.role).label.lower()}.",
        )
    return access


def project_rows_for_user(*, user: User) -> list[dict[str, Any]]:
    """My projects with my role and item counts, in two queries."""
    memberships = list(
        Membership.objects.filter(user_id=user.pk).select_related("project").order_by("project__name")
    )
    counts = dict(
        Item.objects.filter(project_id__in=[m.project_id for m in memberships])
        .values_list("project_id")
        .annotate(n=Count("id"))
    )
    return [
        {"project": m.project, "role": m.role, "items": counts.get(m.project_id, 0)}
        for m in memberships
    ]


def project_progress(*, project: Project) -> dict[str, int]:
    """Item counts by state, plus ``total``, in one query."""
    aggregates = {
        state.value: Count("id", filter=Q(state=state.value)) for state in ItemState
    }
    row = Item.objects.filter(project=project).aggregate(total=Count("id"), **aggregates)
    return {k: int(v or 0) for k, v in row.items()}


def member_list(*, project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("user__username")


def audit_list(*, project: Project) -> QuerySet[AuditEvent]:
    return project.audit_events.select_related("actor").order_by("-created_at", "-id")
