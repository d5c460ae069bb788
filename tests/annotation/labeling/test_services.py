"""Leases, votes, undo and the queue's order, through the services."""

import datetime as dt

import pytest
from django.utils import timezone

from annotation.exceptions import (
    AlreadyVoted,
    AnswerFinal,
    Conflict,
    LeaseExpired,
    NoRulebook,
    NotAssigned,
    RulebookChanged,
    ValidationFailed,
)
from annotation.items.models import Item, ItemState
from annotation.labeling import services as labeling
from annotation.labeling.models import Lease, Vote
from annotation.projects import services as projects_services
from annotation.projects.models import Role
from annotation.rulebook import services as rulebook_services
from tests.conftest import labels, publish
from tests.factories import UserFactory


def add_items(project, n, **fields):
    start = Item.objects.filter(project=project).count()
    return [
        Item.objects.create(project=project, kind="text", text=f"text {start + i}", content_hash=f"h{project.pk}-{start + i}", external_id=f"x{start + i}", **fields)
        for i in range(n)
    ]


def annotators(team, n):
    users = [UserFactory(username=f"ann{i}") for i in range(n)]
    for u in users:
        projects_services.member_add(actor=team.admin, project=team.project, username=u.username, role=Role.ANNOTATOR)
    return users


@pytest.fixture
def ready(team):
    publish(team, "cat", "dog")
    team.project.min_votes, team.project.max_votes, team.project.gold_rate = 2, 3, 0
    team.project.save()
    return team


def vote(team, user, lease, value="cat", client_id=None, **kw):
    return labeling.vote_cast(project=team.project, annotator=user, item_id=lease.item_id, client_id=client_id or f"c-{user.pk}-{lease.item_id}-{Vote.objects.count()}", value=value, **kw)


def test_no_rulebook_no_work(team):
    add_items(team.project, 1)
    with pytest.raises(NoRulebook, match="has not been published"):
        labeling.item_lease_next(project=team.project, annotator=team.annotator)


def test_an_item_is_leased_to_no_more_annotators_than_it_needs(ready):
    (item,) = add_items(ready.project, 1)
    a, b, c = annotators(ready, 3)
    assert labeling.item_lease_next(project=ready.project, annotator=a).item_id == item.pk
    assert labeling.item_lease_next(project=ready.project, annotator=b).item_id == item.pk
    assert labeling.item_lease_next(project=ready.project, annotator=c) is None  # 2 leases = min_votes
    item.refresh_from_db()
    assert (item.leased_count, item.votes_count) == (2, 0)


def test_the_same_lease_comes_back_until_answered_and_never_twice_after(ready):
    items = add_items(ready.project, 2)
    a = ready.annotator
    first = labeling.item_lease_next(project=ready.project, annotator=a)
    assert labeling.item_lease_next(project=ready.project, annotator=a).pk == first.pk
    prefetched = labeling.item_lease_next(project=ready.project, annotator=a, exclude=(first.item_id,))
    assert prefetched.item_id != first.item_id
    vote(ready, a, first)
    vote(ready, a, prefetched)
    assert labeling.item_lease_next(project=ready.project, annotator=a) is None
    assert {i.pk for i in items} == {first.item_id, prefetched.item_id}


def test_order_closest_to_completion_then_priority_then_oldest(ready):
    old, low, high, started = add_items(ready.project, 4)
    Item.objects.filter(pk=high.pk).update(priority=0.9)
    Item.objects.filter(pk=low.pk).update(priority=0.1)
    other = annotators(ready, 1)[0]
    Item.objects.filter(pk=started.pk).update(votes_count=1)
    assert other  # another annotator's vote is what "started" stands for
    order = []
    for _ in range(4):
        lease = labeling.item_lease_next(project=ready.project, annotator=ready.annotator, exclude=tuple(order))
        order.append(lease.item_id)
    assert order == [started.pk, high.pk, low.pk, old.pk]


def test_gold_items_come_at_the_gold_rate(ready):
    ready.project.gold_rate = 0.5
    ready.project.save()
    add_items(ready.project, 6)
    gold = add_items(ready.project, 3, gold="cat")
    got = []
    for _ in range(6):
        lease = labeling.item_lease_next(project=ready.project, annotator=ready.annotator)
        got.append(lease.is_gold)
        vote(ready, ready.annotator, lease)
    assert got == [False, True, False, True, False, True]
    assert Item.objects.get(pk=gold[0].pk).state == ItemState.QUEUED  # gold stays a honeypot


def test_excluded_and_decided_items_never_appear(ready):
    ex, done, ok = add_items(ready.project, 3)
    Item.objects.filter(pk=ex.pk).update(state=ItemState.EXCLUDED)
    Item.objects.filter(pk=done.pk).update(state=ItemState.GROUND_TRUTH)
    assert labeling.item_lease_next(project=ready.project, annotator=ready.annotator).item_id == ok.pk


def test_agreeing_votes_at_min_votes_promote_the_item(ready):
    (item,) = add_items(ready.project, 1)
    a, b = annotators(ready, 2)
    for user in (a, b):
        vote(ready, user, labeling.item_lease_next(project=ready.project, annotator=user))
    item.refresh_from_db()
    assert (item.votes_count, item.leased_count, item.state) == (2, 0, ItemState.GROUND_TRUTH)


def test_lease_expiry_returns_the_item_and_refuses_the_late_vote(ready):
    (item,) = add_items(ready.project, 1)
    a, b, c = annotators(ready, 3)
    late = labeling.item_lease_next(project=ready.project, annotator=a)
    labeling.item_lease_next(project=ready.project, annotator=b)
    assert labeling.item_lease_next(project=ready.project, annotator=c) is None
    Lease.objects.filter(pk=late.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert labeling.item_lease_next(project=ready.project, annotator=c).item_id == item.pk
    with pytest.raises(LeaseExpired, match="went back to the queue; your answer was not saved"):
        vote(ready, a, late)
    assert Lease.objects.get(pk=late.pk).status == "expired"
    item.refresh_from_db()
    assert (item.leased_count, item.votes_count) == (2, 0)


def test_heartbeat_extends_active_leases_and_reports_expired_ones(ready):
    one, two = add_items(ready.project, 2)
    a = ready.annotator
    l1 = labeling.item_lease_next(project=ready.project, annotator=a)
    l2 = labeling.item_lease_next(project=ready.project, annotator=a, exclude=(l1.item_id,))
    soon = timezone.now() + dt.timedelta(seconds=5)
    Lease.objects.filter(pk=l1.pk).update(expires_at=soon)
    Lease.objects.filter(pk=l2.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    kept, expired = labeling.lease_heartbeat(project=ready.project, annotator=a, item_ids=[l1.item_id, l2.item_id])
    assert [k.item_id for k in kept] == [l1.item_id] and expired == [l2.item_id]
    assert Lease.objects.get(pk=l1.pk).expires_at > soon + dt.timedelta(seconds=200)


def test_retried_vote_is_stored_once(ready):
    add_items(ready.project, 1)
    lease = labeling.item_lease_next(project=ready.project, annotator=ready.annotator)
    first = vote(ready, ready.annotator, lease, client_id="same-key-123")
    again = vote(ready, ready.annotator, lease, client_id="same-key-123")
    assert first.created and not again.created and again.vote.pk == first.vote.pk
    assert Vote.objects.count() == 1
    assert Item.objects.get(pk=lease.item_id).votes_count == 1
    with pytest.raises(AlreadyVoted):
        vote(ready, ready.annotator, lease, client_id="another-key-1")


def test_undo_supersedes_the_vote_and_gives_the_item_back(ready):
    (item,) = add_items(ready.project, 1)
    a, b = annotators(ready, 2)
    vote(ready, b, labeling.item_lease_next(project=ready.project, annotator=b))
    lease = labeling.item_lease_next(project=ready.project, annotator=a)
    original = vote(ready, a, lease, value="dog").vote
    item.refresh_from_db()
    assert (item.state, item.extra_votes) == (ItemState.QUEUED, 1)  # split: one more vote asked for
    undo = labeling.vote_undo(project=ready.project, annotator=a, client_id="undo-key-1")
    assert (undo.vote.kind, undo.vote.supersedes_id, undo.vote.value) == ("retract", original.pk, None)
    item.refresh_from_db()
    assert (item.votes_count, item.leased_count, item.state) == (1, 1, ItemState.QUEUED)
    assert labeling.item_lease_next(project=ready.project, annotator=a).item_id == item.pk
    corrected = vote(ready, a, lease, value="cat").vote
    assert corrected.supersedes_id == undo.vote.pk
    assert list(Vote.objects.filter(voter__user=a).order_by("pk").values_list("kind", "value")) == [("vote", "dog"), ("retract", None), ("vote", "cat")]
    assert Item.objects.get(pk=item.pk).state == ItemState.QUEUED  # still owed the third vote the split asked for


def test_undo_after_the_lease_is_gone_is_refused(ready):
    add_items(ready.project, 1)
    lease = labeling.item_lease_next(project=ready.project, annotator=ready.annotator)
    vote(ready, ready.annotator, lease)
    Lease.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(Conflict, match="Too late to undo"):
        labeling.vote_undo(project=ready.project, annotator=ready.annotator, client_id="undo-key-2")


def test_rulebook_republished_mid_lease_refuses_the_vote_until_reload(ready):
    add_items(ready.project, 1)
    lease = labeling.item_lease_next(project=ready.project, annotator=ready.annotator)
    rulebook_services.rulebook_draft_save(actor=ready.admin, project=ready.project, guidelines="", unclear_instructions="", do_not_label="", labels=labels("cat", "dog", "bird"))
    rulebook_services.rulebook_publish(actor=ready.admin, project=ready.project)
    with pytest.raises(RulebookChanged, match="The rulebook changed to v2 after this item was handed to you. Reload"):
        vote(ready, ready.annotator, lease, value="bird")
    # After a reload the page asks for its item again and answers under v2.
    again = labeling.item_lease_next(project=ready.project, annotator=ready.annotator)
    assert again.pk == lease.pk and again.rulebook_version.number == 2
    assert vote(ready, ready.annotator, again, value="bird").vote.rulebook_version.number == 2


def test_vote_on_an_item_not_leased_to_you_is_refused(ready):
    item, other = add_items(ready.project, 2)
    labeling.item_lease_next(project=ready.project, annotator=ready.annotator)
    with pytest.raises(NotAssigned, match=f"Item {other.pk} is not leased to you"):
        labeling.vote_cast(project=ready.project, annotator=ready.annotator, item_id=other.pk, client_id="k-123456", value="cat")
    assert not Vote.objects.exists()


@pytest.mark.parametrize(
    "answer,message",
    [
        ({"value": "bird"}, "Label 'bird' is not in rulebook v1; its labels are cat, dog."),
        ({"value": ["cat"]}, "Choose one label (a label key)."),
        ({"value": None}, "Choose one label (a label key)."),
        ({"claim": "no_fit"}, "Say why the item does not fit or should not be labeled."),
        ({"claim": "no_fit", "claim_reason": "a fox", "value": "cat"}, "A claim carries no label; send either a label or a claim."),
    ],
)
def test_invalid_answers_are_refused_with_a_clear_message(ready, answer, message):
    add_items(ready.project, 1)
    lease = labeling.item_lease_next(project=ready.project, annotator=ready.annotator)
    with pytest.raises(ValidationFailed) as exc:
        labeling.vote_cast(project=ready.project, annotator=ready.annotator, item_id=lease.item_id, client_id="k-abcdefg", **answer)
    assert exc.value.message == message
    assert not Vote.objects.exists()
    assert Lease.objects.get(pk=lease.pk).status == "active"  # still theirs to answer


def test_claim_with_reason_counts_as_a_vote(ready):
    add_items(ready.project, 1)
    lease = labeling.item_lease_next(project=ready.project, annotator=ready.annotator)
    v = labeling.vote_cast(project=ready.project, annotator=ready.annotator, item_id=lease.item_id, client_id="k-claim-1", claim="do_not_label", claim_reason="blank scan", unsure=True, note="n", time_spent_ms=1234).vote
    assert (v.value, v.claim, v.claim_reason, v.unsure, v.time_spent_ms) == (None, "do_not_label", "blank scan", True, 1234)


def test_skip_never_comes_back_but_release_does(ready):
    one, two = add_items(ready.project, 2)
    a = ready.annotator
    lease = labeling.item_lease_next(project=ready.project, annotator=a)
    labeling.lease_release(project=ready.project, annotator=a, item_id=lease.item_id, skip=True)
    nxt = labeling.item_lease_next(project=ready.project, annotator=a)
    assert nxt.item_id != lease.item_id
    labeling.lease_release(project=ready.project, annotator=a, item_id=nxt.item_id, skip=False)
    assert labeling.item_lease_next(project=ready.project, annotator=a).item_id == nxt.item_id
    assert Item.objects.get(pk=lease.item_id).leased_count == 0


def test_votes_are_append_only(ready):
    add_items(ready.project, 1)
    v = vote(ready, ready.annotator, labeling.item_lease_next(project=ready.project, annotator=ready.annotator)).vote
    v.value = "dog"
    with pytest.raises(ValueError, match="append-only"):
        v.save()


def test_multi_choice_values(db):
    from tests.conftest import make_team

    multi = make_team("text", "multi")
    publish(multi, "red", "blue", "green")
    add_items(multi.project, 1)
    lease = labeling.item_lease_next(project=multi.project, annotator=multi.annotator)
    with pytest.raises(ValidationFailed, match="'pink' is not in rulebook v1"):
        labeling.vote_cast(project=multi.project, annotator=multi.annotator, item_id=lease.item_id, client_id="k-multi-1", value=["red", "pink"])
    v = labeling.vote_cast(project=multi.project, annotator=multi.annotator, item_id=lease.item_id, client_id="k-multi-2", value=["green", "red", "green"]).vote
    assert v.value == ["red", "green"]  # rulebook order, no repeats


def test_gold_is_never_served_just_because_ordinary_work_ran_out(ready):
    ready.project.gold_rate = 0.1
    ready.project.save()
    (plain,) = add_items(ready.project, 1)
    add_items(ready.project, 3, gold="cat")
    lease = labeling.item_lease_next(project=ready.project, annotator=ready.annotator)
    assert lease.item_id == plain.pk
    vote(ready, ready.annotator, lease)
    assert labeling.item_lease_next(project=ready.project, annotator=ready.annotator) is None


def test_an_idempotency_key_belongs_to_one_kind_of_answer(ready):
    add_items(ready.project, 2)
    lease = labeling.item_lease_next(project=ready.project, annotator=ready.annotator)
    vote(ready, ready.annotator, lease, client_id="key-of-a-vote")
    with pytest.raises(Conflict, match="already used for another answer"):
        labeling.vote_undo(project=ready.project, annotator=ready.annotator, client_id="key-of-a-vote")
    labeling.vote_undo(project=ready.project, annotator=ready.annotator, client_id="key-of-an-undo")
    with pytest.raises(Conflict, match="already used for another answer"):
        vote(ready, ready.annotator, lease, client_id="key-of-an-undo")


def test_undo_names_its_item_and_gives_a_full_lease(ready):
    first_item, second_item = add_items(ready.project, 2)
    a = ready.annotator
    first = labeling.item_lease_next(project=ready.project, annotator=a)
    second = labeling.item_lease_next(project=ready.project, annotator=a, exclude=(first.item_id,))
    vote(ready, a, first)
    vote(ready, a, second)
    Lease.objects.filter(pk=first.pk).update(expires_at=timezone.now() + dt.timedelta(seconds=3))
    undone = labeling.vote_undo(project=ready.project, annotator=a, client_id="undo-first-1", item_id=first.item_id)
    assert undone.vote.item_id == first.item_id  # not the later vote on the second item
    assert Lease.objects.get(pk=first.pk).expires_at > timezone.now() + dt.timedelta(seconds=200)


def test_an_item_withdrawn_while_leased_is_refused_and_not_served_again(ready):
    item, other = add_items(ready.project, 2)
    lease = labeling.item_lease_next(project=ready.project, annotator=ready.annotator)
    Item.objects.filter(pk=lease.item_id).update(state=ItemState.EXCLUDED)
    with pytest.raises(NotAssigned, match="withdrawn from labeling"):
        vote(ready, ready.annotator, lease)
    assert labeling.item_lease_next(project=ready.project, annotator=ready.annotator).item_id != lease.item_id


def test_rulebook_examples_leave_the_queue_when_published(ready):
    from annotation.projects.models import AuditEvent

    example, plain = add_items(ready.project, 2)
    with_example = labels("cat", "dog")
    with_example[0]["fit_examples"] = [example.external_id]
    rulebook_services.rulebook_draft_save(actor=ready.admin, project=ready.project, guidelines="", unclear_instructions="", do_not_label="", labels=with_example)
    rulebook_services.rulebook_publish(actor=ready.admin, project=ready.project)
    assert Item.objects.get(pk=example.pk).state == ItemState.EXCLUDED
    event = AuditEvent.objects.get(verb="item.exclude")
    assert event.after["reason"] == "example in rulebook v2"
    assert labeling.item_lease_next(project=ready.project, annotator=ready.annotator).item_id == plain.pk


@pytest.mark.parametrize("feedback", [True, False], ids=["feedback", "no feedback"])
def test_a_gold_answer_is_final_once_the_annotator_was_shown_the_right_one(ready, feedback):
    """Vote wrong, read the feedback naming the right label, undo, vote again: refused, so the
    gold accuracy is that of the first answer. Without feedback nothing was given away, and
    undo works as on any item (refusing it would tell the annotator the item was gold)."""
    from consensus.reporting.annotators import own_progress

    ready.project.gold_rate, ready.project.gold_feedback = 1.0, feedback
    ready.project.save()
    (item,) = add_items(ready.project, 1, gold="dog")
    lease = labeling.item_lease_next(project=ready.project, annotator=ready.annotator)
    assert lease.is_gold
    first = vote(ready, ready.annotator, lease, value="cat")
    if feedback:
        assert first.feedback["correct"] is False and first.feedback["labels"][0]["key"] == "dog"
        with pytest.raises(AnswerFinal, match="your vote on it is final"):
            labeling.vote_undo(project=ready.project, annotator=ready.annotator, client_id="undo-gold-1")
        with pytest.raises(AlreadyVoted):
            vote(ready, ready.annotator, lease, value="dog")
    else:
        assert first.feedback is None
        labeling.vote_undo(project=ready.project, annotator=ready.annotator, client_id="undo-gold-1")
        assert vote(ready, ready.annotator, lease, value="dog").feedback is None
    gold = own_progress(project=ready.project, user_id=ready.annotator.pk)["row"].gold
    assert gold.n == 1 and (gold.mean < 0.5) == feedback  # scored on the first answer when it was shown
