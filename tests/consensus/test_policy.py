"""The promotion rule, on its own."""

import numpy as np

from consensus.policy import Decision, Thresholds, decide, decide_many, still_supported

T = Thresholds(min_votes=3, max_votes=5, promote_posterior=0.9, promote_agreement=0.6)


def d(**kw):
    args = {"posterior": 0.95, "agreement": 1.0, "votes": 3, "needed": 3, "tie": False, "claims": 0} | kw
    return decide(**args, t=T)


def test_waits_for_the_votes_it_needs():
    assert d(votes=2) == Decision.WAIT
    assert d(votes=3, needed=4) == Decision.WAIT


def test_promotes_only_when_posterior_and_agreement_both_reach_the_thresholds():
    assert d() == Decision.PROMOTE
    assert d(posterior=0.89) == Decision.MORE
    assert d(agreement=0.5) == Decision.MORE
    assert d(tie=True) == Decision.MORE


def test_below_the_thresholds_at_max_votes_goes_to_review():
    assert d(posterior=0.5, votes=5, needed=5) == Decision.REVIEW
    assert d(posterior=0.5, votes=6, needed=5) == Decision.REVIEW


def test_a_claim_sends_a_ready_item_to_review():
    assert d(claims=1) == Decision.REVIEW
    assert d(claims=1, votes=2) == Decision.WAIT


def test_many_agrees_with_one():
    rng = np.random.default_rng(1)
    n = 500
    args = {
        "posterior": rng.random(n), "agreement": rng.random(n), "votes": rng.integers(0, 7, n),
        "needed": rng.integers(3, 6, n), "tie": rng.random(n) < 0.1, "claims": (rng.random(n) < 0.1).astype(int),
    }  # fmt: skip
    many = decide_many(**args, t=T)
    assert [Decision(x) for x in many] == [decide(**{k: v[i] for k, v in args.items()}, t=T) for i in range(n)]


def test_ground_truth_stays_while_its_label_leads():
    assert still_supported(label_posterior=0.8, best_is_label=True, votes=3, t=T)
    assert not still_supported(label_posterior=0.8, best_is_label=False, votes=3, t=T)
    assert not still_supported(label_posterior=0.4, best_is_label=True, votes=3, t=T)
    assert not still_supported(label_posterior=0.9, best_is_label=True, votes=2, t=T)
