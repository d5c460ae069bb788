"""Suspending and reinstating an annotator, through the services: decisions change and change back."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading

import pytest
from django.utils import timezone

from annotation.exceptions import Conflict, NotAssigned, Suspended, ValidationFailed
from annotation.items.models import Item, ItemState
from annotation.labeling import services as labeling
from annotation.labeling.models import Lease, LeaseStatus, Vote, VoteKind
from annotation.projects.models import AuditEvent
from annotation.voters.models import Voter, VoterKind
from consensus.annotators.services import annotator_reinstate, annotator_suspend
from consensus.decisions.models import GroundTruth
from consensus.review.models import ReviewCase
from tests.annotation.labeling.test_services import add_items, annotators, vote
from tests.factories import voter_id


@pytest.fixture
def ready(team):
    from tests.conftest import publish

    publish(team, "cat", "dog")
    team.project.min_votes, team.project.max_votes, team.project.gold_rate = 3, 3, 0
    team.project.save()
    return team


def answer(team, user, item, label):
    lease = labeling.item_lease_next(project=team.project, annotator=user)
    assert lease.item_id == item.pk
    vote(team, user, lease, value=label)


def states(*items):
    return [Item.objects.get(pk=i.pk).state for i in items]


def test_suspending_and_reinstating_changes_decisions_and_back_with_an_audit_entry_each(ready):
    a, b, s = annotators(ready, 3)
    split, agreed = add_items(ready.project, 2)
    for user, label in ((a, "cat"), (b, "cat"), (s, "dog")):
        answer(ready, user, split, label)
    for user in (a, b, s):
        answer(ready, user, agreed, "cat")
    assert states(split, agreed) == [ItemState.REVIEW, ItemState.GROUND_TRUTH]

    result = annotator_suspend(project=ready.project, actor=ready.admin, voter_id=voter_id(ready.project, s), reason="random answers")
    # Without s, both items have 2 of the 3 votes they need: back to the queue, ground truth withdrawn.
    assert states(split, agreed) == [ItemState.QUEUED, ItemState.QUEUED]
    assert result.items == 2 and result.changed == {"review→queued": 1, "ground_truth→queued": 1}
    assert not ReviewCase.objects.filter(item=split, resolved_at__isnull=True).exists()
    withdrawn = GroundTruth.objects.get(item=agreed)
    assert withdrawn.withdrawn_at is not None and "suspended" in withdrawn.withdrawn_reason
    assert AuditEvent.objects.filter(verb="annotator.suspended", actor=ready.admin).count() == 1
    with pytest.raises(Suspended):
        labeling.item_lease_next(project=ready.project, annotator=s)
    assert [Item.objects.get(pk=i.pk).votes_count for i in (split, agreed)] == [2, 2]  # a replacement is owed

    back = annotator_reinstate(project=ready.project, actor=ready.admin, voter_id=voter_id(ready.project, s))
    assert states(split, agreed) == [ItemState.REVIEW, ItemState.GROUND_TRUTH]
    assert back.changed == {"queued→review": 1, "queued→ground_truth": 1}
    assert GroundTruth.objects.filter(item=agreed, withdrawn_at__isnull=True).count() == 1
    assert AuditEvent.objects.filter(verb="annotator.reinstated", actor=ready.admin).count() == 1
    assert Item.objects.get(pk=split.pk).votes.count() == 3  # no vote was touched
    assert [Item.objects.get(pk=i.pk).votes_count for i in (split, agreed)] == [3, 3]


def test_an_item_that_lost_a_suspended_vote_gets_a_replacement(ready):
    a, b, s, d = annotators(ready, 4)
    (item,) = add_items(ready.project, 1)
    for user, label in ((a, "cat"), (b, "cat"), (s, "cat")):
        answer(ready, user, item, label)
    annotator_suspend(project=ready.project, actor=ready.admin, voter_id=voter_id(ready.project, s), reason="r")
    answer(ready, d, item, "cat")  # handed out again; the third counting vote promotes it
    assert states(item) == [ItemState.GROUND_TRUTH]


def test_suspension_releases_held_items(ready):
    (s,) = annotators(ready, 1)
    (item,) = add_items(ready.project, 1)
    labeling.item_lease_next(project=ready.project, annotator=s)
    assert Item.objects.get(pk=item.pk).leased_count == 1
    result = annotator_suspend(project=ready.project, actor=ready.admin, voter_id=voter_id(ready.project, s), reason="r")
    assert result.leases_released == 1 and Item.objects.get(pk=item.pk).leased_count == 0
    assert Lease.objects.get(item=item).status == LeaseStatus.RELEASED


def test_suspension_needs_a_reason_and_spares_admins(ready):
    (s,) = annotators(ready, 1)
    with pytest.raises(ValidationFailed):
        annotator_suspend(project=ready.project, actor=ready.admin, voter_id=voter_id(ready.project, s), reason="  ")
    with pytest.raises(Conflict):
        annotator_suspend(project=ready.project, actor=ready.admin, voter_id=voter_id(ready.project, ready.admin), reason="r")
    with pytest.raises(Conflict):
        annotator_reinstate(project=ready.project, actor=ready.admin, voter_id=voter_id(ready.project, s))


def counting_votes(item, suspended):
    return Vote.objects.filter(item=item, kind=VoteKind.VOTE, superseded_by__isnull=True).exclude(voter__user=suspended)


@pytest.mark.parametrize("then", ["vote again", "let the lease lapse"])
def test_a_suspended_annotators_undo_never_lets_an_item_past_max_votes(ready, then):
    """The reported sequence: max_votes 5, an annotator votes, is suspended, undoes and votes
    again (or lets the item they undid lapse). Their vote stays as it was; the item takes the
    replacement the suspension asked for, and not one vote more."""
    ready.project.min_votes, ready.project.max_votes = 5, 5
    ready.project.save()
    s, *crowd = annotators(ready, 8)
    (item,) = add_items(ready.project, 1)
    for user in (crowd[0], crowd[1], s):
        answer(ready, user, item, "cat")
    kept = Vote.objects.get(item=item, voter__user=s)
    annotator_suspend(project=ready.project, actor=ready.admin, voter_id=voter_id(ready.project, s), reason="r")
    with contextlib.suppress(Suspended):
        labeling.vote_undo(project=ready.project, annotator=s, client_id="undo-after-suspension")
    if then == "vote again":
        with contextlib.suppress(Suspended):
            labeling.vote_cast(project=ready.project, annotator=s, item_id=item.pk, client_id="again-0001", value="dog")
    else:
        Lease.objects.filter(item=item, annotator=s).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
        labeling.leases_reclaim_expired(project=ready.project)
    # Everyone else asks for work before anyone answers: the queue alone decides how many get it.
    leases = [labeling.item_lease_next(project=ready.project, annotator=user) for user in crowd[2:]]
    for user, lease in zip(crowd[2:], leases, strict=True):
        if lease is not None:
            vote(ready, user, lease, value="cat")

    assert counting_votes(item, s).count() == 5  # two before, three replacements
    assert sum(lease is not None for lease in leases) == 3
    assert list(Vote.objects.filter(item=item, voter__user=s).values_list("pk", flat=True)) == [kept.pk]
    item.refresh_from_db()
    assert (item.votes_count, item.leased_count, item.state) == (5, 0, ItemState.GROUND_TRUTH)


def test_a_replacement_lease_held_when_the_suspended_annotator_is_reinstated_cannot_overfill(ready):
    a, b, s, d = annotators(ready, 4)
    (item,) = add_items(ready.project, 1)
    for user in (a, b, s):
        answer(ready, user, item, "cat")
    annotator_suspend(project=ready.project, actor=ready.admin, voter_id=voter_id(ready.project, s), reason="r")
    replacement = labeling.item_lease_next(project=ready.project, annotator=d)
    assert replacement.item_id == item.pk
    annotator_reinstate(project=ready.project, actor=ready.admin, voter_id=voter_id(ready.project, s))
    assert states(item) == [ItemState.GROUND_TRUTH]  # s's vote counts again: 3 of max_votes 3

    with pytest.raises(NotAssigned, match="got all the votes it needs"):
        vote(ready, d, replacement, value="dog")
    assert counting_votes(item, None).count() == 3
    assert Item.objects.get(pk=item.pk).votes_count == 3


def test_an_imported_annotator_once_suspended_gets_no_more_votes_in_and_none_counted(ready):
    """The vote import is a vote path too: rows of a suspended crowd worker are refused with
    their reason, and recounting an item after an import counts only votes that count."""
    from annotation.imports.votes import votes_import

    a, s = annotators(ready, 2)
    x0, x1, x2 = add_items(ready.project, 3)
    votes_import(actor=ready.admin, project=ready.project, votes=b"item,annotator,label\nx0,w1,cat\nx1,w1,cat\n")
    answer(ready, s, x0, "cat")
    w1 = Voter.objects.get(project=ready.project, kind=VoterKind.EXTERNAL, name="w1")
    annotator_suspend(project=ready.project, actor=ready.admin, voter_id=w1.pk, reason="a bot")
    annotator_suspend(project=ready.project, actor=ready.admin, voter_id=voter_id(ready.project, s), reason="random answers")
    assert [Item.objects.get(pk=i.pk).votes_count for i in (x0, x1)] == [0, 0]

    result = votes_import(
        actor=ready.admin, project=ready.project, votes=b"item,annotator,label\nx0,w2,cat\nx1,w2,dog\nx2,w1,cat\nx0,w1,cat\n"
    )
    assert result.votes_created == 2 and result.unchanged == 0
    assert [(e["row"], e["field"]) for e in result.errors] == [(4, "annotator"), (5, "annotator")]
    assert "'w1' is suspended" in result.errors[0]["reason"]
    assert not Vote.objects.filter(voter=w1, item=x2).exists()
    # Only w2's new vote counts on each item: not w1's (suspended), nor s's (a suspended member).
    assert [Item.objects.get(pk=i.pk).votes_count for i in (x0, x1, x2)] == [1, 1, 0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_undo_sent_while_a_suspension_is_being_made_waits_for_it_and_is_refused(ready):
    """PostgreSQL's row locks: the suspension holds the membership until it commits, so the undo
    cannot read "not suspended" meanwhile and then take the vote off the count a second time."""
    from django.db import connection, transaction

    assert connection.vendor == "postgresql", "this test runs against PostgreSQL (DATABASE_URL=postgres://…)"
    a, s = annotators(ready, 2)
    (item,) = add_items(ready.project, 1)
    answer(ready, a, item, "cat")
    answer(ready, s, item, "cat")
    suspending, commit, outcome = threading.Event(), threading.Event(), {}

    def suspend() -> None:
        try:
            with transaction.atomic():
                annotator_suspend(project=ready.project, actor=ready.admin, voter_id=voter_id(ready.project, s), reason="r")
                suspending.set()
                commit.wait(10)
        finally:
            connection.close()

    def undo() -> None:
        try:
            labeling.vote_undo(project=ready.project, annotator=s, client_id="undo-in-the-race")
            outcome["undone"] = True
        except Suspended as exc:
            outcome["refused"] = exc.message
        finally:
            connection.close()

    suspender, undoer = threading.Thread(target=suspend), threading.Thread(target=undo)
    suspender.start()
    assert suspending.wait(10)
    undoer.start()
    undoer.join(0.5)
    assert undoer.is_alive()  # waiting for the suspension
    commit.set()
    suspender.join(10)
    undoer.join(10)
    assert outcome == {"refused": "An admin has paused your labeling in this project."}
    item.refresh_from_db()
    assert (item.votes_count, item.leased_count) == (1, 0)  # a's vote; s's stays stored, not counted
    assert Vote.objects.filter(item=item, kind=VoteKind.VOTE, superseded_by__isnull=True).count() == 2
