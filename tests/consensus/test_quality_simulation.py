"""Spammers among real crowd answers, through the product's queue, votes and quality figures
(bench/spammers.py; the full set's figures are in docs/benchmarks.md)."""

from __future__ import annotations

import pytest

from bench.spammers import simulate


@pytest.mark.django_db
def test_spammers_are_flagged_early_no_honest_annotator_is_and_ground_truth_holds():
    # 1,000 items of sp, 12 annotators of whom 2 answer at random, 5% gold items.
    with_spam = simulate(set_name="sp", items=1000, annotators=12, seed=7, slug="sim-spam")
    assert len(with_spam.spammers) == 2
    for name in with_spam.spammers:
        assert name in with_spam.caught, f"{name} was never flagged"
        assert with_spam.caught[name].gold_answers < 40
    assert [n for n in with_spam.honest if n in with_spam.caught] == []
    without = simulate(set_name="sp", items=1000, annotators=12, seed=7, spammers=False, slug="sim-honest")
    assert without.caught == {}
    assert with_spam.accuracy >= without.accuracy - 0.01, (with_spam.accuracy, without.accuracy)
