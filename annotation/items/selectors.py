"""Reads on items: the item browser's filters and pages, one item, an item's files."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from annotation.exceptions import NotFound
from annotation.items.models import Item
from annotation.labeling.models import Lease, LeaseStatus, Vote
from annotation.projects.models import Project, Role
from annotation.projects.selectors import ProjectAccess, User
from annotation.rulebook.models import RulebookStatus


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
    ).exists() or Vote.objects.filter(item=item, voter__user_id=user.pk).exists()
    if held_or_voted:
        return True
    if not item.external_id:
        return False
    published = project.rulebook_versions.filter(status=RulebookStatus.PUBLISHED).values_list("labels", flat=True)
    return any(
        item.external_id in (*label.get("fit_examples", []), *label.get("nonfit_examples", []))
        for labels in published for label in labels
    )  # fmt: skip
