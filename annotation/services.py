"""Writes for projects, members and the rulebook. Every change records an audit event.

Imports live in ``imports.py``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from annotation import events, limits
from annotation import rulebook as rb
from annotation.exceptions import Conflict, NotFound, ValidationFailed
from annotation.items.models import Item, ItemState
from annotation.labeling.models import Lease, LeaseStatus
from annotation.projects.models import AuditEvent, Membership, Project, QuestionType, Role
from annotation.rulebook.models import RulebookStatus, RulebookVersion
from annotation.selectors import rulebook_current, rulebook_document, rulebook_draft

CURATION_SETTINGS = (
    "near_duplicate_distance",
    "blur_threshold",
    "dark_threshold",
    "bright_threshold",
    "min_image_side",
    "min_text_chars",
)
# The range of each curation threshold: (lowest, highest or None). The service checks them; the
# thresholds form shows them to the browser and names the field that is out of range.
CURATION_RANGES: dict[str, tuple[float, float | None]] = {
    "near_duplicate_distance": (0, 11),
    "blur_threshold": (0, None),
    "dark_threshold": (0, 255),
    "bright_threshold": (0, 255),
    "min_image_side": (0, None),
    "min_text_chars": (0, None),
}
PROJECT_SETTINGS = (
    "name",
    "description",
    "min_votes",
    "max_votes",
    "promote_posterior",
    "promote_agreement",
    "gold_rate",
    "lease_seconds",
    "review_unsure",
    "gold_feedback",
    "min_gold_accuracy",
    *CURATION_SETTINGS,
)


def audit_record(
    *,
    project: Project | None,
    actor: AbstractBaseUser | None,
    verb: str,
    obj: Any,
    before: Any = None,
    after: Any = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        project=project,
        actor=actor if actor is not None and actor.is_authenticated else None,
        verb=verb,
        object_type=type(obj).__name__.lower(),
        object_id=str(getattr(obj, "pk", obj)),
        before=before,
        after=after,
    )


def leases_revoke_items(*, project: Project, item_ids: list[int], message: str, now: dt.datetime) -> int:
    """End every active lease on these items, which leave labeling: the leases are released,
    the items' lease counters zeroed, and each holder told at once. Returns how many leases
    ended. Expects the caller to hold the items' row locks."""
    leases = Lease.objects.filter(item_id__in=item_ids, status=LeaseStatus.ACTIVE)
    holders: dict[int, list[int]] = {}
    for user_id, item_id in leases.values_list("annotator_id", "item_id"):
        holders.setdefault(user_id, []).append(item_id)
    released = leases.update(status=LeaseStatus.RELEASED, closed_at=now)
    Item.objects.filter(pk__in=item_ids).update(leased_count=0)
    for user_id, items in holders.items():
        events.lease_revoked(project.pk, user_id, items, message)
    return released


def _project_settings(project: Project) -> dict[str, Any]:
    return {name: getattr(project, name) for name in PROJECT_SETTINGS}


def _check_settings(values: dict[str, Any]) -> None:
    errors = []
    if values["min_votes"] < 1:
        errors.append({"field": "min_votes", "message": "At least one vote is needed."})
    if values["max_votes"] < values["min_votes"]:
        errors.append(
            {"field": "max_votes", "message": "Max votes cannot be below min votes."}
        )
    for name in ("promote_posterior", "promote_agreement", "gold_rate", "min_gold_accuracy"):
        if not 0 <= values[name] <= 1:
            errors.append({"field": name, "message": "Must be between 0 and 1."})
    if values["lease_seconds"] < 10:
        errors.append({"field": "lease_seconds", "message": "A lease lasts at least 10 seconds."})
    for name, (low, high) in CURATION_RANGES.items():
        if values[name] < low or (high is not None and values[name] > high):
            errors.append({"field": name, "message": f"Between {low} and {high}." if high is not None else f"At least {low}."})
    if values["dark_threshold"] >= values["bright_threshold"]:
        errors.append({
            "field": "bright_threshold",
            "message": "Over-exposed must start above under-exposed, or an image could be both.",
        })  # fmt: skip
    if not str(values["name"]).strip():
        errors.append({"field": "name", "message": "Give the project a name."})
    if e := limits.too_long("description", str(values["description"] or ""), limits.MAX_DESCRIPTION_CHARS):
        errors.append(e)
    if errors:
        raise ValidationFailed("The project settings are not valid.", errors)


# Projects made by people get an address ending in random characters, whether or not the
# asked-for one is free: a refusal, or a "-2", would tell an outsider that a project they cannot
# see exists. Operators (management commands) may ask for an exact address.
SLUG_SUFFIX_LENGTH = 6
_SLUG_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_SLUG_ATTEMPTS = 5


def _slug_candidate(base: str) -> str:
    suffix = "".join(secrets.choice(_SLUG_ALPHABET) for _ in range(SLUG_SUFFIX_LENGTH))
    return f"{base[: Project._meta.get_field('slug').max_length - SLUG_SUFFIX_LENGTH - 1]}-{suffix}"


def project_create(
    *,
    actor: AbstractBaseUser | None,
    name: str,
    slug: str = "",
    exact_slug: bool = False,
    description: str = "",
    item_kind: str = "image",
    question_type: str = QuestionType.SINGLE,
    **settings: Any,
) -> Project:
    """Create a project with the actor as its admin and an empty rulebook draft. Without an
    actor (a management command) the project starts with no members.

    The address is ``slug`` (or one made from the name) plus a random ending; with
    ``exact_slug`` it is ``slug`` itself, and ``Conflict`` is raised if that is taken — also
    when another request takes it at the same moment (the unique index decides, not a check
    beforehand). Two people creating the same project at once both get one.
    """
    defaults = {f.name: f.get_default() for f in Project._meta.fields if f.name in PROJECT_SETTINGS}
    values = {**defaults, **settings, "name": name.strip(), "description": description}
    _check_settings(values)
    base = slugify(slug or name)[:60] or "project"
    for _ in range(1 if exact_slug else _SLUG_ATTEMPTS):
        candidate = base if exact_slug else _slug_candidate(base)
        try:
            with transaction.atomic():
                return _project_insert(
                    actor=actor, slug=candidate, item_kind=item_kind, question_type=question_type, values=values
                )
        except IntegrityError:
            if Project.objects.filter(slug=candidate).exists():
                continue
            raise
    if exact_slug:
        raise Conflict(f"The address {base!r} is taken.", field="slug")
    raise Conflict("No free address was found for the project; try again.")


def _project_insert(
    *, actor: AbstractBaseUser | None, slug: str, item_kind: str, question_type: str, values: dict[str, Any]
) -> Project:
    project = Project.objects.create(
        slug=slug, item_kind=item_kind, question_type=question_type, created_by=actor, **values
    )
    if actor is not None:
        Membership.objects.create(project=project, user=actor, role=Role.ADMIN)
    RulebookVersion.objects.create(project=project)
    audit_record(
        project=project, actor=actor, verb="project.create", obj=project,
        after={"slug": project.slug, "item_kind": item_kind, "question_type": question_type,
               **_project_settings(project)},
    )  # fmt: skip
    return project


@transaction.atomic
def project_update(*, actor: AbstractBaseUser, project: Project, **changes: Any) -> Project:
    """Change the name, description and consensus settings; the item kind and question type
    are fixed once a project exists (votes and rulebooks depend on them)."""
    unknown = set(changes) - set(PROJECT_SETTINGS)
    if unknown:
        raise ValidationFailed(f"Cannot change {', '.join(sorted(unknown))}.")
    before = _project_settings(project)
    values = {**before, **changes}
    _check_settings(values)
    for name, value in changes.items():
        setattr(project, name, value)
    project.save(update_fields=list(changes))
    after = _project_settings(project)
    if after != before:
        audit_record(
            project=project, actor=actor, verb="project.update", obj=project,
            before={k: v for k, v in before.items() if after[k] != v},
            after={k: v for k, v in after.items() if before[k] != v},
        )  # fmt: skip
    return project


# --- members --------------------------------------------------------------------------------------


@transaction.atomic
def member_add(
    *,
    actor: AbstractBaseUser,
    project: Project,
    username: str,
    role: str,
    password: str = "",
) -> Membership:
    """Add a user to the project. With a password, a user that does not exist yet is created
    (the admin hands the login over); without one, the user must exist."""
    if role not in Role.values:
        raise ValidationFailed("Unknown role.", [{"field": "role", "message": f"{role!r} is not a role."}])
    username = username.strip()
    if not username:
        raise ValidationFailed("Give a username.", [{"field": "username", "message": "Required."}])
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is None:
        if not password:
            raise ValidationFailed(
                f"There is no user {username!r}.",
                [{"field": "username", "message": f"No user {username!r}; give a password to create the account."}],
            )
        try:
            user_model.username_validator(username)
        except DjangoValidationError as exc:
            raise ValidationFailed(
                "That username is not valid.", [{"field": "username", "message": " ".join(exc.messages)}]
            ) from None
        try:
            # With the would-be user, so a password too like the username is refused as well.
            validate_password(password, user=user_model(username=username))
        except DjangoValidationError as exc:
            raise ValidationFailed(
                "The password is too weak.", [{"field": "password", "message": " ".join(exc.messages)}]
            ) from None
        user = user_model.objects.create_user(username=username, password=password)
        audit_record(project=project, actor=actor, verb="user.create", obj=user, after={"username": username})
    if Membership.objects.filter(project=project, user=user).exists():
        raise Conflict(f"{username} is already a member of {project.name}.")
    membership = Membership.objects.create(project=project, user=user, role=role)
    audit_record(
        project=project, actor=actor, verb="member.add", obj=membership,
        after={"username": username, "role": role},
    )  # fmt: skip
    return membership


def _membership_locked(project: Project, user_id: int) -> Membership:
    """The membership, row-locked for the rest of the caller's transaction, after the project
    row: every change of roles in a project goes through that one lock, so two admins demoting
    each other at once cannot leave the project without an admin (nor deadlock)."""
    Project.objects.select_for_update().filter(pk=project.pk).values_list("pk", flat=True).first()
    membership = (
        Membership.objects.select_for_update(of=("self",)).select_related("user")
        .filter(project=project, user_id=user_id).first()
    )  # fmt: skip
    if membership is None:
        raise NotFound("That user is not a member of this project.")
    return membership


def _admin_count(project: Project) -> int:
    return Membership.objects.filter(project=project, role=Role.ADMIN).count()


@transaction.atomic
def member_set_role(
    *, actor: AbstractBaseUser, project: Project, user_id: int, role: str
) -> Membership:
    if role not in Role.values:
        raise ValidationFailed("Unknown role.", [{"field": "role", "message": f"{role!r} is not a role."}])
    membership = _membership_locked(project, user_id)
    if membership.role == Role.ADMIN and role != Role.ADMIN and _admin_count(project) == 1:
        raise Conflict("A project needs at least one admin; make someone else admin first.")
    before = membership.role
    if before != role:
        membership.role = role
        membership.save(update_fields=["role"])
        events.membership_changed(project.pk, user_id)
        audit_record(
            project=project, actor=actor, verb="member.role", obj=membership,
            before={"username": membership.user.username, "role": before},
            after={"username": membership.user.username, "role": role},
        )  # fmt: skip
    return membership


@transaction.atomic
def member_remove(*, actor: AbstractBaseUser, project: Project, user_id: int) -> None:
    membership = _membership_locked(project, user_id)
    if membership.role == Role.ADMIN and _admin_count(project) == 1:
        raise Conflict("A project needs at least one admin; make someone else admin first.")
    audit_record(
        project=project, actor=actor, verb="member.remove", obj=membership,
        before={"username": membership.user.username, "role": membership.role},
    )  # fmt: skip
    membership.delete()
    events.membership_changed(project.pk, user_id)


# --- rulebook ------------------------------------------------------------------------------------


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
    queue (state excluded), each with an audit event, so no annotator is asked to label them."""
    wanted = {ext for lab in version.labels for ext in (*lab["fit_examples"], *lab["nonfit_examples"])}
    examples = list(
        Item.objects.filter(project=project, external_id__in=wanted, state=ItemState.QUEUED).values_list("pk", "external_id")
    )
    if not examples:
        return
    Item.objects.filter(pk__in=[pk for pk, _ in examples]).update(state=ItemState.EXCLUDED)
    for pk, ext in examples:
        audit_record(
            project=project, actor=actor, verb="item.exclude", obj=Item(pk=pk),
            before={"state": ItemState.QUEUED}, after={"state": ItemState.EXCLUDED, "why": f"example in rulebook v{version.number}", "item": ext},
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
    events.publish(
        project.pk,
        {"type": "rulebook.published", "version": number, "labels": len(draft.labels)},
        audience=events.Audience.MEMBERS,
    )
    return draft
