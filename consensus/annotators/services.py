"""Writes about annotators as a whole: suspending one and reinstating them.

A suspended annotator gets no new items, can neither vote nor undo, their held items go back
to the queue, and their votes stop counting everywhere consensus is computed (``adapters``
leaves them out). Both services lock the voter row for update first: the vote path holds
a share lock on it (``labeling._refuse_suspended``), so a suspension waits for a vote or undo in
flight, and every item's ``votes_count`` is changed by exactly one of the two. Every
item they voted on is decided again at once, so ground truth that rested on their votes is
withdrawn to the queue and review cases their votes caused are closed; reinstating reverses
it the same way. Votes are never touched, and each step is one audit event.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotation import events
from annotation.exceptions import Conflict, NotFound, ValidationFailed
from annotation.items import transitions
from annotation.items.models import Item
from annotation.labeling.models import Vote, VoteKind
from annotation.projects.models import Membership, Project, Role
from annotation.projects.services import audit_record
from annotation.voters.models import Voter
from consensus.decisions.services import item_decide, reestimate_request

MAX_AUDITED_ITEMS = 500


@dataclass
class Suspension:
    voter: str  # the annotator's name
    suspended: bool  # the state after the change
    items: int = 0  # items decided again
    changed: dict[str, int] = field(default_factory=dict)  # "ground_truth→queued": how many
    leases_released: int = 0


def _voter(project: Project, voter_id: int) -> Voter:
    """The voter, locked for update (the vote path holds a share lock on it)."""
    found = Voter.objects.select_for_update(of=("self",)).select_related("user").filter(project=project, pk=voter_id).first()
    if found is None:
        raise NotFound("No such annotator in this project.")
    return found


def _name(voter: Voter) -> str:
    return voter.user.get_username() if voter.user else voter.name


def _redecide(
    project: Project, voter: Voter, actor: AbstractBaseUser, cause: str, delta: int
) -> tuple[int, Counter[str], list[list[object]]]:
    """Decide again every item the voter has a current vote on; each under its row lock. The
    item's ``votes_count`` — the votes the queue counts toward what it needs — changes by
    ``delta`` first, so an item that lost a vote is handed out again for a replacement."""
    votes = Vote.objects.filter(voter=voter, kind=VoteKind.VOTE, superseded_by__isnull=True)
    item_ids = sorted(set(votes.values_list("item_id", flat=True)))
    changed: Counter[str] = Counter()
    audited: list[list[object]] = []
    for item_id in item_ids:
        before = Item.objects.select_for_update().filter(pk=item_id).values_list("state", flat=True).get()
        transitions.item_votes_shift(item_id=item_id, delta=delta)
        after = item_decide(project=project, item_id=item_id, reconsider=True, actor=actor, cause=cause)
        if after != before:
            changed[f"{before}→{after}"] += 1
            if len(audited) < MAX_AUDITED_ITEMS:
                audited.append([item_id, before, after])
    return len(item_ids), changed, audited


@transaction.atomic
def annotator_suspend(
    *, project: Project, actor: AbstractBaseUser, reason: str, voter_id: int
) -> Suspension:
    """Suspend a voter: a member (not an admin, not oneself) or an imported annotator; see the
    module doc."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why, for the record.", [{"field": "reason", "message": "A reason is required."}])
    voter = _voter(project, voter_id)
    if voter.user_id is not None and (
        voter.user_id == actor.pk or Membership.objects.filter(voter=voter, role=Role.ADMIN).exists()
    ):
        raise Conflict("Admins cannot be suspended; change their role first.")
    if voter.suspended_at is not None:
        raise Conflict(f"{_name(voter)} is suspended already.")
    now = timezone.now()
    Voter.objects.filter(pk=voter.pk).update(suspended_at=now, suspended_by=actor, suspended_reason=reason)
    released = 0
    if voter.user_id is not None:
        released = transitions.leases_revoke(
            project=project, annotator_id=voter.user_id, message="An admin paused your labeling in this project.", now=now
        )
    name = _name(voter)
    items, changed, audited = _redecide(project, voter, actor, f"{name} was suspended: {reason}", -1)
    audit_record(
        actor=actor, project=project, verb="annotator.suspended", obj=voter,
        after={"annotator": name, "reason": reason, "leases_released": released, "items_redecided": items,
               "changed": dict(changed), "items": audited},
    )  # fmt: skip
    reestimate_request(project=project)
    events.annotator_suspended(project.pk, annotator=name)
    return Suspension(name, True, items, dict(changed), released)


@transaction.atomic
def annotator_reinstate(
    *, project: Project, actor: AbstractBaseUser, voter_id: int
) -> Suspension:
    """Undo a suspension: their votes count again and the items they voted on are decided again."""
    voter = _voter(project, voter_id)
    if voter.suspended_at is None:
        raise Conflict(f"{_name(voter)} is not suspended.")
    was = voter.suspended_reason
    Voter.objects.filter(pk=voter.pk).update(suspended_at=None, suspended_by=None, suspended_reason="")
    name = _name(voter)
    items, changed, audited = _redecide(project, voter, actor, f"{name} was reinstated", +1)
    audit_record(
        actor=actor, project=project, verb="annotator.reinstated", obj=voter,
        before={"reason": was}, after={"annotator": name, "items_redecided": items, "changed": dict(changed), "items": audited},
    )  # fmt: skip
    reestimate_request(project=project)
    events.annotator_reinstated(project.pk, annotator=name)
    return Suspension(name, False, items, dict(changed))
