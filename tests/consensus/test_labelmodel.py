"""Combining rules: majority vote, the learned label model, and the choice between them."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from consensus.labelmodel import (
    ABSTAIN,
    UNKNOWN,
    combine_rules,
    distinct_rows,
    fit_label_model,
    item_posterior,
    majority,
)


def simulate(seed, spec, n=4000, prior1=0.4):
    """Rules from the model the label model assumes: rule (label, P(fire | its label), P(fire | other))."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prior1).astype(int)
    columns = []
    for label, on, off in spec:
        fires = rng.random(n) < np.where(y == label, on, off)
        columns.append(np.where(fires, label, ABSTAIN))
    return np.array(columns).T, y


# three noisy "0" rules against one precise and one weak "1" rule: majority vote lets the noisy
# ones outvote the precise one; weighting by accuracy does not
UNEQUAL = [(0, 0.5, 0.3), (0, 0.5, 0.3), (0, 0.5, 0.3), (1, 0.6, 0.02), (1, 0.3, 0.1)]
EQUAL = [(0, 0.5, 0.1), (1, 0.5, 0.1), (0, 0.5, 0.1), (1, 0.5, 0.1)]


def test_majority_hand_computed():
    matrix = np.array([[0, 0, 1], [0, 1, -1], [-1, -1, -1], [2, -1, -1]])
    shares, best = majority(matrix, n_labels=3)
    np.testing.assert_allclose(shares, [[2 / 3, 1 / 3, 0], [0.5, 0.5, 0], [1 / 3] * 3, [0, 0, 1]])
    assert best.tolist() == [0, ABSTAIN, ABSTAIN, 2]


def test_learned_model_beats_majority_where_rules_differ_in_accuracy_and_says_so():
    for seed in range(3):
        matrix, y = simulate(seed, UNEQUAL)
        c = combine_rules(matrix, n_labels=2)
        covered = c.covered
        _, mv = majority(matrix, n_labels=2)
        decided = covered & (mv != ABSTAIN)
        assert c.method == "label_model" and c.test["basis"] == "model" and c.test["significant"]
        assert (c.best[decided] == y[decided]).mean() > (mv[decided] == y[decided]).mean() + 0.01
        # the precise rule is learned to be the most accurate (true: 0.95; the noisy ones 0.71)
        assert c.rule_accuracy().argmax() == 3
        assert (c.best[~covered] == ABSTAIN).all()


def test_equal_rules_fall_back_to_majority_vote():
    matrix, _ = simulate(5, EQUAL)
    c = combine_rules(matrix, n_labels=2)
    assert c.method == "majority" and not c.test["significant"]
    np.testing.assert_array_equal(c.posterior, c.majority)


def test_verified_items_decide_by_mcnemar_on_items_the_model_did_not_see():
    matrix, y = simulate(1, UNEQUAL)
    verified = np.full(len(y), UNKNOWN)
    verified[:400] = y[:400]
    c = combine_rules(matrix, n_labels=2, verified=verified)
    assert c.test["basis"] == "verified" and c.method == "label_model"
    assert c.test["wins"] > c.test["losses"] and c.test["p_value"] < 0.05
    # the posterior given back is the rules' opinion, not the verified answers clamped in
    wrong_rules = np.flatnonzero(c.covered[:400] & (c.label_model[:400].argmax(1) != y[:400]))
    assert len(wrong_rules) > 0


def test_verified_items_can_refuse_the_learned_model():
    matrix, y = simulate(1, UNEQUAL)
    verified = np.full(len(y), UNKNOWN)
    verified[:400] = 1 - y[:400]  # verified answers that contradict what the model learned
    assert combine_rules(matrix, n_labels=2, verified=verified).method == "majority"


def test_too_few_discordant_verified_items_fall_back_to_the_model_test():
    matrix, y = simulate(1, UNEQUAL)
    verified = np.full(len(y), UNKNOWN)
    verified[:3] = y[:3]
    test = combine_rules(matrix, n_labels=2, verified=verified).test
    assert test["basis"] == "model" and test["verified"]["wins"] + test["verified"]["losses"] < 5


def test_edge_cases_no_rules_all_abstain_one_rule():
    none = combine_rules(np.empty((3, 0), dtype=int), n_labels=2)
    assert none.method == "majority" and (none.best == ABSTAIN).all()
    silent = combine_rules(np.full((5, 3), ABSTAIN), n_labels=2)
    assert (silent.best == ABSTAIN).all() and not silent.covered.any()
    one = combine_rules(np.array([[1], [-1], [1], [0]]), n_labels=2)
    assert one.best.tolist() == [1, ABSTAIN, 1, 0] and one.method == "majority"


def test_labels_out_of_range_are_refused():
    with pytest.raises(ValueError, match="abstain"):
        combine_rules(np.array([[0, 2]]), n_labels=2)


def test_item_posterior_reproduces_the_fit():
    matrix, _ = simulate(2, UNEQUAL, n=800)
    post, confusion, prior, _, converged = fit_label_model(matrix, n_labels=2)
    assert converged
    np.testing.assert_allclose(item_posterior(matrix, confusion, prior), post, atol=1e-9)
    np.testing.assert_allclose(confusion.sum(2), 1.0)


@settings(max_examples=60, deadline=None)
@given(arrays(np.int16, st.tuples(st.integers(1, 40), st.integers(1, 6)), elements=st.integers(-1, 2)))
def test_distinct_rows_rebuild_the_matrix(matrix):
    rows, inverse, counts = distinct_rows(matrix)
    np.testing.assert_array_equal(rows[inverse], matrix)
    assert counts.sum() == len(matrix) and len(rows) == len({tuple(r) for r in matrix.tolist()})


@settings(max_examples=40, deadline=None)
@given(arrays(np.int16, st.tuples(st.integers(1, 30), st.integers(1, 5)), elements=st.integers(-1, 2)))
def test_posteriors_are_distributions_and_uncovered_items_get_no_label(matrix):
    c = combine_rules(matrix, n_labels=3)
    np.testing.assert_allclose(c.label_model.sum(1), 1.0)
    assert ((c.best == ABSTAIN) | c.covered).all()
    if c.method == "majority":
        np.testing.assert_array_equal(c.best, majority(matrix, n_labels=3)[1])
