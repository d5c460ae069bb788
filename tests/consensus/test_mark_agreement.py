"""Project-wide agreement over box and span answers (consensus/mark_agreement.py)."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation.answers import boxes, spans
from consensus import mark_agreement as ma


def box(x, y, w, h, label="tree"):
    return {"x": x, "y": y, "w": w, "h": h, "label": label}


def test_per_label_f1_between_annotator_pairs_by_hand():
    a, far = box(0, 0, 10, 10), box(50, 50, 10, 10, "dead")
    items = [
        {0: [a, box(20, 20, 5, 5, "dead")], 1: [box(0, 0, 10, 9), far]},  # tree pairs, dead does not
        {0: [], 2: [box(30, 30, 8, 8)]},  # 0 saw nothing, 2 a tree
        {1: [a], 2: [a]},
    ]
    result = ma.pair_f1(items, compare=boxes.compare, labels=["tree", "dead"], n_annotators=3)
    tree, dead = 0, 1
    assert result.f1[0, 1, tree] == 1.0 and result.f1[1, 0, tree] == 1.0
    assert result.f1[0, 1, dead] == 0.0
    assert result.f1[0, 2, tree] == 0.0 and math.isnan(result.f1[0, 2, dead])
    assert result.f1[1, 2, tree] == 1.0
    assert math.isnan(result.f1[0, 0, tree])
    assert result.per_label == pytest.approx([4 / 5, 0.0])  # tree: 2 pairs of 5 marks; dead: 0 of 2
    assert result.overall == pytest.approx(4 / 7)
    assert result.marks[0, 1].tolist() == [2, 2]


def test_per_label_f1_for_spans_strict():
    items = [{0: [{"start": 0, "end": 3, "label": "p"}], 1: [{"start": 0, "end": 4, "label": "p"}]}]
    loose = ma.pair_f1(items, compare=spans.compare, labels=["p"], n_annotators=2)
    strict = ma.pair_f1(
        items, compare=lambda a, b: spans.compare(a, b, exact=True), labels=["p"], n_annotators=2
    )
    assert loose.overall == 1.0 and strict.overall == 0.0


def test_alpha_by_hand():
    a, b = [box(0, 0, 10, 10)], [box(50, 50, 10, 10)]
    items = [{0: a, 1: a}, {0: b, 1: []}]
    # D_o = (0 + 2·1) / 4 = 0.5; D_e over the pooled a, a, b, []: 5 of 6 pairs differ.
    assert ma.alpha(items, compare=boxes.compare) == pytest.approx(1 - 0.5 / (5 / 6))


def test_alpha_edge_cases():
    a = [box(0, 0, 10, 10)]
    assert ma.alpha([{0: a, 1: a}, {0: [], 1: []}], compare=boxes.compare) == 1.0
    assert math.isnan(ma.alpha([{0: a, 1: a}], compare=boxes.compare))  # nothing to expect
    assert math.isnan(ma.alpha([{0: a}, {1: a}], compare=boxes.compare))  # no item with two answers


CANONICAL = [[], [box(0, 0, 10, 10)], [box(50, 50, 10, 10)], [box(0, 0, 10, 10, "dead")]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(range(4)), min_size=2, max_size=4), min_size=2, max_size=12))
def test_alpha_equals_krippendorff_nominal_when_answers_are_equal_or_disjoint(rows):
    # These four answers are at distance 0 from themselves and 1 from each other: nominal data.
    items = [{k: CANONICAL[v] for k, v in enumerate(row)} for row in rows]
    ours = ma.alpha(items, compare=boxes.compare)
    counts = np.zeros((len(rows), 4))
    for n, row in enumerate(rows):
        for v in row:
            counts[n, v] += 1
    if np.count_nonzero(counts.sum(0)) < 2:
        assert math.isnan(ours)
        return
    theirs = krippendorff.alpha(value_counts=counts, level_of_measurement="nominal")
    assert ours == pytest.approx(theirs)


def test_alpha_samples_the_expected_distance_when_there_are_many_answers():
    rng = np.random.default_rng(0)
    items = [{k: [box(int(rng.integers(0, 80)), 0, 10, 10)] for k in range(3)} for _ in range(60)]
    exact = ma.alpha(items, compare=boxes.compare)
    sampled = ma.alpha(items, compare=boxes.compare, max_pairs=2000, seed=1)
    assert sampled == pytest.approx(exact, abs=0.05)


def test_annotator_agreement_with_the_consensus():
    a = [box(0, 0, 10, 10)]
    items = [{0: a, 1: a, 2: []}, {0: [], 2: []}]
    agreement, answered = ma.annotator_agreement(items, [a, []], compare=boxes.compare, n_annotators=4)
    assert agreement[:3].tolist() == [1.0, 1.0, 0.5] and math.isnan(agreement[3])
    assert answered.tolist() == [2, 1, 2, 0]


def test_localisation_spread_recovers_each_annotators_error():
    # Three annotators whose edges stray by 2%, 4% and 8% of a box's size; no truth is given.
    rng = np.random.default_rng(3)
    sigma = [0.02, 0.04, 0.08]
    items = []
    for _ in range(1000):
        x, y, w, h = rng.uniform(0, 400), rng.uniform(0, 400), rng.uniform(20, 60), rng.uniform(20, 60)
        answers = {}
        for k, s in enumerate(sigma):
            d = rng.normal(0, s, 4) * [w, h, w, h]
            answers[k] = [box(x + d[0], y + d[1], w + d[2] - d[0], h + d[3] - d[1])]
        items.append(answers)
    spread = ma.localisation_spread(items, geometry=boxes.corners, min_iou=0.5, n_annotators=4)
    assert spread[:3] == pytest.approx(sigma, rel=0.1)
    assert math.isnan(spread[3])


def test_localisation_spread_of_two_annotators_is_split_evenly():
    items = [{0: [box(0, 0, 10, 10)], 1: [box(1, 0, 10, 10)]}]
    spread = ma.localisation_spread(items, geometry=boxes.corners, min_iou=0.5, n_annotators=2)
    # Both x edges differ by 1 px on a 10 px box, the y edges not at all: mean square 0.005 = 2σ².
    assert spread == pytest.approx([0.05, 0.05], rel=1e-3)
