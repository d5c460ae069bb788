"""The pure queue rules (gold turn, votes needed), and the database's restatement of votes needed."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from annotation.labeling.queue import is_gold_turn


def test_every_tenth_item_is_gold_at_rate_one_tenth():
    assert [n for n in range(30) if is_gold_turn(n, 0.1)] == [9, 19, 29]


def test_no_gold_at_rate_zero_and_all_gold_at_rate_one():
    assert not any(is_gold_turn(n, 0) for n in range(100))
    assert all(is_gold_turn(n, 1) for n in range(100))


@given(st.floats(min_value=0, max_value=1), st.integers(min_value=1, max_value=2000))
def test_share_of_gold_stays_within_one_item_of_the_rate(rate, n):
    gold = sum(is_gold_turn(k, rate) for k in range(n))
    assert abs(gold - n * rate) <= 1


def test_votes_needed_is_min_plus_extra():
    from annotation.labeling.queue import votes_needed

    assert votes_needed(min_votes=3, extra_votes=0) == 3
    assert votes_needed(min_votes=3, extra_votes=1) == 4
    assert votes_needed(min_votes=3, extra_votes=3) == 6  # a reviewer sent it back past max_votes


def test_extra_votes_for_one_more_asks_for_exactly_one_more():
    from annotation.labeling.queue import extra_votes_for_one_more, votes_needed

    for min_votes in range(1, 6):
        for votes in range(0, 10):
            extra = extra_votes_for_one_more(votes=votes, min_votes=min_votes)
            assert extra >= 0
            assert votes_needed(min_votes=min_votes, extra_votes=extra) == max(votes + 1, min_votes)


# --- the database states the rule again: the queue's SQL, the vote's check, the count left ---


@pytest.mark.parametrize("min_votes", [1, 2, 3])
def test_the_queue_sql_and_votes_needed_agree(team, min_votes):
    """Every (extra, votes, leases) an item may hold: the queue's SQL leases it exactly until
    ``votes_count + leased_count`` reaches ``votes_needed``; the vote's check takes a vote while
    ``votes_count`` is below ``max(max_votes, votes_needed)``; the annotator's count of items left
    counts it while ``votes_count`` is below ``votes_needed``."""
    from django.db import connection, transaction
    from django.utils import timezone

    from annotation.items import transitions
    from annotation.items.models import Item
    from annotation.labeling.models import Lease
    from annotation.labeling.queue import votes_needed
    from annotation.labeling.selectors import annotator_progress
    from tests.conftest import publish
    from tests.factories import UserFactory

    version = publish(team, "cat", "dog")
    project = team.project
    project.min_votes, project.max_votes, project.gold_rate = min_votes, 4, 0
    project.save()
    cases = [(e, v, n) for e in range(3) for v in range(7) for n in range(3)]
    items = {}
    for k, (extra, votes, leased) in enumerate(cases):
        items[(extra, votes, leased)] = Item.objects.create(
            project=project, kind="text", text=f"t{k}", content_hash=f"q{k}", extra_votes=extra, votes_count=votes, leased_count=leased,
        ).pk  # fmt: skip
    needed = {case: votes_needed(min_votes=min_votes, extra_votes=case[0]) for case in cases}

    assert annotator_progress(project=project, annotator=team.annotator)["left"] == sum(case[1] < needed[case] for case in cases)

    now = timezone.now()
    takers = [UserFactory() for _ in range(max(needed.values()))]
    with connection.cursor() as cur:
        for user in takers:  # each annotator takes every item still open to them
            while transitions.lease_open(cur, project=project, annotator_id=user.pk, version_id=version.pk, gold=False,
                                         now=now, expires=now, shown=("id",)):  # fmt: skip
                pass
    got = {case: Lease.objects.filter(item_id=pk).count() for case, pk in items.items()}
    assert got == {case: max(needed[case] - case[1] - case[2], 0) for case in cases}

    for case, pk in items.items():
        lease = Lease.objects.filter(item_id=pk).first() or Lease.objects.create(
            project=project, item_id=pk, annotator=takers[0], rulebook_version=version, created_at=now, expires_at=now
        )
        with transaction.atomic(), connection.cursor() as cur:
            Item.objects.filter(pk=pk, leased_count=0).update(leased_count=1)  # the lease it votes on counts
            votes = Item.objects.get(pk=pk).votes_count
            taken = transitions.lease_vote(cur, project=project, lease_id=lease.pk, item_id=pk, now=now)
            assert taken == (votes < max(project.max_votes, needed[case])), case
            transaction.set_rollback(True)
