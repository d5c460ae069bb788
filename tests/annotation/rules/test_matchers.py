"""Labeling rules: parsing with errors that name the field, each kind of condition, RE2's safety."""

import re
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation.rules import matchers as m
from annotation.rules.matchers import ABSTAIN, Keywords, Metadata, Model, Regex, Rule, RuleInvalid

LABELS = ["pos", "neg"]


def fires(condition, texts=None, metadata=None, predictions=None):
    matrix = m.apply([Rule("pos", condition)], labels=LABELS, texts=texts, metadata=metadata, predictions=predictions)
    return [bool(x) for x in matrix[:, 0] == 0]


def test_keywords_whole_words_and_case():
    texts = ["A refund, please", "refunded already", "REFUND", "no mention", "prefund"]
    assert fires(Keywords(("refund",)), texts) == [True, False, True, False, False]
    assert fires(Keywords(("refund",), whole_words=False), texts) == [True, True, True, False, True]
    assert fires(Keywords(("refund",), case_sensitive=True), texts) == [True, False, False, False, False]


def test_keyword_phrases_match_any_whitespace_and_non_word_edges():
    texts = ["a must\n  see film", "a mustsee", "I love c++!", "c+++", "nice :)", "x:)y"]
    assert fires(Keywords(("a must see",)), texts) == [True, False, False, False, False, False]
    # "c++" ends in a non-word character: its end needs no boundary, its start does.
    assert fires(Keywords(("c++",)), texts) == [False, False, True, True, False, False]
    assert fires(Keywords((":)",)), texts) == [False, False, False, False, True, True]


def test_keyword_boundaries_hold_in_any_script():
    # RE2's own \b is ASCII: it would find "кот" inside "котик" and "caf" inside "café".
    texts = ["котик спит", "кот спит", "un café", "Über alles", "ÜBER", "überall"]
    assert fires(Keywords(("кот",)), texts) == [False, True, False, False, False, False]
    assert fires(Keywords(("caf",)), texts) == [False, False, False, False, False, False]
    assert fires(Keywords(("über",)), texts) == [False, False, False, True, True, False]


def test_regex_searches_with_case_option():
    texts = ["Not good at all", "not  great", "good", None]
    assert fires(Regex(r"\bnot\s+(good|great)\b"), texts) == [True, True, False, False]
    assert fires(Regex(r"\bnot\s+(good|great)\b", case_sensitive=True), texts) == [False, True, False, False]


@pytest.mark.parametrize(
    "data, field, words",
    [
        ({"kind": "regex", "label": "pos", "params": {"pattern": r"(a)\1"}}, "params.pattern", "back"),
        ({"kind": "regex", "label": "pos", "params": {"pattern": "(?=a)b"}}, "params.pattern", "RE2"),
        ({"kind": "regex", "label": "pos", "params": {"pattern": "((a{50}){50}){50}"}}, "params.pattern", "RE2"),
        ({"kind": "regex", "label": "pos", "params": {"pattern": "a" * 1001}}, "params.pattern", "1000"),
        ({"kind": "regex", "label": "pos", "params": {}}, "params.pattern", "Required"),
        ({"kind": "keywords", "label": "pos", "params": {"words": "refund"}}, "params.words", "list"),
        ({"kind": "keywords", "label": "pos", "params": {"words": ["a", " "]}}, "params.words[1]", "non-empty"),
        ({"kind": "keywords", "label": "pos", "params": {"words": ["a"] * 501}}, "params.words", "500"),
        ({"kind": "keywords", "label": "pos", "params": {"words": ["x" * 101]}}, "params.words[0]", "100"),
        ({"kind": "keywords", "label": "pos", "params": {"words": ["a"], "whole_words": "yes"}}, "params.whole_words", "true"),
        ({"kind": "keywords", "label": "pos", "params": {"words": ["a"], "colour": 1}}, "params.colour", "Not a parameter"),
        ({"kind": "metadata", "label": "pos", "params": {"field": "x", "operator": "~", "value": 1}}, "params.operator", "Unknown"),
        ({"kind": "metadata", "label": "pos", "params": {"field": "", "operator": "=", "value": 1}}, "params.field", "field"),
        ({"kind": "metadata", "label": "pos", "params": {"field": "x", "operator": "in", "value": 3}}, "params.value", "list"),
        ({"kind": "metadata", "label": "pos", "params": {"field": "x", "operator": "in", "value": [1, {}]}}, "params.value[1]", "number"),
        ({"kind": "metadata", "label": "pos", "params": {"field": "x", "operator": "<", "value": True}}, "params.value", "true/false"),
        ({"kind": "metadata", "label": "pos", "params": {"field": "x", "operator": "=", "value": float("nan")}}, "params.value", "finite"),
        ({"kind": "model", "label": "pos", "params": {"label": "pos", "min_confidence": 1.5}}, "params.min_confidence", "between"),
        ({"kind": "model", "label": "pos", "params": {"label": "cat", "min_confidence": 0.9}}, "params.label", "not a label"),
        ({"kind": "keywords", "label": "cat", "params": {"words": ["a"]}}, "label", "pos, neg"),
        ({"kind": "script", "label": "pos", "params": {}}, "kind", "keywords, regex"),
        ({"kind": "keywords", "label": "pos"}, "params", "object"),
    ],
)
def test_invalid_rules_name_the_field(data, field, words):
    with pytest.raises(RuleInvalid) as caught:
        m.parse_rule(data, labels=LABELS)
    assert caught.value.field == field
    assert words.lower() in caught.value.message.lower()


def test_rules_round_trip_through_their_json_form():
    rules = [
        Rule("pos", Keywords(("refund", "money back"), whole_words=False, case_sensitive=True)),
        Rule("neg", Regex(r"\d{3}-\d{4}")),
        Rule("neg", Metadata("camera", "in", (7, "7b"))),
        Rule("pos", Metadata("stars", "≥", 4)),
        Rule("pos", Model("pos", 0.9)),
    ]
    assert [m.parse_rule(r.as_dict(), labels=LABELS) for r in rules] == rules
    assert rules[3].condition.operator == ">="  # the alias is stored in its ASCII form
    assert [r.kind for r in rules] == ["keywords", "regex", "metadata", "metadata", "model"]


@pytest.mark.parametrize(
    "operator, value, item_values, expected",
    [
        # numbers and number-like strings compare as numbers; booleans are not numbers
        ("=", 7, [7, 7.0, "7", "07", " 7 ", "7b", True, None, [7]], [1, 1, 1, 1, 1, 0, 0, 0, 0]),
        ("!=", 7, [7, "8", "Canon", True, None], [0, 1, 1, 1, 0]),
        ("<", 10, [2, "2", "10", 10.5, "abc", None, False], [1, 1, 0, 0, 0, 0, 0]),
        ("<=", 2.5, [2.5, "2.5e0", 3], [1, 1, 0]),
        # text compares exactly, in code-point order (ISO dates order correctly)
        ("=", "Canon", ["Canon", "canon", "Canon ", 5], [1, 0, 0, 0]),
        (">=", "2024-06-01", ["2024-06-01T08:00", "2024-05-31", "2025", 2030], [1, 0, 1, 0]),
        # booleans, also when imported as text
        ("=", True, [True, "true", "TRUE", 1, "yes", False], [1, 1, 1, 0, 0, 0]),
        ("in", (7, "night"), [7, "7", "night", "Night", 8, None], [1, 1, 1, 0, 0, 0]),
        ("contains", "refund", ["a refund", "Refund", ["refund", "x"], ["refunds"], 5], [1, 0, 1, 0, 0]),
        ("contains", 3, [[1, 3], ["3"], [4], "3"], [1, 1, 0, 0]),
        ("exists", True, ["x", 0, False, "", None], [1, 1, 1, 1, 0]),
        ("exists", False, ["x", None], [0, 1]),
    ],
)
def test_metadata_comparison_rules(operator, value, item_values, expected):
    metadata = [{"f": v} if v is not None else {} for v in item_values]
    assert fires(Metadata("f", operator, value), metadata=metadata) == [bool(x) for x in expected]


def test_metadata_missing_field_and_missing_metadata_abstain():
    assert fires(Metadata("f", "!=", 1), metadata=[None, {}, {"f": None}, {"g": 2}]) == [False] * 4


def test_model_rule_uses_the_named_labels_confidence():
    predictions = np.array([[0.95, 0.05], [0.9, 0.1], [0.89, 0.11], [np.nan, np.nan], [0.0, 1.0]])
    assert fires(Model("pos", 0.9), predictions=predictions) == [True, True, False, False, False]
    # a rule may vote another label than the one the model names
    matrix = m.apply([Rule("pos", Model("neg", 0.5))], labels=LABELS, predictions=predictions)
    assert matrix[:, 0].tolist() == [ABSTAIN] * 4 + [0]


def test_rules_needing_absent_inputs_abstain_but_text_rules_need_texts():
    rules = [Rule("neg", Metadata("f", "exists", True)), Rule("pos", Model("pos", 0.1))]
    assert (m.apply(rules, labels=LABELS, n_items=3) == ABSTAIN).all()
    with pytest.raises(ValueError, match="texts"):
        m.apply([Rule("pos", Keywords(("a",)))], labels=LABELS, metadata=[{}])
    with pytest.raises(ValueError, match="2 labels"):
        m.apply(rules, labels=LABELS, predictions=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="disagree"):
        m.apply(rules, labels=LABELS, metadata=[{}], predictions=np.zeros((2, 2)))


def test_matrix_columns_follow_the_rules_and_vote_their_labels():
    rules = [
        Rule("neg", Keywords(("bad",))),
        Rule("pos", Metadata("stars", ">", 3)),
        Rule("pos", Regex("great|good")),
        Rule("neg", Keywords(("awful", "bad"))),
    ]
    texts = ["bad", "great", "awful and bad, but good", "nothing"]
    metadata = [{"stars": 1}, {"stars": 5}, {"stars": "4"}, {}]
    matrix = m.apply(rules, labels=LABELS, texts=texts, metadata=metadata)
    assert matrix.tolist() == [[1, -1, -1, 1], [-1, 0, 0, -1], [1, 0, 0, 1], [-1, -1, -1, -1]]
    assert matrix.dtype == np.int16


def test_no_rules_and_no_items():
    assert m.apply([], labels=LABELS, texts=["a", "b"]).shape == (2, 0)
    assert m.apply([Rule("pos", Keywords(("a",)))], labels=LABELS, texts=[]).shape == (0, 1)


def test_texts_are_read_up_to_the_limit():
    far = "x " * (m.MAX_TEXT_CHARS // 2) + "refund"
    assert fires(Keywords(("refund",)), [far, far[-100:]]) == [False, True]


CATASTROPHIC = [r"(a+)+$", r"(a|aa)*c", r"(x+x+)+y", r"^(\w+\s?)*$", r"(.*a){12}"]


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_catastrophic_pattern_on_100kB_returns_in_bounded_time(pattern):
    """Python's own re takes exponential time on these (seconds at 25 characters, ages at 100 kB);
    RE2 scans in linear time. The bound is generous for a shared 2-core machine."""
    text = "a" * 50_000 + "x" * 50_000 + "!"
    rule = Rule("pos", Regex(pattern))
    started = time.perf_counter()
    matrix = m.apply([rule], labels=LABELS, texts=[text, "aaac"])
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"{pattern} took {elapsed:.2f} s"
    assert matrix.shape == (2, 1)


def test_catastrophic_pattern_gives_the_right_answer():
    text = "a" * 100_000 + "b"
    rules = [Rule("pos", Regex(r"(a+)+$")), Rule("pos", Regex(r"(a+)+b$")), Rule("neg", Regex(r"(a|aa)*c"))]
    assert m.apply(rules, labels=LABELS, texts=[text]).tolist() == [[-1, 0, -1]]


def test_rule_by_rule_fallback_agrees_with_the_set():
    rules = [Rule("pos", Keywords(("great", "c++"))), Rule("neg", Regex(r"\bnot\s+good")), Rule("neg", Keywords(("кот",)))]
    compiled = m.compile_rules(rules, labels=LABELS)
    texts = ["great", "not good, c++", "кот", "nothing here", "котик not  good"]
    for text in texts:
        assert compiled.search_each(text) == sorted(compiled._set.Match(text))


words = st.text(alphabet="abé_1 ", min_size=1, max_size=4).filter(lambda w: w.strip() and " " not in w)


@settings(max_examples=200, deadline=None)
@given(keywords=st.lists(words, min_size=1, max_size=4), text=st.text(alphabet="abAé_1 .,\n", max_size=30),
       whole=st.booleans(), case=st.booleans())  # fmt: skip
def test_keywords_agree_with_a_reference_search(keywords, text, whole, case):
    """Python's re (Unicode \\w, no backtracking risk on literals) as the reference."""
    flags = 0 if case else re.IGNORECASE
    expected = False
    for word in keywords:
        body = re.escape(word)
        if whole:
            body = (r"(?<!\w)" if re.match(r"\w", word[0]) else "") + body + (r"(?!\w)" if re.match(r"\w", word[-1]) else "")
        expected = expected or re.search(body, text, flags) is not None
    assert fires(Keywords(tuple(keywords), whole_words=whole, case_sensitive=case), [text]) == [expected]
