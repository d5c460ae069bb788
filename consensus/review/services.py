"""Writes of the review loop: open cases, claim one, decide it.

An item goes to review with a ``ReviewCase`` that says why (``review_cases_open``, called by the
consensus services). A reviewer works on a case only while holding its claim: ``review_claim``
picks the case with ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite serializes
writers) and writes the claim in the same transaction, so two reviewers never hold the same item, and a reviewer holds one case at
a time. The claim lasts the project's lease time; the page's heartbeat extends it. Every
decision needs the claim, records the reviewer and the reason, is audited, and never touches a
vote.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from annotation import events
from annotation.exceptions import Conflict, NotFound, ValidationFailed
from annotation.items import transitions
from annotation.items.models import Item, ItemState
from annotation.labeling.queue import extra_votes_for_one_more, votes_needed
from annotation.projects.models import Project
from annotation.projects.services import audit_record
from annotation.rulebook.models import ClarificationNote
from consensus.decisions.models import GroundTruth, GroundTruthSource
from consensus.decisions.selectors import item_consensus, votes_with_label
from consensus.review.models import REVIEW_PRIORITY, ReviewCase, ReviewReason, ReviewResolution

MAX_REASON = 2000


class NotClaimed(Conflict):
    """A review decision on an item the reviewer does not hold (any more)."""

    code = "not_claimed"


def review_cases_open(*, project: Project, cases: Iterable[tuple[int, str, str]], now: dt.datetime | None = None) -> int:
    """Open a case ``(item id, reason, detail)`` for each item that has none open yet. The caller
    has moved the items to review. Returns how many were opened."""
    now = now or timezone.now()
    rows = {item_id: (reason, detail) for item_id, reason, detail in cases}
    if not rows:
        return 0
    already = set(
        ReviewCase.objects.filter(item_id__in=list(rows), resolved_at__isnull=True).values_list("item_id", flat=True)
    )
    created = ReviewCase.objects.bulk_create(
        [
            ReviewCase(project=project, item_id=item_id, reason=reason, detail=detail[:300],
                       priority=REVIEW_PRIORITY[ReviewReason(reason)], opened_at=now)  # fmt: skip
            for item_id, (reason, detail) in rows.items()
            if item_id not in already
        ],
        batch_size=2000,
    )
    if created:
        events.review_opened(project.pk, opened=len(created))
    return len(created)


def review_case_close(
    *, case: ReviewCase, resolution: str, actor: AbstractBaseUser | None, reason: str, now: dt.datetime
) -> None:
    ReviewCase.objects.filter(pk=case.pk).update(
        resolved_at=now, resolved_by=actor if actor is not None and actor.is_authenticated else None,
        resolution=resolution, resolution_reason=reason, claimed_by=None, claim_expires_at=None,
    )  # fmt: skip
    events.review_resolved(case.project_id, item=case.item_id, resolution=resolution)


# --- claims -------------------------------------------------------------------------------------


def review_candidates(
    *, project: Project, reviewer: AbstractBaseUser, reason: str = "", label: str = "", now: dt.datetime | None = None
) -> QuerySet[ReviewCase]:
    """Open cases the reviewer may claim, in queue order, optionally only those with ``reason``
    or whose votes include ``label``."""
    now = now or timezone.now()
    cases = ReviewCase.objects.filter(project=project, resolved_at__isnull=True).filter(
        Q(claimed_by__isnull=True) | Q(claimed_by=reviewer) | Q(claim_expires_at__lte=now)
    )
    if reason:
        cases = cases.filter(reason=reason)
    if label:
        cases = cases.filter(Exists(votes_with_label(project=project, label=label).filter(item_id=OuterRef("item_id"))))
    return cases.order_by("-priority", "opened_at", "id")


def review_claim(
    *,
    project: Project,
    reviewer: AbstractBaseUser,
    item_id: int | None = None,
    reason: str = "",
    label: str = "",
) -> ReviewCase | None:
    """Claim the case of ``item_id``, or else the next open case no one holds (highest priority,
    then oldest; optionally only those with ``reason`` or whose votes include ``label``).
    Returns None when nothing is free. Claiming a named item someone else holds raises
    ``Conflict`` naming the holder. The reviewer's other claims are released."""
    now = timezone.now()
    cases = review_candidates(project=project, reviewer=reviewer, reason=reason, label=label, now=now)
    if item_id is not None:
        cases = cases.filter(item_id=item_id)
    with transaction.atomic():
        case = cases.select_for_update(skip_locked=True).first()
        if case is None:
            if item_id is not None:
                held = ReviewCase.objects.filter(project=project, item_id=item_id, resolved_at__isnull=True).first()
                if held is None:
                    raise NotFound("This item is not waiting for review.")
                holder = held.claimed_by.get_username() if held.claimed_by else "Another reviewer"
                raise Conflict(f"{holder} is reviewing this item.")
            return None
        ReviewCase.objects.filter(project=project, claimed_by=reviewer, resolved_at__isnull=True).update(
            claimed_by=None, claim_expires_at=None
        )
        case.claimed_by, case.claim_expires_at = reviewer, now + dt.timedelta(seconds=project.lease_seconds)
        ReviewCase.objects.filter(pk=case.pk).update(claimed_by=reviewer, claim_expires_at=case.claim_expires_at)
    events.review_claimed(project.pk, item=case.item_id, reviewer=reviewer.get_username())
    return case


def _held(project: Project, reviewer: AbstractBaseUser, item_id: int, now: dt.datetime) -> ReviewCase:
    """The open case of the item, locked, if the reviewer holds its claim; else ``NotClaimed``."""
    case = (
        ReviewCase.objects.select_for_update()
        .filter(project=project, item_id=item_id, resolved_at__isnull=True)
        .first()
    )
    if case is None:
        raise NotClaimed("This item is no longer waiting for review.")
    if case.holder_id(now) != reviewer.pk:
        raise NotClaimed("You do not hold this item any more; claim it again to decide it.")
    return case


def review_heartbeat(*, project: Project, reviewer: AbstractBaseUser, item_id: int) -> dt.datetime:
    """Extend the reviewer's claim; returns when it now expires."""
    now = timezone.now()
    with transaction.atomic():
        case = _held(project, reviewer, item_id, now)
        expires = now + dt.timedelta(seconds=project.lease_seconds)
        ReviewCase.objects.filter(pk=case.pk).update(claim_expires_at=expires)
    return expires


def review_release(*, project: Project, reviewer: AbstractBaseUser, item_id: int) -> None:
    ReviewCase.objects.filter(
        project=project, item_id=item_id, claimed_by=reviewer, resolved_at__isnull=True
    ).update(claimed_by=None, claim_expires_at=None)
    events.review_released(project.pk, item=item_id)


# --- decisions ----------------------------------------------------------------------------------


def _reason(reason: str, *, required: bool) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise ValidationFailed("Say why, for the record.", [{"field": "reason", "message": "A reason is required."}])
    if len(reason) > MAX_REASON:
        raise ValidationFailed(
            "The reason is too long.", [{"field": "reason", "message": f"At most {MAX_REASON} characters."}]
        )
    return reason


@transaction.atomic
def review_decide(
    *, project: Project, reviewer: AbstractBaseUser, item_id: int, label: str, reason: str
) -> GroundTruth:
    """The reviewer's final label becomes the item's ground truth (source ``review``), with the
    reviewer, the reason and, for the record, the current posterior of every label and the
    votes it saw. The votes are not touched."""
    now = timezone.now()
    reason = _reason(reason, required=True)
    case = _held(project, reviewer, item_id, now)
    version = project.current_rulebook
    keys = version.label_keys if version is not None else []
    if label not in keys:
        raise ValidationFailed(
            "Choose one of the rulebook's labels.", [{"field": "label", "message": f"{label!r} is not a label of the rulebook."}]
        )
    was = Item.objects.select_for_update().filter(pk=item_id).values_list("state", flat=True).get()
    c = item_consensus(project=project, item_id=item_id)
    previous = GroundTruth.objects.filter(item_id=item_id, withdrawn_at__isnull=True).first()
    if previous is not None:
        GroundTruth.objects.filter(pk=previous.pk).update(withdrawn_at=now, withdrawn_reason=f"Replaced by review: {reason}")
    gt = GroundTruth.objects.create(
        project=project, item_id=item_id, label=label, source=GroundTruthSource.REVIEW, method="review",
        params={"case": case.pk, "case_reason": case.reason}, posterior=c.distribution.get(label, 0.0),
        distribution=c.distribution, agreement=c.share_of.get(label, 0.0), votes=c.vote_ids,
        rulebook_version=version, reviewer=reviewer, reason=reason, decided_at=now,
    )  # fmt: skip
    review_case_close(case=case, resolution=ReviewResolution.LABELED, actor=reviewer, reason=reason, now=now)
    transitions.item_move(
        project=project, item_id=item_id, to=ItemState.GROUND_TRUTH, was=was,
        why=transitions.Why(verb="review.decided", actor=reviewer, before={"case_reason": case.reason},
                            after={"label": label, "reason": reason}),
    )  # fmt: skip
    return gt


@transaction.atomic
def review_send_back(*, project: Project, reviewer: AbstractBaseUser, item_id: int, reason: str) -> Item:
    """Back to the queue for one more vote than it has, even past the project's ``max_votes``."""
    now = timezone.now()
    reason = _reason(reason, required=False)
    case = _held(project, reviewer, item_id, now)
    item = Item.objects.select_for_update().get(pk=item_id)
    extra = extra_votes_for_one_more(votes=item.votes_count, min_votes=project.min_votes)
    review_case_close(case=case, resolution=ReviewResolution.SENT_BACK, actor=reviewer, reason=reason, now=now)
    transitions.item_move(
        project=project, item_id=item_id, to=ItemState.QUEUED, was=item.state, extra_votes=extra,
        why=transitions.Why(verb="review.sent_back", actor=reviewer, before={"votes": item.votes_count},
                            after={"votes_needed": votes_needed(min_votes=project.min_votes, extra_votes=extra), "reason": reason}),
    )  # fmt: skip
    item.refresh_from_db(fields=["state", "extra_votes"])
    return item


@transaction.atomic
def review_exclude(*, project: Project, reviewer: AbstractBaseUser, item_id: int, reason: str) -> None:
    """Out of labeling and of the data set: no queue hands it out again, and any hold on it ends."""
    now = timezone.now()
    reason = _reason(reason, required=True)
    case = _held(project, reviewer, item_id, now)
    transitions.items_exclude(
        project=project, item_ids=[item_id], why=transitions.Why(verb="review.excluded", actor=reviewer), reason=reason,
        notice="A reviewer took this item out of labeling.", now=now,
    )  # fmt: skip
    review_case_close(case=case, resolution=ReviewResolution.EXCLUDED, actor=reviewer, reason=reason, now=now)


@transaction.atomic
def clarification_request(
    *, project: Project, author: AbstractBaseUser, label: str, text: str, item_id: int | None = None
) -> ClarificationNote:
    """A note that a label's rulebook entry needs clarifying; admins see it in the draft."""
    text = (text or "").strip()
    errors = []
    version = project.current_rulebook
    if version is None or label not in version.label_keys:
        errors.append({"field": "label", "message": f"{label!r} is not a label of the rulebook."})
    if not text:
        errors.append({"field": "text", "message": "Say what is unclear."})
    elif len(text) > MAX_REASON:
        errors.append({"field": "text", "message": f"At most {MAX_REASON} characters."})
    if errors:
        raise ValidationFailed("The note was not saved.", errors)
    if item_id is not None and not Item.objects.filter(project=project, pk=item_id).exists():
        raise NotFound("No such item.")
    note = ClarificationNote.objects.create(project=project, label_key=label, text=text, item_id=item_id, author=author)
    audit_record(actor=author, project=project, verb="rulebook.clarification_requested", obj=note,
                 after={"label": label, "text": text, "item": item_id})  # fmt: skip
    return note


@transaction.atomic
def gold_from_ground_truth(*, project: Project, actor: AbstractBaseUser, item_id: int) -> Item:
    """Make an item's current ground truth its gold answer: from now on it measures annotators.
    Gold items already labeled are served again to annotators who have not seen them."""
    item = Item.objects.select_for_update().filter(project=project, pk=item_id).first()
    if item is None:
        raise NotFound("No such item.")
    gt = GroundTruth.objects.filter(item=item, withdrawn_at__isnull=True).first()
    if gt is None:
        raise Conflict("Only an item with ground truth can become gold.")
    if item.gold is not None:
        raise Conflict("This item is gold already.")
    Item.objects.filter(pk=item.pk).update(gold=gt.label)
    audit_record(actor=actor, project=project, verb="item.gold_set", obj=item,
                 after={"gold": gt.label, "from": gt.source, "ground_truth": gt.pk})  # fmt: skip
    item.gold = gt.label
    return item

