"""Writes of the annotator's loop: lease the next item, keep it, give it back, vote, undo.

Locking (PostgreSQL; SQLite serializes writers with IMMEDIATE transactions instead):
- ``item_lease_next`` picks an item with ``FOR UPDATE SKIP LOCKED``, so concurrent annotators
  never wait on each other and never take the same last slot of an item;
- ``vote_cast`` and ``vote_undo`` lock the lease, then the item (always in that order);
- expired leases are reclaimed in their own short transaction before a new item is picked.
An item's ``votes_count + leased_count`` never exceeds what it still needs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Least
from django.utils import timezone

from consensus.services import item_decide

from . import queue
from . import rulebook as rb
from .exceptions import (
    AlreadyVoted,
    Conflict,
    LeaseExpired,
    NoRulebook,
    NotAssigned,
    RulebookChanged,
    ValidationFailed,
)
from .models import (
    Item,
    ItemState,
    Lease,
    LeaseStatus,
    Project,
    QuestionType,
    RulebookVersion,
    Vote,
    VoteKind,
)
from .selectors import rulebook_current

# Leases that keep an item away from the same annotator: the one they hold, the ones they
# voted on, and the ones they skipped.
EXCLUDING = (LeaseStatus.ACTIVE, LeaseStatus.VOTED, LeaseStatus.SKIPPED)


def _current_rulebook(project: Project) -> RulebookVersion:
    version = rulebook_current(project=project)
    if version is None:
        raise NoRulebook("There is nothing to label yet: the project's rulebook has not been published.")
    return version


def leases_reclaim_expired(*, project: Project, now: dt.datetime | None = None) -> int:
    """Return expired leases' items to the pool. Safe to run concurrently: each expired lease
    is taken by one caller (``SKIP LOCKED``) and counted down once."""
    now = now or timezone.now()
    with transaction.atomic():
        expired = list(
            Lease.objects.select_for_update(skip_locked=True)
            .filter(project=project, status=LeaseStatus.ACTIVE, expires_at__lte=now)
            .order_by("item_id")
            .values_list("pk", "item_id")
        )
        if not expired:
            return 0
        Lease.objects.filter(pk__in=[pk for pk, _ in expired]).update(status=LeaseStatus.EXPIRED, closed_at=now)
        per_item: dict[int, int] = {}
        for _, item_id in expired:
            per_item[item_id] = per_item.get(item_id, 0) + 1
        for item_id in sorted(per_item):  # one order for everyone: no deadlocks between reclaimers
            Item.objects.filter(pk=item_id).update(leased_count=F("leased_count") - per_item[item_id])
    return len(expired)


def _pick(project: Project, annotator: AbstractBaseUser, *, gold: bool) -> int | None:
    """The id of the next item for this annotator, row-locked; None if there is none."""
    mine = Lease.objects.filter(item=OuterRef("pk"), annotator=annotator, status__in=EXCLUDING)
    qs = Item.objects.filter(project=project, state=ItemState.QUEUED).filter(~Exists(mine))
    if gold:
        # Gold items are honeypots: every annotator may get each one once.
        qs = qs.filter(gold__isnull=False).order_by("id")
    else:
        needed = Least(Value(project.min_votes) + F("extra_votes"), Value(project.max_votes))
        qs = (
            qs.filter(gold__isnull=True)
            .filter(Q(votes_count__lt=needed - F("leased_count")))
            .order_by("-votes_count", "-priority", "id")
        )
    return qs.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True).first()


def item_lease_next(
    *, project: Project, annotator: AbstractBaseUser, exclude: tuple[int, ...] = ()
) -> Lease | None:
    """The annotator's next item: a lease they already hold (other than ``exclude``, the items
    their page already shows), else a new lease on the best open item, else None.

    Order: a gold item when it is the annotator's gold turn (``queue.is_gold_turn``), then items
    closest to completion, then higher priority, then oldest.
    """
    version = _current_rulebook(project)
    now = timezone.now()
    leases_reclaim_expired(project=project, now=now)
    with transaction.atomic():
        held = (
            Lease.objects.select_related("item")
            .filter(project=project, annotator=annotator, status=LeaseStatus.ACTIVE, expires_at__gt=now)
            .exclude(item_id__in=exclude)
            .order_by("created_at", "pk")
            .first()
        )
        if held is not None:
            if held.rulebook_version_id != version.pk:
                # Shown again after a reload: from now on it is answered under the new version.
                Lease.objects.filter(pk=held.pk).update(rulebook_version=version)
                held.rulebook_version = version
            return held
        gold_turn = project.gold_rate > 0 and queue.is_gold_turn(
            Vote.objects.filter(project=project, annotator=annotator, kind=VoteKind.VOTE).count(), project.gold_rate
        )
        item_id = _pick(project, annotator, gold=gold_turn)
        if item_id is None:
            item_id = _pick(project, annotator, gold=not gold_turn)
        if item_id is None:
            return None
        item = Item.objects.get(pk=item_id)
        lease = Lease.objects.create(
            project=project, item=item, annotator=annotator, rulebook_version=version,
            is_gold=item.gold is not None, created_at=now,
            expires_at=now + dt.timedelta(seconds=project.lease_seconds),
        )  # fmt: skip
        Item.objects.filter(pk=item_id).update(leased_count=F("leased_count") + 1)
        return lease


def lease_heartbeat(
    *, project: Project, annotator: AbstractBaseUser, item_ids: list[int]
) -> tuple[list[Lease], list[int]]:
    """Extend the annotator's active leases on these items; return them and the ids whose lease
    has already expired (those items may be with someone else now)."""
    now = timezone.now()
    expires = now + dt.timedelta(seconds=project.lease_seconds)
    with transaction.atomic():
        live = Lease.objects.filter(
            project=project, annotator=annotator, item_id__in=item_ids, status=LeaseStatus.ACTIVE, expires_at__gt=now
        )
        live.update(expires_at=expires)
        kept = list(
            Lease.objects.filter(project=project, annotator=annotator, item_id__in=item_ids, status=LeaseStatus.ACTIVE, expires_at=expires)
        )
    kept_ids = {lease.item_id for lease in kept}
    return kept, [i for i in item_ids if i not in kept_ids]


def lease_release(*, project: Project, annotator: AbstractBaseUser, item_id: int, skip: bool) -> Lease:
    """Give an item back. ``skip`` means "not for me": it is never offered to this annotator
    again; a plain release (the page closed) lets it come back."""
    now = timezone.now()
    with transaction.atomic():
        lease = (
            Lease.objects.select_for_update()
            .filter(project=project, annotator=annotator, item_id=item_id, status=LeaseStatus.ACTIVE)
            .first()
        )
        if lease is None:
            raise NotAssigned(f"Item {item_id} is not leased to you.")
        lease.status = LeaseStatus.SKIPPED if skip else LeaseStatus.RELEASED
        lease.closed_at = now
        lease.save(update_fields=["status", "closed_at"])
        Item.objects.filter(pk=item_id).update(leased_count=F("leased_count") - 1)
        return lease


@dataclass(frozen=True)
class VoteResult:
    vote: Vote
    created: bool  # False when this was a retry of a vote already stored


def _latest_in_chain(item_id: int, annotator: AbstractBaseUser) -> Vote | None:
    return (
        Vote.objects.filter(item_id=item_id, annotator=annotator, superseded_by__isnull=True)
        .order_by("-created_at", "-pk")
        .first()
    )


def vote_cast(
    *,
    project: Project,
    annotator: AbstractBaseUser,
    item_id: int,
    client_id: str,
    value: Any = None,
    unsure: bool = False,
    claim: str = "",
    claim_reason: str = "",
    note: str = "",
    time_spent_ms: int = 0,
) -> VoteResult:
    """Store one vote on an item leased to the annotator, then decide the item.

    Idempotent on ``client_id``: a retry returns the stored vote. Refused when the item is not
    leased to the annotator (``NotAssigned``), the lease has expired (``LeaseExpired``), the
    rulebook was republished since the lease (``RulebookChanged``), the annotator already
    voted (``AlreadyVoted``), or the answer does not fit the rulebook (``ValidationFailed``).
    """
    now = timezone.now()
    with transaction.atomic():
        stored = Vote.objects.filter(annotator=annotator, client_id=client_id).first()
        if stored is None:
            lease = (
                Lease.objects.select_for_update()
                .filter(project=project, annotator=annotator, item_id=item_id)
                .order_by("-created_at", "-pk")
                .first()
            )
            # A concurrent retry may have committed while we waited for the lock.
            stored = Vote.objects.filter(annotator=annotator, client_id=client_id).first()
        if stored is not None:
            if stored.item_id != item_id or stored.project_id != project.pk:
                raise Conflict("This client_id was already used for another vote; send a new one.")
            return VoteResult(stored, created=False)
        if lease is None or lease.status in (LeaseStatus.SKIPPED, LeaseStatus.RELEASED):
            raise NotAssigned(f"Item {item_id} is not leased to you; ask for the next item.")
        if lease.status == LeaseStatus.VOTED:
            raise AlreadyVoted("You have already voted on this item.")
        if lease.status == LeaseStatus.EXPIRED or lease.expires_at <= now:
            raise LeaseExpired(
                f"Your hold on this item expired at {timezone.localtime(lease.expires_at):%H:%M:%S} and it went back "
                "to the queue; your answer was not saved."
            )
        current = _current_rulebook(project)
        version = lease.rulebook_version if lease.rulebook_version_id == current.pk else None
        if version is None:
            raise RulebookChanged(
                f"The rulebook changed to v{current.number} after this item was handed to you. "
                "Reload to read the new version; your answer was not saved."
            )
        try:
            answer = rb.check_answer(
                value, claim, claim_reason, [lab["key"] for lab in version.labels],
                multi=project.question_type == QuestionType.MULTI, version=version.number or 0,
            )  # fmt: skip
        except rb.AnswerInvalid as exc:
            raise ValidationFailed(exc.message, [{"field": exc.field, "message": exc.message}]) from None
        Item.objects.select_for_update().filter(pk=item_id).values_list("pk", flat=True).get()
        vote = Vote.objects.create(
            project=project, item_id=item_id, annotator=annotator, rulebook_version=version, lease=lease,
            kind=VoteKind.VOTE, value=answer, unsure=unsure, claim=claim, claim_reason=claim_reason.strip(),
            note=note.strip(), time_spent_ms=max(0, int(time_spent_ms)), client_id=client_id,
            supersedes=_latest_in_chain(item_id, annotator), created_at=now,
        )  # fmt: skip
        Lease.objects.filter(pk=lease.pk).update(status=LeaseStatus.VOTED, closed_at=now)
        Item.objects.filter(pk=item_id).update(votes_count=F("votes_count") + 1, leased_count=F("leased_count") - 1)
        item_decide(project=project, item_id=item_id)
        return VoteResult(vote, created=True)


def vote_undo(*, project: Project, annotator: AbstractBaseUser, client_id: str) -> VoteResult:
    """Undo the annotator's last vote in the project while its lease still holds: a retraction
    vote supersedes it (nothing is deleted) and the item is theirs to answer again.
    Idempotent on ``client_id``."""
    now = timezone.now()
    with transaction.atomic():
        stored = Vote.objects.filter(annotator=annotator, client_id=client_id).first()
        if stored is not None:
            return VoteResult(stored, created=False)
        last = (
            Vote.objects.filter(project=project, annotator=annotator, kind=VoteKind.VOTE, superseded_by__isnull=True)
            .order_by("-created_at", "-pk")
            .first()
        )
        if last is None or last.lease_id is None:
            raise Conflict("There is no vote of yours to undo.")
        lease = Lease.objects.select_for_update().get(pk=last.lease_id)
        if lease.status != LeaseStatus.VOTED or lease.expires_at <= now:
            raise Conflict("Too late to undo: the item has been released. Ask a reviewer if the label is wrong.")
        Item.objects.select_for_update().filter(pk=last.item_id).values_list("pk", flat=True).get()
        retraction = Vote.objects.create(
            project=project, item_id=last.item_id, annotator=annotator, rulebook_version=last.rulebook_version,
            lease=lease, kind=VoteKind.RETRACT, value=None, client_id=client_id, supersedes=last, created_at=now,
        )  # fmt: skip
        Lease.objects.filter(pk=lease.pk).update(status=LeaseStatus.ACTIVE, closed_at=None)
        Item.objects.filter(pk=last.item_id).update(votes_count=F("votes_count") - 1, leased_count=F("leased_count") + 1)
        item_decide(project=project, item_id=last.item_id)
        return VoteResult(retraction, created=True)
