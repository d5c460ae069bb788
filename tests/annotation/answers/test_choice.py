"""Choice answers: one check for labeling, import and the reports."""

import pytest

from annotation.answers.choice import AnswerInvalid, check_answer, check_gold, nominal_key

KEYS = ["cat", "dog", "bird"]


def test_single_choice_takes_one_known_key():
    assert check_answer("dog", "", "", KEYS, multi=False, version=2) == "dog"
    with pytest.raises(AnswerInvalid, match=r"'fox' is not in rulebook v2; its labels are cat, dog, bird") as e:
        check_answer("fox", "", "", KEYS, multi=False, version=2)
    assert e.value.field == "value"
    with pytest.raises(AnswerInvalid, match="Choose one label"):
        check_answer(["cat"], "", "", KEYS, multi=False, version=2)


def test_multiple_choice_is_distinct_keys_in_rulebook_order():
    assert check_answer(["bird", "cat", "bird"], "", "", KEYS, multi=True, version=1) == ["cat", "bird"]
    assert check_answer("dog", "", "", KEYS, multi=True, version=1) == ["dog"]
    with pytest.raises(AnswerInvalid, match="'fox', 'owl' are not in rulebook v1"):
        check_answer(["fox", "owl", "cat"], "", "", KEYS, multi=True, version=1)


def test_a_claim_needs_a_reason_and_no_label():
    assert check_answer(None, "no_fit", "a horse", KEYS, multi=False, version=1) is None
    with pytest.raises(AnswerInvalid) as e:
        check_answer(None, "no_fit", "  ", KEYS, multi=False, version=1)
    assert e.value.field == "claim_reason"
    with pytest.raises(AnswerInvalid, match="A claim carries no label"):
        check_answer("cat", "do_not_label", "private", KEYS, multi=False, version=1)
    with pytest.raises(AnswerInvalid, match="Unknown claim"):
        check_answer(None, "maybe", "x", KEYS, multi=False, version=1)


def test_gold_from_an_import():
    assert check_gold("", KEYS, multi=False, version=1) is None
    assert check_gold(" dog ", KEYS, multi=False, version=1) == "dog"
    assert check_gold(["cat", "dog"], KEYS, multi=True, version=1) == ["cat", "dog"]
    assert check_gold("anything", None, multi=False, version=None) == "anything"  # no rulebook yet
    for bad, message in (
        (["cat", "dog"], "single choice"),
        ("fox", r"'fox' is not a label of rulebook v1 \(cat, dog, bird\)"),
        ({"a": 1}, "must be a label key"),
        (True, "must be a label key"),
    ):
        with pytest.raises(AnswerInvalid, match=message) as e:
            check_gold(bad, KEYS, multi=False, version=1)
        assert e.value.field == "gold"


def test_nominal_key_is_one_category_per_answer():
    assert nominal_key("cat") == "cat"
    assert nominal_key(["dog", "cat"]) == nominal_key(["cat", "dog"]) == "cat+dog"
