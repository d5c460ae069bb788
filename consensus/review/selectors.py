"""Reads for reviewers: the queue, its counts, the votes of an item under review."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Count, Exists, F, OuterRef, QuerySet, When
from django.utils import timezone

from annotation.labeling.models import Vote, VoteKind
from annotation.projects.models import Project
from annotation.voters.models import display_name
from consensus.adapters import item_votes
from consensus.decisions.models import Reliability
from consensus.decisions.selectors import estimate_latest, votes_with_label
from consensus.review.models import ReviewCase


def review_queue(*, project: Project, reason: str = "", label: str = "") -> QuerySet[ReviewCase]:
    """Open review cases, highest priority then oldest, with their item and ``holder``: the
    username of the reviewer whose claim is live, or None (as ``ReviewCase.holder_id``)."""
    now = timezone.now()
    cases = (
        ReviewCase.objects.filter(project=project, resolved_at__isnull=True)
        .select_related("item")
        .annotate(holder=Case(When(claim_expires_at__gt=now, then=F("claimed_by__username"))))
    )
    if reason:
        cases = cases.filter(reason=reason)
    if label:
        cases = cases.filter(Exists(votes_with_label(project=project, label=label).filter(item_id=OuterRef("item_id"))))
    return cases.order_by("-priority", "opened_at", "id")


def review_counts(*, project: Project) -> dict[str, int]:
    """Open cases per reason."""
    rows = ReviewCase.objects.filter(project=project, resolved_at__isnull=True).values("reason").annotate(n=Count("id"))
    return {r["reason"]: r["n"] for r in rows.order_by()}


@dataclass
class ReviewVote:
    id: int
    voter: str
    value: Any
    unsure: bool
    claim: str
    claim_reason: str
    note: str
    seconds: float
    created_at: Any
    counts: bool  # False: retracted, superseded or by a suspended annotator
    accuracy: float | None  # the voter's estimated accuracy
    weight: float | None


def item_votes_for_review(*, project: Project, item_id: int) -> list[ReviewVote]:
    """Every vote on the item, newest last, with its voter's name and estimated reliability.
    For reviewers and admins only: annotators never see other annotators' votes."""
    counting = {v.id for v in item_votes(item_id=item_id, project_id=project.pk)}
    estimate = estimate_latest(project_id=project.pk)
    votes = list(
        Vote.objects.filter(item_id=item_id, project=project, kind=VoteKind.VOTE)
        .select_related("voter__user").order_by("created_at", "id")
    )  # fmt: skip
    rel: dict[int, Reliability] = {}
    if estimate is not None and votes:
        rel = {r.voter_id: r for r in Reliability.objects.filter(estimate=estimate, voter_id__in={v.voter_id for v in votes})}
    out = []
    for v in votes:
        r = rel.get(v.voter_id)
        voter = v.voter
        name = display_name(kind=voter.kind, username=voter.user.username if voter.user else None, name=voter.name)
        out.append(
            ReviewVote(
                v.pk, name, v.value, v.unsure, v.get_claim_display() if v.claim else "", v.claim_reason, v.note,
                v.time_spent_ms / 1000, v.created_at, v.pk in counting, r.accuracy if r else None, r.weight if r else None,
            )  # fmt: skip
        )
    return out
