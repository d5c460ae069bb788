"""Combining labeling rules into one posterior per item. Pure numpy and scipy; no Django here.

Input: the items × rules matrix of ``annotation.rules.matchers.apply`` (a label index, or -1 where
a rule abstains). Two combinations are computed and one is chosen:

``majority``
    Each item's posterior is the share of rule votes per label; ties are ties (``best`` is
    ``ABSTAIN``), as in ``aggregation.majority_vote``.

``label_model`` — the generative model Snorkel's ``LabelModel`` also assumes
    Every item has one true label drawn from a class prior, and every rule, given the true label,
    answers independently of the other rules with its own distribution over *k labels and
    abstaining*. Abstaining is an outcome, not a missing vote: a rule for "complaint" that fires on
    half of the complaints and on 2% of the rest carries its evidence in when it fires, and a rule
    that only ever votes one label would look uninformative to a model that ignored its silences
    (as Dawid–Skene over annotators' votes does). Fitted by EM (Snorkel fits the same model by
    matrix completion and SGD): the E step is one sparse product (items × rule-outcomes) @
    (rule-outcomes × labels), the M step its transpose. Each rule's distribution has a Dirichlet
    prior of ``smoothing`` pseudo-items spread like the pooled rules', with a pull toward right
    answers (so a rule seen on three items is treated as an average rule, not as perfect); EM
    starts from majority vote. Verified items (gold, ground truth) are clamped to their label, so
    they teach the model which rules are right. Items no rule labels keep ``best = ABSTAIN``:
    a label there would rest on silences alone.

Which one is used — "fall back to majority vote unless the learned model's advantage is
significant" — is decided by a one-sided test at level ``alpha`` (0.05):

- *with verified items*: McNemar's exact test on the verified items both combinations label and
  on which exactly one of them is right: the learned model is used when its wins outnumber its
  losses by more than chance (binomial, p = 1/2) would. Items where majority vote ties are left out
  (it has no answer there; the learned model always does), so the test is of the learned model's
  weighting, not of its tie-breaking. Needs at least 5 such discordant items to ever reject.
- *without*: the test has to use the votes alone, and under the learned model itself: on the items
  where the two disagree, the learned model's expected accuracy gain is Σ (p(its label) −
  p(majority's label)) and its variance Σ p(1 − p)-type terms of a difference of two Bernoulli
  outcomes; the model is used when gain / sd exceeds the one-sided z of ``alpha`` *and* at
  least ``MIN_DISCORDANT_MODEL`` items disagree. This is judged by the model it tests, so it can
  be optimistic where the model is wrong (strongly dependent rules); it is a guard against
  a model that changes little or is unsure of its changes, and verified items replace it as soon
  as there are enough. The benchmark (docs/benchmarks.md, ``bench/rules.py``) measures both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy import stats as scipy_stats

ABSTAIN = -1
UNKNOWN = -1  # an item without a verified label
MIN_DISCORDANT_VERIFIED = 5  # below this McNemar's test cannot reject at 0.05 (1/2^5 = 0.031)
MIN_DISCORDANT_MODEL = 20


@dataclass(frozen=True)
class Combination:
    method: str  # "label_model" or "majority": the one ``posterior`` and ``best`` come from
    posterior: np.ndarray  # items × labels
    best: np.ndarray  # per item a label index, or ABSTAIN (no rule fired, or a majority tie)
    label_model: np.ndarray  # the learned posterior, items × labels
    majority: np.ndarray  # vote shares, items × labels (uniform where no rule fired)
    confusion: np.ndarray  # rules × true label × outcome (k labels, then abstain); rows sum to 1
    class_prior: np.ndarray
    covered: np.ndarray  # per item, whether any rule labels it
    test: dict = field(default_factory=dict)  # how the choice was made: basis, counts, p or z
    iterations: int = 0
    converged: bool = True

    def rule_accuracy(self) -> np.ndarray:
        """Per rule, the learned probability that a vote it casts is right."""
        k = len(self.class_prior)
        right = np.einsum("y,jy->j", self.class_prior, np.diagonal(self.confusion[:, :, :k], axis1=1, axis2=2))
        fires = np.einsum("y,jy->j", self.class_prior, 1.0 - self.confusion[:, :, k])
        return np.divide(right, fires, out=np.full(len(fires), np.nan), where=fires > 0)


def _outcomes(matrix: np.ndarray, k: int) -> sparse.csr_matrix:
    """items × (rule · (k + 1) + outcome): one 1 per item and rule; outcome k is abstain."""
    n, m = matrix.shape
    _check_range(matrix, k)
    outcome = np.where(matrix == ABSTAIN, k, matrix).astype(np.int64)
    columns = (np.arange(m) * (k + 1))[None, :] + outcome
    indptr = np.arange(n + 1) * m
    return sparse.csr_matrix((np.ones(n * m), columns.ravel(), indptr), shape=(n, m * (k + 1)))


def _check_range(matrix: np.ndarray, k: int) -> None:
    if matrix.size and (matrix.min() < ABSTAIN or matrix.max() >= k):
        raise ValueError(f"label indices must be -1 (abstain) or 0…{k - 1}")


def majority(matrix: np.ndarray, *, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """Vote shares per item (uniform where no rule voted) and the best label (ABSTAIN on a tie
    or where no rule voted)."""
    n, m = matrix.shape
    _check_range(matrix, n_labels)
    counts = np.zeros((n, n_labels))
    for j in range(m):
        voted = matrix[:, j] != ABSTAIN
        counts[np.flatnonzero(voted), matrix[voted, j]] += 1
    total = counts.sum(1, keepdims=True)
    shares = np.divide(counts, total, out=np.full_like(counts, 1.0 / max(n_labels, 1)), where=total > 0)
    top = counts.max(1, keepdims=True) if n_labels else np.zeros((n, 1))
    at_top = (counts == top) & (total > 0)
    best = np.where(at_top.sum(1) == 1, counts.argmax(1) if n_labels else ABSTAIN, ABSTAIN)
    return shares, best


def posterior(outcomes: sparse.csr_matrix, confusion: np.ndarray, class_prior: np.ndarray) -> np.ndarray:
    """The E step: each item's posterior from its rules' outcomes, given fitted confusion
    matrices and class prior (also how new items are scored with an earlier fit)."""
    m, k, _ = confusion.shape
    log_conf = np.log(np.clip(confusion, 1e-12, None)).transpose(0, 2, 1).reshape(m * (k + 1), k)
    log_post = np.asarray(outcomes @ log_conf) + np.log(class_prior)
    log_post -= log_post.max(1, keepdims=True)
    post = np.exp(log_post)
    return post / post.sum(1, keepdims=True)


def _m_step(outcomes, post, m, k, smoothing, diagonal):
    counts = np.asarray(outcomes.T @ post).reshape(m, k + 1, k).transpose(0, 2, 1)  # rule × true × outcome
    pooled = counts.sum(0)
    pooled[:, :k] += diagonal * np.eye(k)
    pooled = (pooled + 1.0) / (pooled + 1.0).sum(1, keepdims=True)
    confusion = counts + smoothing * pooled[None]
    return confusion / confusion.sum(2, keepdims=True)


def distinct_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct rows, each row's index among them, how many rows each has). Rows are keyed by
    a 64-bit hash (one sort of integers, where ``np.unique(axis=0)`` sorts rows and took 15 s on
    a million × 50), then checked against their representative; a collision falls back to the
    exact sort."""
    matrix = np.asarray(matrix)
    if not matrix.size:
        return np.unique(matrix, axis=0, return_inverse=True, return_counts=True)
    salt = np.random.default_rng(20).integers(1, 2**62, matrix.shape[1], dtype=np.int64) | 1
    with np.errstate(over="ignore"):
        key = (matrix.astype(np.int64) + 2) @ salt  # wraps modulo 2^64
    _, first, inverse, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
    rows = matrix[first]
    if not (rows[inverse] == matrix).all():
        rows, inverse, counts = np.unique(matrix, axis=0, return_inverse=True, return_counts=True)
    return rows, inverse.ravel(), counts


def item_posterior(matrix: np.ndarray, confusion: np.ndarray, class_prior: np.ndarray) -> np.ndarray:
    """Every item's posterior under a fitted model, computed once per distinct row of votes."""
    rows, inverse, _ = distinct_rows(matrix)
    return posterior(_outcomes(rows, len(class_prior)), confusion, class_prior)[inverse]


def fit_label_model(
    matrix: np.ndarray,
    *,
    n_labels: int,
    verified: np.ndarray | None = None,
    smoothing: float = 10.0,
    diagonal: float = 1.0,
    tol: float = 1e-4,
    max_iter: int = 1000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, bool]:
    """EM for the label model of the module docstring: (posterior, confusion, class prior,
    iterations, converged). ``verified``: per item a label index or ``UNKNOWN``.

    Items with the same votes (and the same verified label) have the same posterior, and a rule
    set has far fewer distinct rows than items (12 rules over 12,752 reviews: 111), so
    EM runs over the distinct rows, each weighted by how many items share it."""
    matrix = np.asarray(matrix)
    n, m = matrix.shape
    k = n_labels
    known = np.full(n, UNKNOWN) if verified is None else np.asarray(verified)
    rows, inverse, weight = distinct_rows(np.column_stack([matrix, known]))
    patterns, pattern_known = rows[:, :m], rows[:, m]
    outcomes = _outcomes(patterns, k)
    shares, _ = majority(patterns, n_labels=k)
    covered = (patterns != ABSTAIN).any(1)
    clamp = np.flatnonzero(pattern_known != UNKNOWN)

    def clamped(post: np.ndarray) -> np.ndarray:
        post[clamp] = 0.0
        post[clamp, pattern_known[clamp]] = 1.0
        return post

    post = shares.copy()
    if covered.any():
        post[~covered] = np.average(shares[covered], axis=0, weights=weight[covered])
    post = clamped(post)
    class_prior = np.full(k, 1.0 / k)
    confusion = np.full((m, k, k + 1), 1.0 / (k + 1))
    iterations, converged = 0, False
    while iterations < max_iter and n and m:
        iterations += 1
        weighted = post * weight[:, None]
        confusion = _m_step(outcomes, weighted, m, k, smoothing, diagonal)
        class_prior = (weighted.sum(0) + 1.0) / (n + k)
        new = clamped(posterior(outcomes, confusion, class_prior))
        moved = float(np.abs(new - post).max())
        post = new
        if moved < tol:
            converged = True
            break
    return post[inverse], confusion, class_prior, iterations, converged


def _best(post: np.ndarray, covered: np.ndarray) -> np.ndarray:
    return np.where(covered, post.argmax(1), ABSTAIN) if post.shape[1] else np.full(len(post), ABSTAIN)


def _cross_fitted_best(matrix, covered, k, verified, smoothing, folds=2, seed=0):
    """The learned model's label for each verified item from a fit that did not see that item's
    label: the verified items are split in ``folds``, each fold judged by a fit clamped to the
    others (so the test is not an in-sample one)."""
    best = np.full(len(matrix), ABSTAIN)
    known = np.flatnonzero(verified != UNKNOWN)
    fold = np.random.default_rng(seed).permutation(len(known)) % folds
    for f in range(folds):
        held = known[fold == f]
        teach = verified.copy()
        teach[held] = UNKNOWN
        _, confusion, prior, _, _ = fit_label_model(matrix, n_labels=k, verified=teach, smoothing=smoothing)
        best[held] = _best(posterior(_outcomes(matrix[held], k), confusion, prior), covered[held])
    return best


def _verified_test(best_model, best_mv, verified, alpha):
    known = (verified != UNKNOWN) & (best_model != ABSTAIN) & (best_mv != ABSTAIN)
    model_right = best_model[known] == verified[known]
    mv_right = best_mv[known] == verified[known]
    wins, losses = int((model_right & ~mv_right).sum()), int((~model_right & mv_right).sum())
    p = float(scipy_stats.binomtest(wins, wins + losses, 0.5, alternative="greater").pvalue) if wins + losses else 1.0
    significant = wins + losses >= MIN_DISCORDANT_VERIFIED and p < alpha
    return {"basis": "verified", "verified_items": int(known.sum()), "wins": wins, "losses": losses, "p_value": p,
            "significant": significant}  # fmt: skip


def _model_test(post, best_model, best_mv, alpha):
    rows = np.flatnonzero((best_model != ABSTAIN) & (best_mv != ABSTAIN) & (best_model != best_mv))
    p_model, p_mv = post[rows, best_model[rows]], post[rows, best_mv[rows]]
    gain = float((p_model - p_mv).sum())
    # variance of (1[model right] − 1[mv right]) when at most one of them can be right
    variance = float((p_model + p_mv - (p_model - p_mv) ** 2).sum())
    z = gain / np.sqrt(variance) if variance > 0 else 0.0
    significant = len(rows) >= MIN_DISCORDANT_MODEL and z > scipy_stats.norm.ppf(1 - alpha)
    return {"basis": "model", "discordant_items": int(len(rows)), "expected_gain": gain, "z": float(z),
            "significant": bool(significant)}  # fmt: skip


def combine_rules(
    matrix: np.ndarray,
    *,
    n_labels: int,
    verified: np.ndarray | None = None,
    alpha: float = 0.05,
    smoothing: float = 10.0,
) -> Combination:
    """Both combinations of the rules' votes and the choice between them (module docstring).
    ``verified``: per item a human-verified label index (gold, ground truth) or ``UNKNOWN``."""
    matrix = np.asarray(matrix)
    n, m = matrix.shape
    if verified is not None:
        verified = np.asarray(verified)
        if verified.shape != (n,):
            raise ValueError(f"verified has {verified.shape} entries for {n} items")
    covered = (matrix != ABSTAIN).any(1)
    shares, best_mv = majority(matrix, n_labels=n_labels)
    post, confusion, prior, iterations, converged = fit_label_model(
        matrix, n_labels=n_labels, verified=verified, smoothing=smoothing)
    # the rules' opinion: the fitted model's posterior without clamping the verified items
    unclamped = item_posterior(matrix, confusion, prior) if verified is not None else post
    best_model = _best(unclamped, covered)
    test = None
    if verified is not None and (verified != UNKNOWN).any():
        test = _verified_test(_cross_fitted_best(matrix, covered, n_labels, verified, smoothing), best_mv, verified,
                              alpha)  # fmt: skip
        if test["wins"] + test["losses"] < MIN_DISCORDANT_VERIFIED:
            test = {**_model_test(unclamped, best_model, best_mv, alpha), "verified": test}
    if test is None:
        test = _model_test(unclamped, best_model, best_mv, alpha)
    if test["significant"]:
        method, chosen, best = "label_model", unclamped, best_model
    else:
        method, chosen, best = "majority", shares, best_mv
    return Combination(method, chosen, best, unclamped, shares, confusion, prior, covered, test, iterations,
                       converged)  # fmt: skip
