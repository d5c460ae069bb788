"""Reads. Permission-checked fetchers are named ``access_<thing>``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, TextField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from annotation import rulebook as rb
from annotation.exceptions import NotFound, ProjectNotFound, RoleRequired
from annotation.imports.models import ImportJob
from annotation.items.models import Item, ItemState
from annotation.labeling.models import Lease, LeaseStatus, Vote
from annotation.projects.models import ROLE_RANK, AuditEvent, Membership, Project, Role
from annotation.rulebook.models import ClarificationNote, RulebookStatus, RulebookVersion

User = AbstractBaseUser | AnonymousUser


@dataclass(frozen=True)
class ProjectAccess:
    project: Project
    role: str

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
        Membership.objects.select_related("project", "project__current_rulebook")
        .filter(project__slug=slug, user_id=user.pk)
        .first()
    )
    if membership is None:
        raise ProjectNotFound("Project not found.")
    access = ProjectAccess(project=membership.project, role=membership.role)
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


@dataclass(frozen=True)
class ItemFilters:
    state: str = ""
    meta_key: str = ""
    meta_value: str = ""
    q: str = ""
    gold: str = ""  # "", "yes", "no"
    flag: str = ""  # a curation flag
    taken_from: dt.date | None = None  # EXIF capture date, inclusive
    taken_to: dt.date | None = None


def item_list(*, project: Project, filters: ItemFilters) -> QuerySet[Item]:
    """Items of a project, filtered by state, a metadata field, gold, and text search."""
    qs = Item.objects.filter(project=project)
    if filters.state:
        qs = qs.filter(state=filters.state)
    if filters.meta_key:
        # The key is one JSON key, never an ORM lookup path ("a__contains" is a key name here),
        # and values compare as text, so 5 and "5" both match "5".
        qs = qs.filter(metadata__has_key=filters.meta_key)
        if filters.meta_value:
            qs = qs.alias(meta_value=Cast(KeyTextTransform(filters.meta_key, "metadata"), TextField())).filter(
                meta_value=filters.meta_value
            )
    if filters.q:
        qs = qs.filter(Q(text__icontains=filters.q) | Q(external_id__icontains=filters.q))
    if filters.gold == "yes":
        qs = qs.filter(gold__isnull=False)
    elif filters.gold == "no":
        qs = qs.filter(gold__isnull=True)
    if filters.flag:
        qs = qs.filter(flags__has_key=filters.flag)
    if filters.taken_from or filters.taken_to:
        # ISO timestamps compare as text; items without a capture time never match.
        qs = qs.alias(taken=Cast(KeyTextTransform("exif_taken_at", "metadata"), TextField())).filter(taken__isnull=False)
        if filters.taken_from:
            qs = qs.filter(taken__gte=filters.taken_from.isoformat())
        if filters.taken_to:
            qs = qs.filter(taken__lt=(filters.taken_to + dt.timedelta(days=1)).isoformat())
    return qs.order_by("id")


def item_metadata_keys(*, project: Project, sample: int = 500) -> list[str]:
    """Metadata keys seen on a sample of recent items, for the filter's choices."""
    keys: set[str] = set()
    for metadata in Item.objects.filter(project=project).order_by("-id").values_list(
        "metadata", flat=True
    )[:sample]:
        if isinstance(metadata, dict):
            keys.update(metadata)
    return sorted(keys)


def item_get(*, project: Project, item_id: int) -> Item:
    item = Item.objects.filter(project=project, pk=item_id).first()
    if item is None:
        raise NotFound("Item not found.")
    return item


def access_item_file(*, access: ProjectAccess, user: User, item_id: int, which: str) -> str:
    """The storage name of an item's image or thumbnail, if this member may see it.

    Reviewers and admins see every item. An annotator sees only the items they hold or have
    voted on, and the rulebook's example items (shown with their answer anyway): the queue,
    not the annotator, picks what they label, so nobody browses the project or looks ahead.
    Anything else is ``NotFound``, as if the item did not exist.
    """
    item = item_get(project=access.project, item_id=item_id)
    if not access.has(Role.REVIEWER) and not _annotator_sees(access.project, user, item):
        raise NotFound("Item not found.")
    name = item.image if which == "image" else item.thumbnail
    if not name:
        raise NotFound("No file.")
    return name


def _annotator_sees(project: Project, user: User, item: Item) -> bool:
    held_or_voted = Lease.objects.filter(
        item=item, annotator_id=user.pk, status__in=(LeaseStatus.ACTIVE, LeaseStatus.VOTED)
    ).exists() or Vote.objects.filter(item=item, annotator_id=user.pk).exists()
    if held_or_voted:
        return True
    if not item.external_id:
        return False
    published = project.rulebook_versions.filter(status=RulebookStatus.PUBLISHED).values_list("labels", flat=True)
    return any(
        item.external_id in (*label.get("fit_examples", []), *label.get("nonfit_examples", []))
        for labels in published for label in labels
    )  # fmt: skip


def import_job_list(*, project: Project) -> QuerySet[ImportJob]:
    return project.imports.select_related("created_by").order_by("-created_at", "-id")


def import_job_get(*, project: Project, job_id: int) -> ImportJob:
    job = project.imports.filter(pk=job_id).first()
    if job is None:
        raise NotFound("Import not found.")
    return job


def audit_list(*, project: Project) -> QuerySet[AuditEvent]:
    return project.audit_events.select_related("actor").order_by("-created_at", "-id")


def annotator_progress(*, project: Project, annotator: User) -> dict[str, int]:
    """What the annotator did today and in all, and how many items are still open to them."""
    from annotation.labeling.models import LEASES_EXCLUDING_ITEM, Lease, Vote, VoteKind

    start_of_day = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    counts = Vote.objects.filter(project=project, annotator_id=annotator.pk).aggregate(
        today=Count("pk", filter=Q(kind=VoteKind.VOTE, created_at__gte=start_of_day)),
        undone_today=Count("pk", filter=Q(kind=VoteKind.RETRACT, created_at__gte=start_of_day)),
        total=Count("pk", filter=Q(kind=VoteKind.VOTE)),
        undone=Count("pk", filter=Q(kind=VoteKind.RETRACT)),
    )
    mine = Lease.objects.filter(item=OuterRef("pk"), annotator_id=annotator.pk, status__in=LEASES_EXCLUDING_ITEM)
    needed = Value(project.min_votes) + F("extra_votes")  # as queue.votes_needed
    left = (
        Item.objects.filter(project=project, state=ItemState.QUEUED, gold__isnull=True)
        .filter(~Exists(mine))
        .filter(votes_count__lt=needed)
        .count()
    )
    return {
        "today": counts["today"] - counts["undone_today"],
        "total": counts["total"] - counts["undone"],
        "left": left,
    }


def clarification_notes_open(*, project: Project) -> list[ClarificationNote]:
    """Reviewers' open "needs clarification" notes, for the admins editing the draft."""
    return list(
        ClarificationNote.objects.filter(project=project, resolved_at__isnull=True)
        .select_related("author", "item")
        .order_by("label_key", "created_at")
    )
