"""Span answers (annotation/answers/spans.py): validation with its messages, overlap, matching,
strict and overlap comparison, and per-item agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation.answers import marks, spans
from annotation.answers.choice import AnswerInvalid

KEYS = ["person", "org", "place"]
TEXT = "Ada Lovelace met Charles Babbage in London."
#       Ada 0–3, Lovelace 4–12, met 13–16, Charles 17–24, Babbage 25–32, London 36–42, "." 42–43


def check(value, *, text=TEXT, overlap=False, keys=KEYS, **kwargs):
    return spans.check_answer(value, keys, text=text, overlap=overlap, version=2, **kwargs)


def span(start, end, label="person"):
    return {"start": start, "end": end, "label": label}


def invalid(value, **kwargs):
    with pytest.raises(AnswerInvalid) as caught:
        check(value, **kwargs)
    return caught.value.field, caught.value.message


# --- validation ---------------------------------------------------------------------------------


def test_a_valid_answer_is_sorted_and_checks_again_unchanged():
    answer = check([span(36, 42, "place"), span(0, 12), span(17, 32)])
    assert answer == [span(0, 12), span(17, 32), span(36, 42, "place")]
    assert [TEXT[s["start"] : s["end"]] for s in answer] == ["Ada Lovelace", "Charles Babbage", "London"]
    assert check(answer) == answer


def test_whitespace_at_the_ends_of_a_span_is_trimmed():
    assert check([span(12, 25)]) == [span(13, 24)] and TEXT[13:24] == "met Charles"
    assert check([span(3, 13)]) == [span(4, 12)]  # " Lovelace " → "Lovelace"
    assert invalid([span(12, 13)]) == ("value[0]", "Span 1 covers only whitespace.")


def test_nothing_to_mark_is_an_answer_and_no_answer_is_not():
    assert check([]) == []
    assert invalid(None)[0] == "value" and "nothing to mark here" in invalid(None)[1]


def test_offsets_must_lie_within_the_text_with_start_before_end():
    assert invalid([span(36, 44)]) == (
        "value[0].end", "Span 1 (36–44) is not within the text's 43 characters with start before end."
    )  # fmt: skip
    assert invalid([span(-1, 3)])[0] == "value[0].start"
    assert invalid([span(5, 5)])[0] == "value[0].end"
    assert invalid([span(6, 4)])[0] == "value[0].end"
    assert invalid([span(0, 3), span(0.5, 3)]) == (
        "value[1].start",
        "Span 2: start must be a whole number of characters.",
    )
    assert invalid([span(0, True)])[0] == "value[0].end"
    assert invalid([{"start": 0, "end": 3, "label": "person", "text": "Ada"}])[0] == "value[0]"
    assert check([span(np.int64(0), np.int32(3))]) == [span(0, 3)]


def test_overlaps_only_when_the_rulebook_allows_them():
    nested = [span(17, 32), span(25, 32, "place")]
    assert invalid(nested) == (
        "value[1]",
        "Span 2 overlaps span 1; this rulebook does not allow overlapping spans.",
    )
    assert check(nested, overlap=True) == nested
    # Touching is not overlapping: the end is excluded.
    assert check([span(0, 3), span(4, 12)]) == [span(0, 3), span(4, 12)]
    # A span that overlaps an earlier, longer one is caught even when one between does not.
    assert invalid([span(0, 32), span(4, 12), span(17, 24)])[0] == "value[1]"


def test_the_same_span_twice_is_refused_even_with_overlaps():
    assert invalid([span(0, 3), span(0, 3)], overlap=True) == ("value[1]", "Span 2 repeats span 1.")
    assert invalid([span(0, 3), span(0, 4)], overlap=True) == (
        "value[1]",
        "Span 2 repeats span 1.",
    )  # trimmed
    assert check([span(0, 3), span(0, 3, "org")], overlap=True) == [span(0, 3, "org"), span(0, 3)]


def test_labels_come_from_the_rulebook():
    assert invalid([span(0, 3, "thing")]) == (
        "value[0].label", "Label 'thing' is not in rulebook v2; its labels are person, org, place."
    )  # fmt: skip
    assert check([{"start": 0, "end": 3}], keys=["person"]) == [span(0, 3)]
    assert invalid([span(i, i + 1) for i in range(0, 12, 2) if TEXT[i] != " "], max_spans=2)[0] == "value"


def test_offsets_count_code_points_not_utf16_units():
    text = "🌲 Pine"  # the emoji is one code point, two UTF-16 units
    assert check([span(2, 6, "place")], text=text) == [span(2, 6, "place")]
    assert text[2:6] == "Pine"


# --- comparison ---------------------------------------------------------------------------------


def test_overlap_by_hand():
    a = spans.ranges([span(0, 12)])
    b = spans.ranges([span(4, 12), span(0, 3), span(17, 24), span(0, 12)])
    assert np.allclose(marks.iou_matrix(a, b), [[8 / 12, 3 / 12, 0.0, 1.0]])


def test_strict_and_overlap_comparison():
    a = [span(0, 12), span(17, 32), span(36, 42, "place")]
    b = [span(4, 12), span(17, 32), span(36, 42, "org")]
    loose = spans.compare(a, b)
    assert loose.pairs == 2 and loose.overlap == pytest.approx(8 / 12 + 1)  # the place/org pair is a miss
    assert loose.f1 == pytest.approx(4 / 6)
    strict = spans.compare(a, b, exact=True)
    assert strict.pairs == 1 and strict.f1 == pytest.approx(2 / 6)
    assert spans.compare(a, b, labels=False, exact=True).pairs == 2
    assert spans.compare(a, b, min_iou=0.7).pairs == 1


def test_any_shared_character_pairs_two_spans_by_default():
    assert spans.compare([span(0, 12)], [span(11, 24)]).pairs == 1
    assert spans.compare([span(0, 3)], [span(4, 12)]).pairs == 0


def test_agreement_edge_cases():
    assert spans.agreement([[], []]).similarity == 1.0
    assert math.isnan(spans.agreement([[span(0, 3)]]).similarity)
    three = spans.agreement([[span(0, 12)], [span(0, 12)], [span(4, 12)]], exact=True)
    assert three.matched_share == pytest.approx(2 / 6) and three.mean_iou == 1.0


# --- properties -------------------------------------------------------------------------------

words = st.lists(
    st.sampled_from(["Ada", "met", "the", "Duke", "of", "York", "in", "1843", ","]), min_size=1, max_size=12
)


@st.composite
def text_and_answer(draw, overlap=False):
    text = " ".join(draw(words))
    raw = draw(
        st.lists(
            st.tuples(st.integers(0, len(text) - 1), st.integers(1, 8), st.sampled_from(KEYS)), max_size=5
        )
    )
    answer = []
    for start, length, label in raw:
        end = min(start + length, len(text))
        if text[start:end].strip():
            answer.append(span(start, end, label))
    try:
        return text, check(answer, text=text, overlap=overlap)
    except AnswerInvalid:
        return text, []


@settings(max_examples=200, deadline=None)
@given(text_and_answer(overlap=True))
def test_checking_is_idempotent_and_order_free(pair):
    text, answer = pair
    assert check(answer, text=text, overlap=True) == answer
    assert check(list(reversed(answer)), text=text, overlap=True) == answer
    for s in answer:
        assert not text[s["start"]].isspace() and not text[s["end"] - 1].isspace()


@settings(max_examples=200, deadline=None)
@given(text_and_answer(overlap=True), text_and_answer(overlap=True))
def test_comparison_is_symmetric_and_bounded(one, two):
    a, b = one[1], two[1]
    iou = marks.iou_matrix(spans.ranges(a), spans.ranges(b))
    assert np.all((iou >= 0) & (iou <= 1))
    for exact in (False, True):
        ab, ba = spans.compare(a, b, exact=exact), spans.compare(b, a, exact=exact)
        assert ab.pairs == ba.pairs and ab.similarity == pytest.approx(ba.similarity)
        assert 0 <= ab.f1 <= 1 and 0 <= ab.distance <= 1
    assert spans.distance(a, a) == 0.0
