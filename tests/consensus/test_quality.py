"""Gold accuracy and the flags, on hand-made counts (pure; no database)."""

from __future__ import annotations

import numpy as np
import pytest

from consensus import quality
from consensus.quality import AnnotatorStats, assess


def stats(answers=(50, 50), agree=0, compared=0, gold=(0, 0), median_ms=None, timed=0):
    return AnnotatorStats(np.array(answers, float), agree, compared, gold[0], gold[1], median_ms, timed)


def codes(a):
    return [f.code for f in a.flags]


def test_beta_interval_is_the_uniform_prior_posterior():
    iv = quality.beta_interval(8, 10)
    assert iv.mean == pytest.approx(9 / 12) and iv.low < 0.8 < iv.high and iv.n == 10
    assert quality.beta_interval(0, 0) is None


def test_low_gold_needs_credible_evidence_below_the_bar():
    few = assess([stats(gold=(1, 3))], consensus_shares=np.array([0.5, 0.5]), min_gold_accuracy=0.6)[0]
    many = assess([stats(gold=(10, 30))], consensus_shares=np.array([0.5, 0.5]), min_gold_accuracy=0.6)[0]
    good = assess([stats(gold=(26, 30))], consensus_shares=np.array([0.5, 0.5]), min_gold_accuracy=0.6)[0]
    assert codes(few) == [] and codes(many) == ["low_gold"] and codes(good) == []


def test_agreement_at_chance_is_flagged_and_a_weak_but_real_annotator_is_not():
    q = np.array([0.5, 0.5])
    spammer = stats(answers=(100, 100), agree=102, compared=200)
    weak = stats(answers=(100, 100), agree=136, compared=200)  # 68%: poor, but informative
    out = assess([spammer, weak], consensus_shares=q, min_gold_accuracy=0.6)
    assert codes(out[0]) == ["chance"] and out[0].chance == pytest.approx(0.5)
    assert codes(out[1]) == []


def test_fast_compares_with_the_peers_median():
    peers = [stats(median_ms=8000, timed=20) for _ in range(3)]
    out = assess([stats(median_ms=1500, timed=20), *peers], consensus_shares=np.array([0.5, 0.5]), min_gold_accuracy=0.6)
    assert codes(out[0]) == ["fast"] and all(codes(a) == [] for a in out[1:])
    alone = assess([stats(median_ms=1500, timed=20)], consensus_shares=np.array([0.5, 0.5]), min_gold_accuracy=0.6)
    assert codes(alone[0]) == []  # no peers, no comparison


def test_constant_answers_unless_the_labels_are_that_imbalanced():
    q = np.array([0.5, 0.5])
    lazy = stats(answers=(40, 0))
    others = [stats(answers=(20, 20)) for _ in range(3)]
    assert codes(assess([lazy, *others], consensus_shares=q, min_gold_accuracy=0.6)[0]) == ["constant"]
    skewed = [stats(answers=(39, 1)) for _ in range(3)]
    assert codes(assess([lazy, *skewed], consensus_shares=q, min_gold_accuracy=0.6)[0]) == []
