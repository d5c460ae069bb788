"""The pure gold-turn rule."""

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
