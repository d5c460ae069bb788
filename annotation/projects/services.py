"""Writes on projects: creation, settings, members and roles, and the audit log every write records."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from annotation import events, limits
from annotation.exceptions import Conflict, NotFound, ValidationFailed
from annotation.projects.models import AuditEvent, Membership, Project, QuestionType, Role
from annotation.rulebook.models import RulebookVersion
from annotation.voters.services import voter_for_member

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
        Membership.objects.create(project=project, user=actor, role=Role.ADMIN, voter=voter_for_member(project=project, user=actor))
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
    membership = Membership.objects.create(project=project, user=user, role=role, voter=voter_for_member(project=project, user=user))
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
