"""Box answers (annotation/answers/boxes.py): validation with its messages, IoU, Hungarian
matching, comparison and per-item agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation.answers import boxes, marks
from annotation.answers.choice import AnswerInvalid

KEYS = ["tree", "dead"]


def check(value, *, width=100, height=80, keys=KEYS, **kwargs):
    return boxes.check_answer(value, keys, width=width, height=height, version=3, **kwargs)


def box(x, y, w, h, label="tree"):
    return {"x": x, "y": y, "w": w, "h": h, "label": label}


def invalid(value, **kwargs):
    with pytest.raises(AnswerInvalid) as caught:
        check(value, **kwargs)
    return caught.value.field, caught.value.message


# --- validation ---------------------------------------------------------------------------------


def test_a_valid_answer_is_rounded_and_sorted_top_to_bottom():
    answer = check([box(50, 40.123456, 10, 10, "dead"), box(1, 2, 3.3333, 4)])
    assert answer == [box(1, 2, 3.33, 4), box(50, 40.12, 10, 10, "dead")]
    assert check(answer) == answer  # a stored answer checks again unchanged


def test_nothing_to_mark_is_an_answer_and_no_answer_is_not():
    assert check([]) == []
    for missing in (None, ""):
        field, message = invalid(missing)
        assert field == "value" and "nothing to mark here" in message


def test_each_bad_field_is_named_with_its_box():
    assert invalid([box(1, 1, 5, 5), box(1, 1, 0, 5)]) == (
        "value[1].w", "Box 2 is 0×5 pixels; a box is at least 1 pixel wide and high."
    )  # fmt: skip
    assert invalid([box(1, 1, 5, 0.4)])[0] == "value[0].h"
    assert invalid([box(-1, 1, 5, 5)]) == (
        "value[0].x",
        "Box 1 reaches outside the 100×80 image (x from -1 to 4).",
    )
    assert invalid([box(1, 76, 5, 5)])[0] == "value[0].y"
    assert invalid([box("1", 1, 5, 5)]) == ("value[0].x", "Box 1: x must be a number of pixels.")
    assert invalid([box(True, 1, 5, 5)])[0] == "value[0].x"
    assert invalid([box(float("nan"), 1, 5, 5)])[0] == "value[0].x"
    assert invalid([{"x": 1, "y": 1, "w": 5, "label": "tree"}])[0] == "value[0].h"
    assert invalid([{**box(1, 1, 5, 5), "id": 7}]) == (
        "value[0]",
        "Unknown field 'id'; a box has x, y, w, h, label.",
    )
    assert invalid(["1,1,5,5"])[0] == "value[0]"
    assert invalid({"x": 1})[0] == "value"


def test_a_box_may_touch_the_edges_of_the_image():
    assert check([box(0, 0, 100, 80)]) == [box(0, 0, 100, 80)]


def test_labels_come_from_the_rulebook():
    assert invalid([box(1, 1, 5, 5, "cat")]) == (
        "value[0].label", "Label 'cat' is not in rulebook v3; its labels are tree, dead."
    )  # fmt: skip
    assert invalid([box(1, 1, 5, 5, "")])[0] == "value[0].label"
    # With one label there is nothing to choose: it may be left out.
    assert check([{"x": 1, "y": 1, "w": 5, "h": 5}], keys=["tree"]) == [box(1, 1, 5, 5)]


def test_a_box_drawn_twice_and_too_many_boxes_are_refused():
    assert invalid([box(1, 1, 5, 5), box(9, 9, 5, 5), box(1, 1, 5, 5)]) == (
        "value[2]",
        "Box 3 repeats box 1.",
    )
    assert check([box(1, 1, 5, 5), box(1, 1, 5, 5, "dead")])  # same place, another label: two boxes
    assert invalid([box(i, 1, 5, 5) for i in range(4)], max_boxes=3) == (
        "value", "At most 3 boxes in one answer; this one has 4."
    )  # fmt: skip


def test_numpy_numbers_are_numbers():
    assert check([box(np.int64(1), np.float32(2.5), np.float64(3), 4)]) == [box(1, 2.5, 3, 4)]


def test_the_image_size_must_be_known():
    with pytest.raises(ValueError):
        check([box(1, 1, 5, 5)], width=0)


# --- IoU, matching and comparison ------------------------------------------------------------


def test_iou_by_hand():
    a = boxes.corners([box(0, 0, 10, 10)])
    b = boxes.corners([box(5, 0, 10, 10), box(0, 0, 10, 10), box(20, 20, 5, 5), box(0, 0, 5, 5)])
    assert np.allclose(marks.iou_matrix(a, b), [[50 / 150, 1.0, 0.0, 25 / 100]])


def test_hungarian_matching_beats_greedy():
    # Greedy (best IoU first) pairs a1 with b1 (0.9), and a2's other candidate b2 is under 0.5:
    # one pair. The optimum pairs a1–b2 (0.83) and a2–b1 (0.55): both boxes find a partner.
    a = [box(10, 0, 10, 10), box(14, 0, 8, 10)]
    b = [box(11, 0, 9, 10), box(8, 0, 12, 10)]
    iou = marks.iou_matrix(boxes.corners(a), boxes.corners(b))
    assert np.allclose(iou, [[0.9, 10 / 12], [6 / 11, 6 / 14]])
    c = boxes.compare(a, b)
    assert c.pairs == 2 and c.f1 == 1.0 and c.overlap == pytest.approx(10 / 12 + 6 / 11)


def test_compare_figures_by_hand():
    a = [box(0, 0, 10, 10), box(50, 50, 10, 10)]
    b = [box(5, 0, 10, 10), box(0, 0, 10, 8), box(70, 70, 5, 5)]
    c = boxes.compare(a, b)
    # (0,0,10,10) pairs with (0,0,10,8) at IoU 0.8; (5,0) at 1/3 is under 0.5; the others meet nothing.
    assert (c.size_a, c.size_b, c.pairs) == (2, 3, 1)
    assert c.mean_iou == pytest.approx(0.8)
    assert c.f1 == pytest.approx(2 / 5)
    assert c.similarity == pytest.approx(2 * 0.8 / 5) and c.distance == pytest.approx(1 - 1.6 / 5)
    assert boxes.compare(a, b, min_iou=0.3).pairs == 1  # one-to-one: (0,0) is taken by the better pair


def test_labels_must_agree_unless_told_otherwise():
    a, b = [box(0, 0, 10, 10)], [box(0, 0, 10, 10, "dead")]
    assert boxes.compare(a, b).pairs == 0 and boxes.distance(a, b) == 1.0
    assert boxes.compare(a, b, labels=False).pairs == 1


def test_empty_answers_agree_with_each_other_and_with_nothing_else():
    assert boxes.compare([], []).f1 == 1.0 and boxes.distance([], []) == 0.0
    assert math.isnan(boxes.compare([], []).mean_iou)
    assert boxes.compare([], [box(0, 0, 5, 5)]).f1 == 0.0 and boxes.distance([box(0, 0, 5, 5)], []) == 1.0


def test_item_agreement_over_three_annotators():
    a = [box(0, 0, 10, 10)]
    b = [box(0, 0, 10, 8)]
    c = [box(0, 0, 10, 10), box(50, 50, 10, 10)]
    agreement = boxes.agreement([a, b, c])
    # pairs: a–b 0.8 (1 of 2 marks each side), a–c 1.0 (1 pair, 3 marks), b–c 0.8 (1 pair, 3 marks)
    assert agreement.answers == 3
    assert agreement.mean_iou == pytest.approx((0.8 + 1.0 + 0.8) / 3)
    assert agreement.matched_share == pytest.approx(6 / 8)
    assert agreement.similarity == pytest.approx((0.8 + 2 * 1.0 / 3 + 2 * 0.8 / 3) / 3)


def test_item_agreement_edge_cases():
    one = boxes.agreement([[box(0, 0, 5, 5)]])
    assert one.answers == 1 and math.isnan(one.similarity) and math.isnan(one.matched_share)
    nothing = boxes.agreement([[], [], []])
    assert nothing.similarity == 1.0 and nothing.matched_share == 1.0 and math.isnan(nothing.mean_iou)
    same = boxes.agreement([[box(1, 2, 3, 4)]] * 4)
    assert (same.similarity, same.matched_share, same.mean_iou) == (1.0, 1.0, 1.0)


# --- properties -------------------------------------------------------------------------------

coordinate = st.floats(0, 90, allow_nan=False).map(lambda v: round(v, 2))
side = st.floats(1, 40, allow_nan=False).map(lambda v: round(v, 2))
a_box = st.builds(
    lambda x, y, w, h, label: box(min(x, round(100 - w, 2)), min(y, round(80 - h, 2)), w, h, label),
    coordinate, coordinate, side, side, st.sampled_from(KEYS),
)  # fmt: skip
an_answer = st.lists(a_box, max_size=6).map(
    lambda bs: check([b for i, b in enumerate(bs) if b not in bs[:i]])
)


@settings(max_examples=200, deadline=None)
@given(an_answer)
def test_checking_is_idempotent(answer):
    assert check(answer) == answer
    assert check(list(reversed(answer))) == answer  # the order boxes were drawn in does not matter


@settings(max_examples=200, deadline=None)
@given(an_answer, an_answer)
def test_iou_and_comparison_are_symmetric_and_bounded(a, b):
    iou = marks.iou_matrix(boxes.corners(a), boxes.corners(b))
    assert np.all((iou >= 0) & (iou <= 1 + 1e-12))
    assert np.allclose(iou, marks.iou_matrix(boxes.corners(b), boxes.corners(a)).T)
    ab, ba = boxes.compare(a, b), boxes.compare(b, a)
    assert ab.pairs == ba.pairs and ab.overlap == pytest.approx(ba.overlap)
    assert 0 <= ab.distance <= 1 + 1e-12 and 0 <= ab.f1 <= 1
    assert boxes.distance(a, a) == pytest.approx(0.0)
