"""Consensus for boxes and spans (consensus/fusion.py): hand-computed merges, the quorum, ties,
what the policy gets, properties, and the simulations of issue 23 on real tree boxes and on
generated sentences (bench/boxes.py, bench/spans.py; full figures in docs/benchmarks.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation.answers import boxes, spans
from consensus import fusion, policy


def box(x, y, w, h, label="tree"):
    return {"x": x, "y": y, "w": w, "h": h, "label": label}


def span(start, end, label="person"):
    return {"start": start, "end": end, "label": label}


# --- boxes ----------------------------------------------------------------------------------------


def test_matched_boxes_merge_by_weighted_average_and_label_by_weighted_vote():
    answers = [[box(0, 0, 10, 10)], [box(1, 0, 10, 10, "dead")], [box(2, 0, 10, 10, "dead")]]
    result = fusion.fuse_boxes(answers, weights=[1, 1, 2])
    # x: (0·1 + 1·1 + 2·2) / 4 = 1.25; dead has 3 of 4 weight.
    assert result.value == [box(1.25, 0, 10, 10, "dead")]
    (mark,) = result.marks
    assert mark.kept and mark.support == 1.0 and mark.label_share == 0.75 and not mark.tie
    assert mark.confidence == 0.75 and result.confidence == 0.75
    assert sorted(mark.members) == [(0, 0), (1, 0), (2, 0)]
    ious = [8.75 / 11.25, 9.75 / 10.25, 9.25 / 10.75]  # each box with the merged one
    assert mark.agreement == pytest.approx((ious[0] + ious[1] + 2 * ious[2]) / 4)
    # Item agreement: each answer's similarity to the consensus, labels counted.
    assert result.agreement == pytest.approx((0 + ious[1] + 2 * ious[2]) / 4)
    assert not result.tie and result.answers == 3


def test_a_box_drawn_by_fewer_than_the_quorum_is_dropped_but_reported():
    tree, stray = box(10, 10, 20, 20), box(60, 60, 10, 10)
    result = fusion.fuse_boxes([[tree], [tree, stray], [tree]])
    assert result.value == [tree]
    kept, dropped = result.marks
    assert kept.kept and not dropped.kept and dropped.value == stray and dropped.members == ((1, 1),)
    assert dropped.support == pytest.approx(1 / 3) and dropped.confidence == pytest.approx(2 / 3)
    assert result.confidence == pytest.approx(2 / 3) and not result.tie
    assert result.agreement == pytest.approx((1 + 2 / 3 + 1) / 3)


def test_half_the_annotators_is_a_tie_and_weights_break_it():
    tree = box(10, 10, 20, 20)
    answers = [[tree], [tree], [], []]
    even = fusion.fuse_boxes(answers)
    assert even.value == [tree] and even.tie and even.confidence == 0.5
    assert fusion.fuse_boxes(answers, weights=[2, 2, 1, 1]).value == [tree]
    light = fusion.fuse_boxes(answers, weights=[1, 1, 2, 2])
    assert light.value == [] and not light.tie and light.confidence == pytest.approx(2 / 3)
    assert fusion.fuse_boxes(answers, quorum=0.75).value == []


def test_a_tied_label_goes_to_the_box_that_fits_best_and_is_reported():
    answers = [
        [box(0, 0, 10, 10)],
        [box(0, 0, 10, 10)],
        [box(1, 0, 10, 10, "dead")],
        [box(3, 0, 10, 10, "dead")],
    ]
    result = fusion.fuse_boxes(answers)
    # Merged at x 1: the dead box there fits it exactly, the tree boxes at 9/11.
    assert result.value == [box(1, 0, 10, 10, "dead")]
    assert result.tie and result.marks[0].tie and result.marks[0].label_share == 0.5


def test_spread_weights_the_corners_and_reliability_the_votes():
    precise, sloppy = [box(0, 0, 10, 10)], [box(3, 0, 10, 10)]
    assert fusion.fuse_boxes([precise, sloppy, sloppy], spread=[0.05, 0.1, 0.1]).value == [box(1, 0, 10, 10)]
    # x: (0·400 + 3·100 + 3·100) / 600 = 1. Without spread, reliability weights the corners too.
    assert fusion.fuse_boxes([precise, sloppy, sloppy], weights=[2, 1, 1]).value == [box(1.5, 0, 10, 10)]
    # A precise annotator alone does not keep a box the others did not draw.
    alone = fusion.fuse_boxes([[box(50, 50, 5, 5)], [], []], spread=[0.01, 0.2, 0.2])
    assert alone.value == []


def test_boxes_far_apart_or_below_the_match_iou_stay_apart():
    result = fusion.fuse_boxes([[box(0, 0, 10, 10)], [box(6, 0, 10, 10)]])  # IoU 4/16
    assert len(result.marks) == 2 and all(m.support == 0.5 for m in result.marks)
    assert len(fusion.fuse_boxes([[box(0, 0, 10, 10)], [box(6, 0, 10, 10)]], min_iou=0.2).marks) == 1


def test_a_cluster_holds_one_box_per_annotator():
    # Two neighbouring trees; the second annotator drew one box over both. WBF can put both of the
    # first annotator's boxes into one cluster; here each annotator has at most one box per cluster.
    result = fusion.fuse_boxes([[box(0, 0, 10, 10), box(6, 0, 10, 10)], [box(2, 0, 12, 10)]], quorum=0.5)
    assert all(len({k for k, _ in m.members}) == len(m.members) for m in result.marks)
    assert sum(len(m.members) for m in result.marks) == 3


def test_edge_cases_one_annotator_nothing_and_no_answers():
    answer = [box(1, 2, 3, 4), box(20, 20, 5, 5, "dead")]
    one = fusion.fuse_boxes([answer])
    assert one.value == answer and one.confidence == 1.0 and one.agreement == 1.0
    nothing = fusion.fuse_boxes([[], [], []])
    assert (
        nothing.value == [] and nothing.marks == () and nothing.confidence == 1.0 and nothing.agreement == 1.0
    )
    none = fusion.fuse_boxes([])
    assert none.value == [] and none.answers == 0 and math.isnan(none.confidence)


def test_bad_weights_and_quorum_are_refused():
    for weights in ([1], [1, 0], [1, -1], [1, float("nan")]):
        with pytest.raises(ValueError):
            fusion.fuse_boxes([[], []], weights=weights)
    with pytest.raises(ValueError):
        fusion.fuse_boxes([[], []], quorum=0)


def test_the_consensus_is_a_valid_answer():
    answers = [[box(0, 0, 33.33, 10)], [box(0.01, 0, 33.34, 10)], [box(0.02, 0, 33.33, 10)]]
    value = fusion.fuse_boxes(answers, weights=[0.3, 0.3, 0.7]).value
    assert boxes.check_answer(value, ["tree"], width=34, height=10, version=1) == value


def test_the_policy_decides_from_the_fusion():
    t = policy.Thresholds(min_votes=3, max_votes=5, promote_posterior=0.8, promote_agreement=0.7)

    def decide(answers):
        f = fusion.fuse_boxes(answers)
        return policy.decide(
            posterior=f.confidence, agreement=f.agreement, votes=f.answers, needed=3, tie=f.tie, claims=0, t=t
        )

    tree, stray = box(10, 10, 20, 20), box(60, 60, 10, 10)
    assert decide([[tree], [tree], [tree]]) == policy.Decision.PROMOTE
    assert decide([[], [], []]) == policy.Decision.PROMOTE  # agreed: nothing to mark
    assert decide([[tree], [tree, stray], [tree]]) == policy.Decision.MORE  # one annotator saw a tree
    assert decide([[tree], [tree, stray], [tree], [tree]]) == policy.Decision.MORE  # 3 of 4 say no: 0.75
    assert decide([[tree], [tree, stray], [tree], [tree], [tree]]) == policy.Decision.PROMOTE  # 4 of 5
    assert decide([[tree], [tree, stray], [tree], [tree, stray], [tree]]) == policy.Decision.REVIEW


# --- spans ----------------------------------------------------------------------------------------


def test_span_boundaries_and_label_are_voted():
    answers = [[span(0, 5)], [span(0, 6)], [span(1, 6, "org")]]
    result = fusion.fuse_spans(answers)
    assert result.value == [span(0, 6)]
    (mark,) = result.marks
    assert mark.label_share == pytest.approx(2 / 3) and mark.agreement == pytest.approx(1 / 3)
    assert mark.confidence == pytest.approx(2 / 9) and not mark.tie


def test_weights_decide_the_span_vote():
    answers = [[span(0, 5)], [span(0, 6, "org")], [span(0, 6, "org")]]
    assert fusion.fuse_spans(answers, weights=[3, 1, 1]).value == [span(0, 5)]
    assert fusion.fuse_spans(answers).value == [span(0, 6, "org")]


def test_a_boundary_tie_is_reported():
    result = fusion.fuse_spans([[span(0, 5)], [span(0, 6)]])
    assert result.value == [span(0, 5)] and result.tie  # equally near the mean: the shorter


def test_without_overlaps_the_surer_of_two_overlapping_spans_stays():
    answers = [[span(0, 12)], [span(0, 3), span(4, 12)]]
    result = fusion.fuse_spans(answers)
    assert result.value == [span(0, 12)] and result.tie
    assert [m.value for m in result.marks if not m.kept] == [span(0, 3)]
    assert fusion.fuse_spans(answers, overlap=True).value == [span(0, 3), span(0, 12)]


def test_a_spurious_span_is_dropped_and_nothing_agrees_with_nothing():
    result = fusion.fuse_spans([[span(0, 3)], [], []])
    assert result.value == [] and result.confidence == pytest.approx(2 / 3)
    assert fusion.fuse_spans([[span(0, 3)], [span(0, 3)], [span(0, 3), span(10, 12, "org")]]).value == [
        span(0, 3)
    ]
    assert fusion.fuse_spans([[], []]).value == [] and fusion.fuse_spans([[], []]).agreement == 1.0


# --- properties -------------------------------------------------------------------------------

coordinate = st.integers(0, 80)
a_box = st.builds(
    lambda x, y, w, h, label: box(x, y, w, h, label),
    coordinate,
    coordinate,
    st.integers(1, 20),
    st.integers(1, 20),
    st.sampled_from(["tree", "dead"]),
)
box_answer = st.lists(a_box, max_size=5, unique_by=lambda b: tuple(b.values())).map(
    lambda bs: boxes.check_answer(bs, ["tree", "dead"], width=100, height=100, version=1)
)
weight = st.floats(0.1, 5, allow_nan=False)


@st.composite
def span_answer(draw):
    cuts = sorted(draw(st.sets(st.integers(0, 40), max_size=8)))
    pairs = [(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=False) if b > a]
    labels = draw(st.lists(st.sampled_from(["person", "org"]), min_size=len(pairs), max_size=len(pairs)))
    answer = [span(a, b, lab) for (a, b), lab in zip(pairs, labels, strict=True)]
    return spans.check_answer(answer, ["person", "org"], text="x" * 40, overlap=False, version=1)


def valid_span_answer(value):
    return spans.check_answer(value, ["person", "org"], text="x" * 40, overlap=False, version=1) == value


def valid_box_answer(value):
    return boxes.check_answer(value, ["tree", "dead"], width=100, height=100, version=1) == value


KINDS = [
    (fusion.fuse_boxes, box_answer, valid_box_answer),
    (fusion.fuse_spans, span_answer(), valid_span_answer),
]


@pytest.mark.parametrize("fuse, answers, valid", KINDS, ids=["boxes", "spans"])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_the_merge_of_identical_answers_is_the_answer(fuse, answers, valid, data):
    answer, copies = data.draw(answers), data.draw(st.integers(1, 5))
    result = fuse([answer] * copies)
    assert result.value == answer
    assert result.confidence == 1.0 and result.agreement == pytest.approx(1.0) and not result.tie


@pytest.mark.parametrize("fuse, answers, valid", KINDS, ids=["boxes", "spans"])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_the_order_of_the_answers_does_not_matter_and_the_consensus_is_valid(fuse, answers, valid, data):
    votes = data.draw(st.lists(st.tuples(answers, weight), min_size=1, max_size=5))
    shuffled = data.draw(st.permutations(votes))
    one = fuse([a for a, _ in votes], weights=[w for _, w in votes])
    two = fuse([a for a, _ in shuffled], weights=[w for _, w in shuffled])
    assert one.value == two.value
    assert one.confidence == pytest.approx(two.confidence) and one.agreement == pytest.approx(two.agreement)
    assert 0 <= one.agreement <= 1 + 1e-9 and 0 <= one.confidence <= 1
    assert valid(one.value)


# --- annotator weights ---------------------------------------------------------------------------


def test_box_weights_find_the_worse_annotator_from_the_votes_alone():
    from bench.boxes import load_tiles, simulate_votes

    votes = simulate_votes(load_tiles(), seed=3)
    estimated = fusion.box_weights(votes, n_annotators=6)  # annotator 5 never answered
    good, worse = estimated.weights[:4], estimated.weights[4]
    assert worse < good.min() and estimated.answered[5] == 0 and estimated.weights[5] == 1.0
    # Edges stray by 5% of a box for the good annotators and 10% for the worse one.
    assert estimated.spread[:4] == pytest.approx([0.05] * 4, rel=0.15)
    assert estimated.spread[4] == pytest.approx(0.10, rel=0.15)
    assert estimated.spread[5] == pytest.approx(float(np.median(estimated.spread[:5])))


def test_span_weights_are_agreement_with_a_first_consensus():
    items = [{0: [span(0, 3)], 1: [span(0, 3)], 2: []}, {0: [], 1: [], 2: [span(5, 9)]}]
    estimated = fusion.span_weights(items, n_annotators=3)
    assert estimated.spread is None
    assert estimated.weights.tolist() == [1.0, 1.0, fusion.MIN_WEIGHT]


# --- the simulations of issue 23 ------------------------------------------------------------------


def test_box_consensus_on_real_tree_boxes_meets_the_targets():
    from bench.boxes import load_tiles, run

    tiles = load_tiles()
    assert sum(len(t.truth) for t in tiles) == 951
    for seed in (0, 1):
        result = run(seed, tiles)
        quorum = result["Quorum"]
        assert quorum.mean_iou >= 0.9 and quorum.f1 >= 0.95, quorum
        assert quorum.mean_iou > result["best single (by mean IoU)"].mean_iou
        assert quorum.f1 > result["best single (by F1)"].f1


def test_span_consensus_on_generated_sentences_beats_the_best_annotator_by_five_points():
    from bench.spans import run

    for seed in (0, 1):
        result = run(seed, 200)
        assert result["Quorum"].f1 >= result["best single"].f1 + 0.05, result
