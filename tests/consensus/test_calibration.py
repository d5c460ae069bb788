"""The precision gate: thresholds by fixed-sequence testing, audits, and the drop detector."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from consensus import calibration as cal


def test_clopper_pearson_bounds_hand_computed():
    # all n right: the lower bound is alpha^(1/n); none right: the upper bound is 1 - alpha^(1/n)
    assert cal.lower_bound(99, 99) == pytest.approx(0.05 ** (1 / 99))
    assert cal.upper_bound(0, 20) == pytest.approx(1 - 0.05 ** (1 / 20))
    assert cal.lower_bound(0, 10) == 0 and cal.upper_bound(10, 10) == 1
    assert np.isnan(cal.lower_bound(0, 0))
    # 90 of 100: the exact bound, from the binomial tail it inverts
    low = float(cal.lower_bound(90, 100))
    assert stats.binom.sf(89, 100, low) == pytest.approx(0.05, abs=1e-9)


def test_items_needed_follows_from_the_bound():
    assert cal.items_needed(0.97) == 99  # 0.97^98 > 0.05 ≥ 0.97^99
    assert 0.97**98 > 0.05 >= 0.97**99
    assert cal.items_needed(0.99) == 299
    assert cal.items_needed(0.5) == cal.MIN_VERIFIED


def test_nothing_is_auto_labeled_until_enough_items_are_verified():
    gate = cal.choose_threshold(np.full(98, 0.999), np.ones(98, bool), target=0.97)
    assert gate.threshold is None and gate.needed == 99
    assert "98 of the 99" in gate.reason
    gate = cal.choose_threshold(np.full(99, 0.999), np.ones(99, bool), target=0.97)
    assert gate.threshold == 0.999 and gate.lower >= 0.97


def test_lowest_threshold_of_the_fixed_sequence_is_chosen_and_the_walk_stops_at_a_failure():
    # 200 right at 0.995, 100 right at 0.975, then 100 at 0.95 with 10 wrong, then 200 right at 0.9
    conf = np.r_[np.full(200, 0.995), np.full(100, 0.975), np.full(100, 0.95), np.full(200, 0.9)]
    right = np.r_[np.ones(300, bool), np.arange(100) >= 10, np.ones(200, bool)]
    gate = cal.choose_threshold(conf, right, target=0.97)
    # the walk starts at 0.97 (the first point with 3 × 99 items above); 0.96 adds no verified
    # item, measures nothing new and is skipped; 0.95 fails (390/400, bound 0.958)
    assert [(s["threshold"], s["passed"]) for s in gate.steps] == [(0.97, True), (0.95, False)]
    assert gate.threshold == 0.97
    assert (gate.n_above, gate.correct_above, gate.precision) == (300, 300, 1.0)
    # the 200 right items at 0.9 would lift the pooled precision to 590/600 (bound 0.972), but a
    # failed step ends the walk: lower items never rescue it
    assert cal.lower_bound(590, 600) > 0.97


def test_a_model_that_never_clears_the_target_sets_no_threshold():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.5, 1, 1000)
    gate = cal.choose_threshold(conf, rng.random(1000) < 0.9, target=0.97)
    assert gate.threshold is None and "not shown" in gate.reason


@pytest.mark.parametrize("bad", [0, 1, 1.2])
def test_target_must_be_a_probability(bad):
    with pytest.raises(ValueError):
        cal.choose_threshold(np.ones(3), np.ones(3, bool), target=bad)


def simulated_run(rng, n_verified=600, n_pool=3000, target=0.95, pool=True):
    """A model whose precision at confidence c is slightly below c (overconfident), with most
    confidences above 0.9, so the chosen thresholds sit near the target. Returns the realised
    precision of the auto-labels the gate lets through (None: it let nothing through)."""
    conf = rng.beta(12, 1, n_verified + n_pool).clip(0.5, 1)
    right = rng.random(len(conf)) < np.clip(conf - 0.005, 0, 1)
    waiting = conf[n_verified:]
    gate = cal.choose_threshold(conf[:n_verified], right[:n_verified], target=target,
                                pool_confidence=waiting if pool else None)  # fmt: skip
    if gate.threshold is None:
        return None
    return right[n_verified:][waiting >= gate.threshold].mean()


def test_gate_holds_the_realised_precision_in_at_least_95_percent_of_runs():
    """The coverage property at a small size, 300 simulated runs: the share right among the
    auto-labels actually made. A run that auto-labels nothing labels nothing wrongly."""
    rng = np.random.default_rng(7)
    runs = [simulated_run(rng) for _ in range(300)]
    opened = [p for p in runs if p is not None]
    assert len(opened) >= 100  # the gate opens on most runs (132 of 300 with this seed)
    below = sum(p < 0.95 for p in opened)
    assert below / len(opened) <= 0.05, (below, len(opened))


def test_batch_bound_leaves_room_for_the_batch_scatter():
    # 600 of 600 verified right: the model's bound is 0.995. Of 100 new items, 98 right would
    # leave all 600 verified right with chance C(698,600)/C(700,600) = 0.020 < 0.05; 99, 0.143
    assert cal.lower_bound(600, 600) == pytest.approx(0.05 ** (1 / 600))
    assert cal.batch_lower_bound(600, 600, 100) == 0.99
    assert cal.batch_lower_bound(600, 600, 0) == pytest.approx(cal.lower_bound(600, 600))
    assert cal.batch_lower_bound(10, 100, 50) <= 0.1 <= cal.batch_lower_bound(90, 100, 50) + 0.8
    # without it, realised precision of a pool falls below the target more often
    rng = np.random.default_rng(7)
    model_only = [simulated_run(rng, pool=False) for _ in range(300)]
    opened = [p for p in model_only if p is not None]
    assert sum(p < 0.95 for p in opened) / len(opened) > 0.05


def test_audit_selection_is_stable_and_near_its_share():
    ids = list(range(20_000))
    chosen = cal.audit_select(ids, share=0.05, seed="project-7")
    assert 0.045 < chosen.mean() < 0.055
    assert (cal.audit_select(ids[:100], share=0.05, seed="project-7") == chosen[:100]).all()
    assert not (cal.audit_select(ids, share=0.05, seed="other") == chosen).all()
    assert not cal.audit_select(ids, share=0.0).any() and cal.audit_select(ids, share=1.0).all()


def test_audits_that_hold_do_not_stop():
    check = cal.audit_check(np.ones(500, bool), target=0.97)
    assert not check.stopped and check.return_from is None and check.precision == 1.0


def test_a_drop_stops_and_sends_back_auto_labels_since_the_last_good_audit():
    audits = np.r_[np.ones(300, bool), np.arange(60) % 5 != 0]  # after 300 audits, 80% right
    positions = np.arange(len(audits)) * 20 + 3  # every 20th auto-label was audited
    check = cal.audit_check(audits, positions, target=0.97)
    assert check.stopped
    assert check.last_good is not None and check.last_good < 300  # before the drop
    assert check.return_from == positions[check.last_good] + 1
    assert check.return_from <= positions[300]  # every auto-label after the drop goes back
    assert "stopped" in check.reason


def test_a_drop_from_the_first_audit_sends_everything_back():
    check = cal.audit_check(np.arange(25) % 2 == 0, target=0.97)
    assert check.stopped and check.last_good is None and check.return_from == 0


def test_audits_to_detect_matches_simulation():
    predicted = cal.audits_to_detect(0.88, target=0.97)
    assert predicted["audits"] == 100 and predicted["probability"] >= 0.8
    rng = np.random.default_rng(3)
    stopped_within = 0
    for _ in range(200):
        audits = np.r_[np.ones(200, bool), rng.random(predicted["audits"]) < 0.88]
        stopped_within += any(cal.audit_check(audits[: 200 + i], target=0.97).stopped
                              for i in range(25, predicted["audits"] + 1, 25))  # fmt: skip
    assert stopped_within / 200 >= 0.8


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.5, 1.0), min_size=100, max_size=300), st.randoms(use_true_random=False))
def test_chosen_threshold_always_shows_its_bound(conf, rnd):
    conf = np.array(conf)
    right = np.array([rnd.random() < c for c in conf])
    gate = cal.choose_threshold(conf, right, target=0.9)
    if gate.threshold is not None:
        above = conf >= gate.threshold
        assert gate.n_above == above.sum() and gate.correct_above == right[above].sum()
        assert cal.lower_bound(gate.correct_above, gate.n_above) >= 0.9
        assert all(s["passed"] for s in gate.steps[:-1])
