"""Agreement metrics: the krippendorff package's alpha on real crowds, small hand-computed
cases, edge cases, and invariants under relabeling."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus import metrics
from consensus.metrics import MultiVotes, Votes
from tests.consensus.crowd import README_ALPHA, SETS, load


def votes(rows: list[tuple[int, int, int]], n_labels: int | None = None) -> Votes:
    arr = np.array(rows, dtype=np.int64).reshape(-1, 3)
    return Votes(arr[:, 0], arr[:, 1], arr[:, 2], int(arr[:, 0].max()) + 1, int(arr[:, 1].max()) + 1,
                 n_labels or int(arr[:, 2].max()) + 1)  # fmt: skip


@pytest.mark.parametrize("name", SETS)
def test_alpha_equals_the_krippendorff_package_on_every_shared_set(name):
    v = load(name)
    reliability = np.full((v.n_annotators, v.n_items), np.nan)
    reliability[v.annotator, v.item] = v.label
    expected = krippendorff.alpha(reliability_data=reliability, level_of_measurement="nominal")
    assert metrics.alpha_nominal(v) == pytest.approx(expected, abs=1e-9)
    assert metrics.alpha_nominal(v) == pytest.approx(README_ALPHA[name], abs=5e-4)


def test_alpha_hand_computed():
    # Two raters, four items: agree, agree, disagree, agree; values a=0, b=1.
    v = votes([(0, 0, 0), (0, 1, 0), (1, 0, 1), (1, 1, 1), (2, 0, 0), (2, 1, 1), (3, 0, 0), (3, 1, 0)])
    # Coincidences: o_aa = 4, o_bb = 2, o_ab = o_ba = 1; n = 8; n_a = 5, n_b = 3.
    # D_o = 2/8, D_e = 2·5·3/(8·7); alpha = 1 − D_o/D_e = 1 − 0.25/0.5357… = 0.5333…
    assert metrics.alpha_nominal(v) == pytest.approx(1 - (2 / 8) / (30 / 56), abs=1e-12)


def test_alpha_edge_cases():
    assert np.isnan(metrics.alpha_nominal(votes([(0, 0, 0), (1, 0, 1)])))  # no item has two votes
    assert np.isnan(metrics.alpha_nominal(votes([(0, 0, 1), (0, 1, 1), (1, 0, 1), (1, 1, 1)], 2)))  # one value only
    assert metrics.alpha_nominal(votes([(0, 0, 0), (0, 1, 0), (1, 0, 1), (1, 1, 1)])) == pytest.approx(1.0)


def test_item_agreement_and_fleiss_kappa_by_hand():
    v = votes([(0, 0, 0), (0, 1, 0), (0, 2, 1), (1, 0, 1), (1, 1, 1), (1, 2, 1)])
    assert metrics.item_agreement(v).tolist() == pytest.approx([2 / 3, 1.0])
    # P_i = (2²+1²−3)/(3·2) = 1/3 and (9−3)/6 = 1; P̄ = 2/3; p = (2/6, 4/6); P_e = 5/9.
    assert metrics.fleiss_kappa(v) == pytest.approx((2 / 3 - 5 / 9) / (1 - 5 / 9))


def test_cohen_kappa_by_hand():
    a = np.array([0, 0, 1, 1, 0, 1])
    b = np.array([0, 1, 1, 1, 0, 0])
    # observed 4/6; marginals a=(1/2,1/2), b=(1/2,1/2): expected 1/2; kappa = (2/3−1/2)/(1/2) = 1/3
    assert metrics.cohen_kappa(a, b, 2) == pytest.approx(1 / 3)


def test_pairwise_agreement_by_hand():
    v = votes([(0, 0, 0), (0, 1, 0), (1, 0, 1), (1, 1, 0), (2, 2, 1)])
    agreement, shared = metrics.pairwise_agreement(v)
    assert shared[0, 1] == 2 and agreement[0, 1] == pytest.approx(0.5)
    assert shared[0, 2] == 0 and np.isnan(agreement[0, 2])
    assert agreement[0, 0] == 1.0


def test_alpha_per_label_for_multiple_choice():
    chosen = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 1], [1, 0]], dtype=bool)
    mv = MultiVotes(np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 0, 1, 0, 1]), chosen, 3, 2)
    per_label = metrics.alpha_per_label(mv)
    single = [Votes(mv.item, mv.annotator, chosen[:, k].astype(int), 3, 2, 2) for k in range(2)]
    assert per_label.tolist() == pytest.approx([metrics.alpha_nominal(s) for s in single])


def test_bootstrap_interval_brackets_alpha():
    v = load("snow_wsd")
    low, high = metrics.alpha_bootstrap(v, samples=200, seed=1)
    assert low < metrics.alpha_nominal(v) < high and high - low < 0.1


vote_rows = st.lists(
    st.tuples(st.integers(0, 9), st.integers(0, 5), st.integers(0, 3)), min_size=4, max_size=60
).map(lambda rows: list({(i, a): (i, a, lab) for i, a, lab in rows}.values()))  # one vote per pair


@settings(max_examples=60, deadline=None)
@given(vote_rows, st.randoms(use_true_random=False))
def test_permuting_annotators_or_labels_changes_nothing(rows, rnd):
    v = votes(rows, 4)
    ann = list(range(v.n_annotators))
    lab = list(range(4))
    rnd.shuffle(ann)
    rnd.shuffle(lab)
    w = Votes(v.item, np.array(ann)[v.annotator], np.array(lab)[v.label], v.n_items, v.n_annotators, 4)
    for f in (metrics.alpha_nominal, metrics.fleiss_kappa):
        a, b = f(v), f(w)
        assert (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b, abs=1e-9)
    assert np.allclose(metrics.item_agreement(v), metrics.item_agreement(w), equal_nan=True)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 2), min_size=2, max_size=12), st.integers(2, 5))
def test_unanimous_items_give_full_item_agreement(labels, raters):
    rows = [(i, r, lab) for i, lab in enumerate(labels) for r in range(raters)]
    v = votes(rows, 3)
    assert np.all(metrics.item_agreement(v) == 1.0)
    alpha = metrics.alpha_nominal(v)
    assert np.isnan(alpha) if len(set(labels)) == 1 else alpha == pytest.approx(1.0)


def test_item_agreement_of_a_project_without_labels_is_undefined():
    empty = Votes(np.zeros(0, int), np.zeros(0, int), np.zeros(0, int), n_items=3, n_annotators=0, n_labels=0)
    assert np.isnan(metrics.item_agreement(empty)).all() and len(metrics.item_agreement(empty)) == 3
