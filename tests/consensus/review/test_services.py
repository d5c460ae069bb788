"""The review loop through its services: cases with reasons, claims, decisions, notes, gold."""

from __future__ import annotations

import pytest
from django.utils import timezone

from annotation.exceptions import Conflict, ValidationFailed
from annotation.items.models import Item, ItemState
from annotation.labeling import services as labeling
from annotation.labeling.models import Lease, LeaseStatus
from annotation.projects.models import AuditEvent
from annotation.rulebook import services as rulebook_services
from annotation.rulebook.models import ClarificationNote
from consensus.decisions.models import GroundTruth
from consensus.review import services as review
from consensus.review.models import ReviewCase, ReviewReason, ReviewResolution
from tests.annotation.labeling.test_services import add_items, annotators, vote
from tests.factories import UserFactory


@pytest.fixture
def ready(team):
    from tests.conftest import publish

    publish(team, "cat", "dog", "fox")
    team.project.min_votes, team.project.max_votes, team.project.gold_rate = 2, 2, 0
    team.project.save()
    return team


def cast(team, users, labels, **kw):
    for user, label in zip(users, labels, strict=True):
        vote(team, user, labeling.item_lease_next(project=team.project, annotator=user), value=label, **kw)


def split_item(team, users=None):
    (item,) = add_items(team.project, 1)
    users = users or annotators_more(team, 2)
    cast(team, users, ("cat", "dog"))
    return item


def test_a_split_at_max_votes_opens_a_case_that_says_why(ready):
    item = split_item(ready)
    case = ReviewCase.objects.get(item=item, resolved_at__isnull=True)
    assert Item.objects.get(pk=item.pk).state == ItemState.REVIEW
    assert case.reason == ReviewReason.SPLIT and "cat 1" in case.detail and "dog 1" in case.detail


def test_a_does_not_fit_claim_goes_to_review_as_a_claim_first_in_the_queue(ready):
    a, b = annotators(ready, 2)
    split_item(ready, [a, b])
    (item,) = add_items(ready.project, 1)
    c, d = UserFactory(), UserFactory()
    for u in (c, d):
        from annotation.projects import services as projects_services

        projects_services.member_add(actor=ready.admin, project=ready.project, username=u.username, role="annotator")
    vote(ready, c, labeling.item_lease_next(project=ready.project, annotator=c), value=None, claim="no_fit", claim_reason="a bird")
    vote(ready, d, labeling.item_lease_next(project=ready.project, annotator=d), value="cat")
    cases = list(review.review_candidates(project=ready.project, reviewer=ready.reviewer))
    assert [(x.item_id, x.reason) for x in cases][0] == (item.pk, ReviewReason.CLAIM)


def test_unsure_votes_go_to_review_only_when_the_project_says_so(ready):
    a, b, c, d = annotators(ready, 4)
    (first,) = add_items(ready.project, 1)
    cast(ready, (a, b), ("cat", "cat"), unsure=True)
    assert Item.objects.get(pk=first.pk).state == ItemState.GROUND_TRUTH
    ready.project.review_unsure = True
    ready.project.save()
    (second,) = add_items(ready.project, 1)
    cast(ready, (c, d), ("cat", "cat"), unsure=True)
    assert Item.objects.get(pk=second.pk).state == ItemState.REVIEW
    assert ReviewCase.objects.get(item=second).reason == ReviewReason.UNSURE


def test_two_reviewers_never_hold_the_same_item(ready):
    first, second = split_item(ready), split_item(ready)
    other = UserFactory()
    from annotation.projects import services as projects_services

    projects_services.member_add(actor=ready.admin, project=ready.project, username=other.username, role="reviewer")
    mine = review.review_claim(project=ready.project, reviewer=ready.reviewer)
    theirs = review.review_claim(project=ready.project, reviewer=other)
    assert {mine.item_id, theirs.item_id} == {first.pk, second.pk}
    with pytest.raises(Conflict, match=ready.reviewer.username):
        review.review_claim(project=ready.project, reviewer=other, item_id=mine.item_id)
    assert review.review_claim(project=ready.project, reviewer=UserFactory()) is None  # nothing free
    # a claim that expired is free again
    ReviewCase.objects.filter(pk=mine.pk).update(claim_expires_at=timezone.now())
    assert review.review_claim(project=ready.project, reviewer=other, item_id=mine.item_id).item_id == first.pk


def test_decisions_need_the_claim(ready):
    item = split_item(ready)
    with pytest.raises(review.NotClaimed):
        review.review_decide(project=ready.project, reviewer=ready.reviewer, item_id=item.pk, label="cat", reason="r")


def test_a_reviewed_label_becomes_ground_truth_naming_the_reviewer_and_the_votes_stay(ready):
    item = split_item(ready)
    votes_before = list(item.votes.values_list("pk", "value"))
    review.review_claim(project=ready.project, reviewer=ready.reviewer, item_id=item.pk)
    with pytest.raises(ValidationFailed):
        review.review_decide(project=ready.project, reviewer=ready.reviewer, item_id=item.pk, label="cat", reason=" ")
    with pytest.raises(ValidationFailed):
        review.review_decide(project=ready.project, reviewer=ready.reviewer, item_id=item.pk, label="wolf", reason="r")
    gt = review.review_decide(project=ready.project, reviewer=ready.reviewer, item_id=item.pk, label="dog", reason="ears say dog")
    assert (gt.label, gt.source, gt.reviewer, gt.reason) == ("dog", "review", ready.reviewer, "ears say dog")
    assert sorted(gt.votes) == sorted(v for v, _ in votes_before) and set(gt.distribution) >= {"cat", "dog"}
    assert list(item.votes.values_list("pk", "value")) == votes_before
    assert Item.objects.get(pk=item.pk).state == ItemState.GROUND_TRUTH
    case = ReviewCase.objects.get(item=item)
    assert (case.resolution, case.resolved_by) == (ReviewResolution.LABELED, ready.reviewer)
    assert AuditEvent.objects.filter(verb="review.decided", object_id=str(item.pk), actor=ready.reviewer).exists()


def test_send_back_asks_for_one_vote_more_than_max(ready):
    item = split_item(ready)
    review.review_claim(project=ready.project, reviewer=ready.reviewer, item_id=item.pk)
    review.review_send_back(project=ready.project, reviewer=ready.reviewer, item_id=item.pk, reason="need a tiebreak")
    item.refresh_from_db()
    assert (item.state, item.votes_count) == (ItemState.QUEUED, 2)
    (third,) = annotators_more(ready, 1)
    lease = labeling.item_lease_next(project=ready.project, annotator=third)
    assert lease.item_id == item.pk  # a new vote request past max_votes = 2
    vote(ready, third, lease, value="cat")
    assert Item.objects.get(pk=item.pk).state in (ItemState.GROUND_TRUTH, ItemState.REVIEW)
    assert GroundTruth.objects.filter(item=item).exists() or ReviewCase.objects.filter(item=item, resolved_at__isnull=True).exists()


def annotators_more(team, n):
    from annotation.projects import services as projects_services

    users = [UserFactory() for _ in range(n)]
    for u in users:
        projects_services.member_add(actor=team.admin, project=team.project, username=u.username, role="annotator")
    return users


def test_exclude_takes_the_item_out_of_every_queue(ready):
    item = split_item(ready)
    review.review_claim(project=ready.project, reviewer=ready.reviewer, item_id=item.pk)
    review.review_exclude(project=ready.project, reviewer=ready.reviewer, item_id=item.pk, reason="not a photo")
    assert Item.objects.get(pk=item.pk).state == ItemState.EXCLUDED
    (fresh,) = annotators_more(ready, 1)
    assert labeling.item_lease_next(project=ready.project, annotator=fresh) is None
    assert not Lease.objects.filter(item=item, status=LeaseStatus.ACTIVE).exists()


def test_a_clarification_note_is_kept_for_the_admins(ready):
    item = split_item(ready)
    with pytest.raises(ValidationFailed):
        review.clarification_request(project=ready.project, author=ready.reviewer, label="wolf", text="?")
    note = review.clarification_request(project=ready.project, author=ready.reviewer, label="fox", text="Is a fennec a fox?", item_id=item.pk)
    from annotation.rulebook.selectors import clarification_notes_open

    assert clarification_notes_open(project=ready.project) == [note]
    rulebook_services.clarification_resolve(project=ready.project, actor=ready.admin, note_id=note.pk)
    assert clarification_notes_open(project=ready.project) == []
    assert ClarificationNote.objects.get(pk=note.pk).resolved_by == ready.admin


def test_reviewed_ground_truth_turned_gold_is_served_as_a_check_item(ready):
    item = split_item(ready)
    review.review_claim(project=ready.project, reviewer=ready.reviewer, item_id=item.pk)
    review.review_decide(project=ready.project, reviewer=ready.reviewer, item_id=item.pk, label="dog", reason="r")
    review.gold_from_ground_truth(project=ready.project, actor=ready.reviewer, item_id=item.pk)
    assert Item.objects.get(pk=item.pk).gold == "dog"
    with pytest.raises(Conflict):
        review.gold_from_ground_truth(project=ready.project, actor=ready.reviewer, item_id=item.pk)
    ready.project.gold_rate, ready.project.gold_feedback = 1.0, True
    ready.project.save()
    (fresh,) = annotators_more(ready, 1)
    lease = labeling.item_lease_next(project=ready.project, annotator=fresh)
    assert lease.item_id == item.pk and lease.is_gold
    result = vote(ready, fresh, lease, value="cat")
    assert result.feedback["correct"] is False
    assert result.feedback["labels"][0]["key"] == "dog" and result.feedback["labels"][0]["definition"] == "It is a dog."
