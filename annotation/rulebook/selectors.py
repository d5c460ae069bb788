"""Reads on the rulebook: the current version, the draft, history, examples, open clarification notes."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from annotation.exceptions import NotFound
from annotation.items.models import Item
from annotation.projects.models import Project
from annotation.rulebook import document as rb
from annotation.rulebook.models import ClarificationNote, RulebookStatus, RulebookVersion


def rulebook_current(*, project: Project) -> RulebookVersion | None:
    """The published version in force, or None before the first publish (no query when the
    project was loaded by ``access_project``)."""
    return project.current_rulebook


def rulebook_draft(*, project: Project) -> RulebookVersion | None:
    return project.rulebook_versions.filter(status=RulebookStatus.DRAFT).first()


def rulebook_versions(*, project: Project) -> QuerySet[RulebookVersion]:
    return (
        project.rulebook_versions.filter(status=RulebookStatus.PUBLISHED)
        .select_related("published_by")
        .order_by("-number")
    )


def rulebook_version_get(*, project: Project, number: int) -> RulebookVersion:
    version = project.rulebook_versions.filter(number=number).first()
    if version is None:
        raise NotFound(f"There is no version {number} of this rulebook.")
    return version


def rulebook_document(version: RulebookVersion) -> dict[str, Any]:
    return {
        "guidelines": version.guidelines,
        "unclear_instructions": version.unclear_instructions,
        "do_not_label": version.do_not_label,
        "labels": version.labels,
        "decision_path": rb.format_decision_path(version.decision_path),
    }


def rulebook_example_items(*, project: Project, version: RulebookVersion) -> dict[str, Item]:
    """The items a version's labels name as examples, by external id, in one query."""
    ids = {
        ext
        for label in version.labels
        for ext in (*label.get("fit_examples", []), *label.get("nonfit_examples", []))
    }
    if not ids:
        return {}
    return {i.external_id: i for i in Item.objects.filter(project=project, external_id__in=ids)}


def clarification_notes_open(*, project: Project) -> list[ClarificationNote]:
    """Reviewers' open "needs clarification" notes, for the admins editing the draft."""
    return list(
        ClarificationNote.objects.filter(project=project, resolved_at__isnull=True)
        .select_related("author", "item")
        .order_by("label_key", "created_at")
    )
