"""Writes on the rulebook: the draft, its checks, publishing a version and its examples."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from annotation import events, limits
from annotation.exceptions import Conflict, NotFound, ValidationFailed
from annotation.items import transitions
from annotation.items.models import Item, ItemState
from annotation.projects.models import Project
from annotation.projects.services import audit_record
from annotation.rulebook import document as rb
from annotation.rulebook.models import ClarificationNote, RulebookStatus, RulebookVersion
from annotation.rulebook.selectors import rulebook_current, rulebook_document, rulebook_draft


def rulebook_draft_get_or_create(*, project: Project) -> RulebookVersion:
    """The project's draft; a new one starts as a copy of the newest published version."""
    draft = rulebook_draft(project=project)
    if draft is not None:
        return draft
    current = rulebook_current(project=project)
    try:
        with transaction.atomic():
            return RulebookVersion.objects.create(
                project=project,
                guidelines=current.guidelines if current else "",
                unclear_instructions=current.unclear_instructions if current else "",
                do_not_label=current.do_not_label if current else "",
                labels=current.labels if current else [],
                decision_path=current.decision_path if current else [],
            )
    except IntegrityError:  # another request made the draft first
        return rulebook_draft(project=project)  # type: ignore[return-value]


def _example_errors(project: Project, labels: list[dict[str, Any]]) -> list[rb.RulebookError]:
    wanted = {
        ext for lab in labels for ext in (*lab["fit_examples"], *lab["nonfit_examples"])
    }
    if not wanted:
        return []
    found = set(
        Item.objects.filter(project=project, external_id__in=wanted).values_list("external_id", flat=True)
    )
    errors = []
    for i, lab in enumerate(labels):
        for name in ("fit_examples", "nonfit_examples"):
            missing = [e for e in lab[name] if e not in found]
            if missing:
                errors.append(
                    rb.RulebookError(name, "No item with id " + ", ".join(repr(m) for m in missing) + ".", i)
                )
    return errors


def rulebook_check(
    *, project: Project, labels: list[dict[str, Any]], decision_path: list[dict[str, str]] | None = None
) -> list[dict[str, Any]]:
    """Every problem that would stop these labels (and decision path) being published."""
    path_errors = rb.validate_decision_path(decision_path or [], [lab["key"] for lab in labels])
    return [e.as_dict() for e in (*rb.validate_labels(labels), *_example_errors(project, labels), *path_errors)]


@transaction.atomic
def rulebook_draft_save(
    *,
    actor: AbstractBaseUser,
    project: Project,
    guidelines: str,
    unclear_instructions: str,
    do_not_label: str,
    labels: list[dict[str, Any]],
    decision_path: list[dict[str, str]] | None = None,
    change_note: str = "",
    based_on: Any = None,
) -> tuple[RulebookVersion, list[dict[str, Any]]]:
    """Save the draft as given (a draft may be incomplete; nothing typed is lost) and return
    it with the problems that would stop it being published. A draft over a size cap
    (``limits``) is refused whole with ``ValidationFailed`` naming each field.

    ``based_on`` is the draft's ``updated_at`` when the editor loaded it: if someone saved the
    draft since, ``Conflict`` is raised instead of overwriting their work.
    """
    too_large = limits.rulebook_errors(
        texts={"guidelines": guidelines, "unclear_instructions": unclear_instructions, "do_not_label": do_not_label},
        labels=labels, decision_path=decision_path or [],
    )  # fmt: skip
    if too_large:
        raise ValidationFailed("The draft is too large to save; nothing was saved.", too_large)
    draft = rulebook_draft_get_or_create(project=project)
    draft = RulebookVersion.objects.select_for_update().get(pk=draft.pk)
    if based_on is not None and draft.updated_at != based_on:
        raise Conflict(
            f"Someone else saved this draft at {timezone.localtime(draft.updated_at):%H:%M:%S} since you opened it. "
            "Nothing was overwritten: your text is still below. Reload the editor to see theirs, then apply your changes."
        )
    normalized = [rb.normalize_label(lab, i) for i, lab in enumerate(labels)]
    before = rulebook_document(draft)
    draft.guidelines = guidelines
    draft.unclear_instructions = unclear_instructions
    draft.do_not_label = do_not_label
    draft.labels = normalized
    draft.decision_path = decision_path or []
    draft.change_note = change_note.strip()[:500]
    draft.save()
    after = rulebook_document(draft)
    if after != before:
        audit_record(project=project, actor=actor, verb="rulebook.draft_save", obj=draft, before=before, after=after)
    return draft, rulebook_check(project=project, labels=normalized, decision_path=draft.decision_path)


def _withdraw_examples(*, actor: AbstractBaseUser, project: Project, version: RulebookVersion) -> None:
    """Items shown as examples in the rulebook are shown with their answer: they leave the
    queue (``transitions.items_exclude``: excluded, any lease on them revoked, each audited),
    so no annotator is asked to label them."""
    wanted = {ext for lab in version.labels for ext in (*lab["fit_examples"], *lab["nonfit_examples"])}
    examples = dict(
        Item.objects.filter(project=project, external_id__in=wanted, state=ItemState.QUEUED).values_list("pk", "external_id")
    )
    if not examples:
        return
    transitions.items_exclude(
        project=project, item_ids=list(examples), why=transitions.Why(verb="item.exclude", actor=actor),
        reason=f"example in rulebook v{version.number}", notice="This item became an example in the rulebook.",
        details={pk: ({}, {"item": ext}) for pk, ext in examples.items()}, now=timezone.now(),
    )  # fmt: skip


@transaction.atomic
def rulebook_publish(
    *, actor: AbstractBaseUser, project: Project, change_note: str = ""
) -> RulebookVersion:
    """Publish the draft as the next numbered, immutable version.

    Raises ``ValidationFailed`` listing every problem (duplicate keys or hotkeys, fewer than two
    labels, unknown example items) and ``Conflict`` if nothing changed since the last version.
    Annotators with the project open are told to reload once the transaction commits.
    """
    Project.objects.select_for_update().filter(pk=project.pk).first()  # serialize publishes
    draft = rulebook_draft(project=project)
    if draft is None:
        raise Conflict("There is no draft to publish; edit the rulebook first.")
    errors = rulebook_check(project=project, labels=draft.labels, decision_path=draft.decision_path)
    if errors:
        raise ValidationFailed("The rulebook cannot be published yet.", errors)
    current = rulebook_current(project=project)
    if current is not None and rb.diff(rulebook_document(current), rulebook_document(draft)).is_empty:
        raise Conflict(f"The draft is the same as v{current.number}; change something first.")
    number = (project.rulebook_versions.aggregate(n=Max("number"))["n"] or 0) + 1
    draft.status = RulebookStatus.PUBLISHED
    draft.number = number
    draft.published_at = timezone.now()
    draft.published_by = actor
    if change_note:
        draft.change_note = change_note.strip()[:500]
    draft.save()
    project.current_rulebook = draft
    Project.objects.filter(pk=project.pk).update(current_rulebook=draft)
    _withdraw_examples(actor=actor, project=project, version=draft)
    audit_record(
        project=project, actor=actor, verb="rulebook.publish", obj=draft,
        before=rulebook_document(current) if current else None, after=rulebook_document(draft),
    )  # fmt: skip
    events.rulebook_published(project.pk, version=number, labels=len(draft.labels))
    return draft


@transaction.atomic
def clarification_resolve(*, project: Project, actor: AbstractBaseUser, note_id: int) -> None:
    note = ClarificationNote.objects.select_for_update().filter(project=project, pk=note_id, resolved_at__isnull=True).first()
    if note is None:
        raise NotFound("No such open note.")
    ClarificationNote.objects.filter(pk=note.pk).update(resolved_at=timezone.now(), resolved_by=actor)
    audit_record(actor=actor, project=project, verb="rulebook.clarification_resolved", obj=note,
                 before={"label": note.label_key, "text": note.text})  # fmt: skip
