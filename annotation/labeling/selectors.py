"""Reads for an annotator's own progress."""

from __future__ import annotations

from django.db.models import Count, Exists, F, OuterRef, Q, Value
from django.utils import timezone

from annotation.items.models import Item, ItemState
from annotation.projects.models import Project
from annotation.projects.selectors import User


def annotator_progress(*, project: Project, annotator: User) -> dict[str, int]:
    """What the annotator did today and in all, and how many items are still open to them."""
    from annotation.labeling.models import LEASES_EXCLUDING_ITEM, Lease, Vote, VoteKind

    start_of_day = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    counts = Vote.objects.filter(project=project, voter__user_id=annotator.pk).aggregate(
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

