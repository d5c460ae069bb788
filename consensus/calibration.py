"""Auto-labeling gated by measured precision. Pure numpy and scipy; no Django here.

A machine voter (the built-in learner, an external model, the rules' combination) labels an item
with a confidence. The admin sets a target precision (say 0.97). Three questions, three functions:

``choose_threshold`` — above which confidence may the machine's label become ground truth?
    Precision above a threshold t is measured on human-verified items (gold, ground truth): of
    the n verified items with confidence ≥ t, k had the machine's label right. Its one-sided
    lower bound at level 1 − ``alpha`` (95%) is Clopper–Pearson's exact one: the ``alpha``
    quantile of Beta(k, n − k + 1). A threshold qualifies when that bound reaches the target.
    *Many thresholds*: looking at many bounds and keeping the lowest that passes would make a
    false pass far more likely than ``alpha``. So the thresholds form a fixed sequence — a grid
    (``GRID``, 0.999 down to 0.5) walked from the highest down, stopping at the first that fails —
    and the lowest threshold passed before that is chosen. Fixed-sequence testing (Bauer 1991;
    "Learn then Test", Angelopoulos et al. 2021) keeps the chance that the chosen threshold's true
    precision is below the target at ``alpha`` or less, without shrinking each test's level,
    because no threshold is tested unless every higher one passed. The walk starts at the highest
    grid point with at least ``start_items`` verified items above it (by default three times the
    fewest that can pass, or all of them: a first step on barely enough items fails on one error
    and ends the walk). This depends on the confidences only, not on right or wrong, so the order
    stays fixed in advance. A grid point that adds no verified item to the one above measures
    nothing new and is skipped, so the threshold never goes below the lowest verified confidence
    it was measured on.
    *A batch, not only a model*: the bound above is on the model's precision; the realised share
    of right auto-labels among N items scatters around it (sd ≈ √(p(1−p)/N)). Given the
    confidences of the items waiting (``pool_confidence``), each step bounds their realised
    precision instead (``batch_lower_bound``, an exact prediction bound, at level ``alpha`` / 2:
    whether a batch falls short is itself random, which the fixed sequence's argument does not
    cover), so that the auto-labels actually made hold the target, not only the model in the
    long run.
    *Too few to measure*: even with every verified item right, the bound reaches p only from
    n ≥ ln(alpha) / ln(p) items (99 for 0.97); below that nothing is auto-labeled, and
    ``Gate.reason`` says how many more are needed.

``audit_select`` — which auto-labels still go to humans?
    A random share (default 5%) of the items above the threshold, decided per item by a hash of
    (seed, item id): stable when asked again, and unknowable to annotators.

``audit_check`` — is the precision holding?
    The audits, in the order their items were auto-labeled, are a random sample of the
    auto-labels. After each, the last ℓ audits are checked for every ℓ in ``WINDOWS``
    (25, 50, 100, …) that fits: if the one-sided upper bound of their precision (Clopper–
    Pearson, level 1 − ``alpha`` / number of windows, a Bonferroni split; ``alpha`` is
    ``ALARM_ALPHA`` = 0.01, smaller than the gate's because the check looks again after every
    audit and each look is a chance of a false stop) is below the target, the audits show the
    precision has dropped, and auto-labeling stops. Short windows catch a sharp drop soon; long
    ones a slow slide. Then the start of the drop is sought, erring early: the earliest audit from
    which the audits up to now, taken alone, are below the target at 80% confidence. The audit
    before it is the last good one; every auto-label made after that goes back to labeling.
    ``audits_to_detect`` says how many audits after a drop this takes: for precision falling to
    0.88 against a target of 0.97, the 50-audit window catches it with probability 0.56 and the
    100-audit window with 0.86 (at a 5% audit share, 1,000 and 2,000 auto-labels after the drop;
    docs/benchmarks.md has the simulation).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as scipy_stats

ALPHA = 0.05
ALARM_ALPHA = 0.02  # the audit check looks again after every audit: a smaller level per look
GRID = tuple(np.round(np.concatenate([[0.999, 0.998, 0.995], np.arange(0.99, 0.499, -0.01)]), 3).tolist())
WINDOWS = (25, 50, 100, 200, 400, 800)
LOCATE_ALPHA = 0.2  # how sure a run of audits must be below target to count as part of the drop
AUDIT_SHARE = 0.05
MIN_VERIFIED = 50  # verified items before a threshold is even sought, whatever the target
START_FACTOR = 3  # the walk starts where this many times the items needed lie above (power for the first step)


def lower_bound(correct: np.ndarray | int, n: np.ndarray | int, alpha: float = ALPHA) -> np.ndarray:
    """Clopper–Pearson one-sided lower bound of a binomial share at level 1 − alpha (0 when k = 0,
    NaN when n = 0)."""
    k, n = np.asarray(correct, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore"):
        bound = scipy_stats.beta.ppf(alpha, k, n - k + 1)
    return np.where(n == 0, np.nan, np.where(k == 0, 0.0, bound))


def upper_bound(correct: np.ndarray | int, n: np.ndarray | int, alpha: float = ALPHA) -> np.ndarray:
    """Clopper–Pearson one-sided upper bound at level 1 − alpha (1 when k = n, NaN when n = 0)."""
    k, n = np.asarray(correct, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore"):
        bound = scipy_stats.beta.ppf(1 - alpha, k + 1, n - k)
    return np.where(n == 0, np.nan, np.where(k == n, 1.0, bound))


def items_needed(target: float, alpha: float = ALPHA) -> int:
    """The fewest verified items, all right, whose lower bound reaches ``target``: ln α / ln p."""
    return max(MIN_VERIFIED, math.ceil(math.log(alpha) / math.log(target) - 1e-9))


@dataclass(frozen=True)
class Gate:
    threshold: float | None  # auto-label where confidence ≥ threshold; None: nothing is auto-labeled
    target: float
    verified: int  # verified items measured on
    needed: int  # verified items needed before any threshold can be set
    n_above: int  # verified items at or above the threshold
    correct_above: int
    precision: float | None  # measured on them
    lower: float | None  # its one-sided lower bound
    reason: str  # in plain words, for the page
    steps: list[dict] = field(default_factory=list)  # each grid point tested: threshold, n, correct, lower, passed


def batch_lower_bound(correct: int, n: int, batch: int, alpha: float = ALPHA) -> float:
    """A lower prediction bound, at level 1 − ``alpha``, on the share right among ``batch`` new
    items, from ``correct`` of ``n`` verified, the new and the verified items being drawn alike.
    Exact and free of the unknown precision: given the total right t among all n + ``batch``
    items, how many of them fell among the verified is hypergeometric, so a batch with only y
    right is ruled out when k or more right among the verified would then be rarer than
    ``alpha`` (the two-sample conditional argument behind Thatcher's binomial prediction limits).
    A batch of 700 auto-labels at a true precision of 0.975 falls below 0.97 one time in five;
    this bound leaves room for that."""
    if batch == 0:
        return float(lower_bound(correct, n, alpha))
    y = np.arange(batch + 1)
    plausible = scipy_stats.hypergeom.sf(correct - 1, n + batch, correct + y, n) > alpha
    return float(y[plausible].min()) / batch


def choose_threshold(
    confidence: np.ndarray,
    correct: np.ndarray,
    *,
    target: float,
    alpha: float = ALPHA,
    grid: Sequence[float] = GRID,
    start_items: int | None = None,
    pool_confidence: np.ndarray | None = None,
) -> Gate:
    """The lowest confidence threshold whose precision on verified items clears ``target`` at
    confidence 1 − ``alpha``, by fixed-sequence testing down ``grid`` (module docstring).
    ``confidence``: the machine's confidence in its label for each verified item; ``correct``:
    whether that label matched the verified one. ``pool_confidence``: the confidences of the
    items waiting to be labeled; given, the bound is on the realised precision of those that
    would be auto-labeled (``batch_lower_bound``), not only on the model's."""
    if not 0 < target < 1:
        raise ValueError("target precision must be between 0 and 1")
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=bool)
    if confidence.shape != correct.shape:
        raise ValueError("confidence and correct must be the same length")
    needed = items_needed(target, alpha)
    start = min(START_FACTOR * needed, len(confidence)) if start_items is None else start_items
    verified = len(confidence)
    pool = None if pool_confidence is None else np.sort(np.asarray(pool_confidence, dtype=float))

    def bound(k: int, n: int, threshold: float) -> float:
        if pool is None:
            return float(lower_bound(k, n, alpha))
        # at alpha / 2: whether a batch falls short is random, so the fixed sequence no longer
        # guarantees its level by itself (measured in docs/benchmarks.md: at alpha 6 of 90 runs
        # fell short, at alpha / 2 1 of 77)
        return batch_lower_bound(k, n, len(pool) - int(np.searchsorted(pool, threshold, side="left")), alpha / 2)

    def gate(threshold, n, k, reason, steps):
        precision = k / n if n else None
        low = bound(k, n, threshold if threshold is not None else 1.0) if n else None
        return Gate(threshold, target, verified, needed, n, k, precision, low, reason, steps)

    if verified < needed:
        return gate(None, 0, 0, f"Too few human-verified items to measure precision: {verified} of the "
                    f"{needed} needed for a target of {target:g}.", [])  # fmt: skip
    order = np.argsort(-confidence, kind="stable")
    sorted_conf, right = confidence[order], np.cumsum(correct[order])
    points = np.array(sorted(set(grid), reverse=True))
    n_at = np.searchsorted(-sorted_conf, -points, side="right")  # items with confidence ≥ each point
    k_at = np.where(n_at > 0, right[np.maximum(n_at - 1, 0)], 0)
    first = np.flatnonzero(n_at >= start)
    if not len(first):
        return gate(None, 0, 0, f"Fewer than {start} verified items lie above any threshold of the grid.", [])
    steps, chosen = [], None
    for i in range(first[0], len(points)):
        if steps and n_at[i] == steps[-1]["n"]:
            continue  # no verified item between this point and the last: nothing new to measure
        low = bound(int(k_at[i]), int(n_at[i]), float(points[i]))
        passed = low >= target
        steps.append({"threshold": float(points[i]), "n": int(n_at[i]), "correct": int(k_at[i]), "lower": low,
                      "passed": bool(passed)})  # fmt: skip
        if not passed:
            break
        chosen = i
    if chosen is None:
        s = steps[0]
        return gate(None, s["n"], s["correct"], f"Precision is not shown to reach {target:g}: at confidence "
                    f"{s['threshold']:g} its lower bound is {s['lower']:.3f}.", steps)  # fmt: skip
    n, k, threshold = int(n_at[chosen]), int(k_at[chosen]), float(points[chosen])
    return gate(threshold, n, k, f"Auto-labeling where confidence ≥ {threshold:g}: {k} of {n} verified items "
                f"right, precision ≥ {bound(k, n, threshold):.3f} at {1 - alpha:.0%} confidence.", steps)  # fmt: skip


def audit_select(item_ids: Sequence[int | str], *, share: float = AUDIT_SHARE, seed: int | str = 0) -> np.ndarray:
    """Per item, whether its auto-label goes to humans for audit: a uniform draw from a hash of
    (seed, item id) below ``share``. The same item gets the same answer every time."""
    if not 0 <= share <= 1:
        raise ValueError("audit share must be between 0 and 1")
    out = np.zeros(len(item_ids), dtype=bool)
    for i, item in enumerate(item_ids):
        digest = hashlib.blake2b(f"{seed}:{item}".encode(), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "big") / 2**64 < share
    return out


@dataclass(frozen=True)
class AuditCheck:
    stopped: bool
    audits: int
    correct: int
    precision: float | None  # over all audits given
    lower: float | None  # two one-sided 95% bounds of it, for the page
    upper: float | None
    window: int | None  # the longest window that failed, if any
    window_correct: int | None
    window_upper: float | None
    last_good: int | None  # index of the last good audit (None: none before the failing window)
    return_from: int | None  # auto-labels from this position on go back to labeling (None: none)
    reason: str


def _windows(n: int, windows: Sequence[int]) -> list[int]:
    return [w for w in windows if w <= n]


def audit_check(
    correct: Sequence[bool],
    positions: Sequence[int] | None = None,
    *,
    target: float,
    alpha: float = ALARM_ALPHA,
    windows: Sequence[int] = WINDOWS,
) -> AuditCheck:
    """Whether the audits so far show precision fell below ``target`` (module docstring).
    ``correct``: per audit, in the order the items were auto-labeled, whether the human agreed;
    ``positions``: each audited item's index among all auto-labels (default: 0, 1, 2, …), so
    the answer can say from which auto-label on they go back."""
    correct = np.asarray(correct, dtype=bool)
    n = len(correct)
    positions = np.arange(n) if positions is None else np.asarray(positions)
    k = int(correct.sum())
    overall = (k / n if n else None, float(lower_bound(k, n, alpha)) if n else None,
               float(upper_bound(k, n, alpha)) if n else None)  # fmt: skip
    fitting = _windows(n, windows)
    failing = None
    if fitting:
        level = alpha / len(windows)  # every window counts, so the level never depends on how many fit yet
        tail = np.concatenate([[0], np.cumsum(correct[::-1])])  # correct among the last w audits
        for w in fitting:
            upper = float(upper_bound(tail[w], w, level))
            if upper < target:
                failing = (w, int(tail[w]), upper)  # keep the longest
    if failing is None:
        return AuditCheck(False, n, k, *overall, None, None, None, None, None,
                          f"Audits hold: {k} of {n} auto-labels confirmed.")  # fmt: skip
    w, kw, upper = failing
    last_good = _last_good(correct, target)
    return_from = int(positions[last_good]) + 1 if last_good is not None else 0
    reason = (f"Auto-labeling stopped: the last {w} audits confirmed {kw}, so precision is below {target:g} "
              f"(upper bound {upper:.3f}); auto-labels since the last good audit go back to labeling.")
    return AuditCheck(True, n, k, *overall, w, kw, upper, last_good, return_from, reason)


def _last_good(correct: np.ndarray, target: float) -> int | None:
    """Where the drop began, erring early: the audit just before the earliest start s whose run of
    audits s … now, taken alone, is below ``target`` at 80% confidence (``LOCATE_ALPHA``). Pre-drop
    audits dilute a run, so the earliest such start lies at or before the drop unless a run of
    errors came just before it by chance; None when it is the first audit. (At the alarm's own
    level, 95%+, the start was placed after the drop in 2 of 75 simulated runs, leaving about a
    thousand bad auto-labels in place; a good auto-label sent back costs one human vote.)"""
    n = len(correct)
    right_from = np.cumsum(correct[::-1])[::-1]  # correct among audits s … n−1
    failing = np.flatnonzero(upper_bound(right_from, n - np.arange(n), LOCATE_ALPHA) < target)
    start = int(failing[0]) if len(failing) else n - 1
    return start - 1 if start > 0 else None


def audits_to_detect(
    precision_after: float,
    *,
    target: float,
    alpha: float = ALARM_ALPHA,
    power: float = 0.8,
    windows: Sequence[int] = WINDOWS,
    max_audits: int = 100_000,
) -> dict:
    """How many audits after a drop to ``precision_after`` the check needs to stop auto-labeling
    with probability ``power``: the smallest window w in ``windows`` such that, with w audits all
    after the drop, the upper bound (at the Bonferroni-split level the check uses at that point)
    falls below ``target`` with at least that probability. Exact binomial arithmetic."""
    for w in windows:
        if w > max_audits:
            break
        level = alpha / len(windows)
        ks = np.arange(w + 1)
        fails = upper_bound(ks, w, level) < target
        if not fails.any():
            continue
        k_max = int(ks[fails].max())
        detect = float(scipy_stats.binom.cdf(k_max, w, precision_after))
        if detect >= power:
            return {"audits": w, "probability": detect, "max_correct": k_max}
    return {"audits": None, "probability": 0.0, "max_correct": None}
