"""Rule statistics: Snorkel's LFAnalysis definitions, checked against Snorkel's own figures."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from annotation.rules.stats import UNKNOWN, disagreements, rule_stats, wilson_interval

SNORKEL = Path(__file__).resolve().parents[2] / "data" / "snorkel" / "lfanalysis.json"

# The example of Snorkel's LFAnalysis docstrings, with the figures they print.
L = np.array([[-1, 0, 0], [-1, -1, -1], [1, 0, -1], [-1, 0, -1], [0, 0, 0]])


def test_snorkel_docstring_example():
    s = rule_stats(L)
    assert s.coverage.tolist() == pytest.approx([0.4, 0.8, 0.4])
    assert s.overlaps.tolist() == pytest.approx([0.4, 0.6, 0.4])
    assert s.conflicts.tolist() == pytest.approx([0.2, 0.2, 0.0])
    assert (s.label_coverage, s.label_overlap, s.label_conflict) == pytest.approx((0.8, 0.6, 0.2))
    assert s.polarity == ((0, 1), (0,), (0,))
    assert np.isnan(s.accuracy).all() and (s.judged == 0).all()


def test_equals_snorkel_lfanalysis_on_the_same_matrices():
    data = json.loads(SNORKEL.read_text())
    assert len(data["cases"]) == 5
    for case in data["cases"]:
        s = rule_stats(np.array(case["L"]), truth=np.array(case["Y"]))
        assert [list(p) for p in s.polarity] == case["polarity"]
        for ours, theirs in [(s.coverage, "coverage"), (s.overlaps, "overlaps"), (s.conflicts, "conflicts")]:
            np.testing.assert_allclose(ours, case[theirs], atol=1e-12, err_msg=f"seed {case['seed']}: {theirs}")
        assert (s.label_coverage, s.label_overlap, s.label_conflict) == pytest.approx(
            (case["label_coverage"], case["label_overlap"], case["label_conflict"]))
        assert s.correct.tolist() == case["correct"] and s.incorrect.tolist() == case["incorrect"]
        # Snorkel shows 0 for a rule that never fired; we say "not measured"
        np.testing.assert_allclose(np.nan_to_num(s.accuracy), case["empirical_accuracy"], atol=1e-12)
        assert np.isnan(s.accuracy[s.judged == 0]).all()


def test_accuracy_leaves_out_items_without_truth():
    matrix = np.array([[0, 1], [0, -1], [1, 1], [0, 0]])
    truth = np.array([0, 1, UNKNOWN, UNKNOWN])
    s = rule_stats(matrix, truth=truth)
    assert s.judged.tolist() == [2, 1]
    assert s.correct.tolist() == [1, 0] and s.incorrect.tolist() == [1, 1]
    assert s.accuracy.tolist() == [0.5, 0.0]
    assert disagreements(matrix, truth=truth, rule=0).tolist() == [1]
    assert disagreements(matrix, truth=truth, rule=1).tolist() == [0]


def test_wilson_interval_hand_computed():
    low, high = wilson_interval(np.array([8, 0, 10, 0]), np.array([10, 10, 10, 0]))
    # 8/10: (0.8 + 1.92/10)/(1 + 3.8415/10) ± … = 0.4902 … 0.9433 (Wilson 1927, z = 1.96)
    assert low[0] == pytest.approx(0.4902, abs=1e-4) and high[0] == pytest.approx(0.9433, abs=1e-4)
    assert low[1] == pytest.approx(0) and high[1] == pytest.approx(0.2775, abs=1e-4)
    assert high[2] == pytest.approx(1) and low[2] == pytest.approx(0.7225, abs=1e-4)
    assert np.isnan(low[3]) and np.isnan(high[3])


def test_edge_cases_no_rules_all_abstain_one_rule():
    none = rule_stats(np.empty((4, 0), dtype=int))
    assert none.polarity == () and none.label_coverage == 0.0
    silent = rule_stats(np.full((3, 2), -1), truth=np.array([0, 1, 0]))
    assert silent.coverage.tolist() == [0, 0] and silent.label_overlap == 0 and np.isnan(silent.accuracy).all()
    one = rule_stats(np.array([[1], [-1], [1]]), truth=np.array([1, 1, 0]))
    assert one.coverage.tolist() == pytest.approx([2 / 3]) and one.overlaps.tolist() == [0] and one.conflicts.tolist() == [0]
    assert one.accuracy.tolist() == [0.5]
    empty = rule_stats(np.empty((0, 2), dtype=int))
    assert empty.coverage.tolist() == [0, 0] and empty.n_items == 0
    assert one.as_rows()[0]["accuracy"] == 0.5 and silent.as_rows()[0]["accuracy"] is None


def reference(matrix, truth):
    """Item by item, from the definitions."""
    n, m = matrix.shape
    out = {"coverage": [], "overlaps": [], "conflicts": [], "correct": []}
    for j in range(m):
        cov = ovl = con = cor = 0
        for i in range(n):
            if matrix[i, j] == -1:
                continue
            others = [matrix[i, o] for o in range(m) if o != j and matrix[i, o] != -1]
            cov += 1
            ovl += bool(others)
            con += any(v != matrix[i, j] for v in others)
            cor += matrix[i, j] == truth[i]
        for key, value in zip(out, (cov / n, ovl / n, con / n, cor), strict=True):
            out[key].append(value)
    return out


@settings(max_examples=100, deadline=None)
@given(arrays(np.int64, st.tuples(st.integers(1, 12), st.integers(1, 5)), elements=st.integers(-1, 2)),
       st.randoms(use_true_random=False))  # fmt: skip
def test_matches_the_definitions_item_by_item(matrix, rnd):
    truth = np.array([rnd.randrange(3) for _ in range(len(matrix))])
    s = rule_stats(matrix, truth=truth)
    ref = reference(matrix, truth)
    np.testing.assert_allclose(s.coverage, ref["coverage"])
    np.testing.assert_allclose(s.overlaps, ref["overlaps"])
    np.testing.assert_allclose(s.conflicts, ref["conflicts"])
    assert s.correct.tolist() == ref["correct"]
    assert (s.conflicts <= s.overlaps + 1e-12).all() and (s.overlaps <= s.coverage + 1e-12).all()
    judged = s.judged > 0
    assert ((s.accuracy_low[judged] <= s.accuracy[judged] + 1e-12) & (s.accuracy[judged] <= s.accuracy_high[judged] + 1e-12)).all()


def test_int16_matrices_as_apply_returns_them_give_the_same_figures():
    """``matchers.apply`` returns int16; a sentinel outside int16 once wrapped around and made
    every overlap a conflict."""
    matrix = np.array([[0, 0, -1], [0, 1, -1], [1, 1, 1], [-1, -1, 0]])
    wide, narrow = rule_stats(matrix), rule_stats(matrix.astype(np.int16))
    assert narrow.conflicts.tolist() == wide.conflicts.tolist() == pytest.approx([0.25, 0.25, 0.0])
    assert narrow.label_conflict == wide.label_conflict == 0.25
