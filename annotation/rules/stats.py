"""How labeling rules behave on a set of items, from their items × rules matrix. Pure numpy; no Django.

The measures and their definitions are Snorkel's ``LFAnalysis`` (a test checks them against it
on the same matrix), so figures from either tool mean the same thing:

- ``coverage``: the share of items a rule labels (does not abstain on);
- ``overlaps``: the share of items a rule labels and at least one other rule labels too;
- ``conflicts``: the share of items a rule labels and at least one other rule labels differently;
- ``polarity``: the labels a rule has voted;
- against the truth (ground truth or gold, where known): ``correct`` and ``incorrect`` counts and
  the empirical ``accuracy`` = correct / (correct + incorrect), with a Wilson score interval.

Two deliberate differences from Snorkel: items whose truth is unknown (``UNKNOWN``) are left out
of the accuracy, where Snorkel would count them as wrong (it expects every item's truth); and a
rule with no item to judge it on has accuracy NaN, "not measured", where Snorkel shows 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

ABSTAIN = -1
UNKNOWN = -1  # truth of an item that has none yet


@dataclass(frozen=True)
class RuleStats:
    n_items: int
    polarity: tuple[tuple[int, ...], ...]  # per rule, the label indices it voted, ascending
    coverage: np.ndarray  # per rule, shares of all items
    overlaps: np.ndarray
    conflicts: np.ndarray
    label_coverage: float  # share of items at least one rule labels
    label_overlap: float  # … at least two rules label
    label_conflict: float  # … two rules label differently
    judged: np.ndarray  # per rule, items it labels whose truth is known
    correct: np.ndarray
    incorrect: np.ndarray
    accuracy: np.ndarray  # correct / judged; NaN where nothing was judged
    accuracy_low: np.ndarray  # Wilson score interval at ``confidence``
    accuracy_high: np.ndarray
    confidence: float

    def as_rows(self) -> list[dict]:
        """One JSON-ready dict per rule, for pages and the API."""

        def number(x: float) -> float | None:
            return None if np.isnan(x) else float(x)

        return [
            {"polarity": list(self.polarity[j]), "coverage": float(self.coverage[j]),
             "overlaps": float(self.overlaps[j]), "conflicts": float(self.conflicts[j]),
             "judged": int(self.judged[j]), "correct": int(self.correct[j]), "incorrect": int(self.incorrect[j]),
             "accuracy": number(self.accuracy[j]), "accuracy_low": number(self.accuracy_low[j]),
             "accuracy_high": number(self.accuracy_high[j])}  # fmt: skip
            for j in range(len(self.polarity))
        ]


def wilson_interval(successes: np.ndarray, trials: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson's score interval for a binomial share; NaN where there are no trials. Chosen over the
    normal approximation because a new rule is judged on a handful of items, often all right."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = scipy_stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low, high = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    none = n == 0
    low[none] = high[none] = np.nan
    return low, high


def rule_stats(matrix: np.ndarray, *, truth: np.ndarray | None = None, confidence: float = 0.95) -> RuleStats:
    """The measures of the module docstring for every rule (column) of ``matrix``; ``truth`` is
    per item a label index or ``UNKNOWN``."""
    matrix = np.asarray(matrix)
    n, m = matrix.shape
    labeled = matrix != ABSTAIN
    count = labeled.sum(1)
    overlapped = count > 1
    if m:
        top = matrix.max(1)  # abstain (-1) is below every label
        # a sentinel of the matrix's own type: a wider one would wrap around in an int16 matrix
        bottom = np.where(labeled, matrix, np.array(np.iinfo(matrix.dtype).max, dtype=matrix.dtype)).min(1)
        conflicted = (count > 1) & (top != bottom)
    else:
        conflicted = np.zeros(n, dtype=bool)
    share = 1.0 / n if n else 0.0
    coverage = labeled.sum(0) * share
    overlaps = (labeled & overlapped[:, None]).sum(0) * share
    conflicts = (labeled & conflicted[:, None]).sum(0) * share
    polarity = tuple(tuple(int(x) for x in np.unique(matrix[labeled[:, j], j])) for j in range(m))
    if truth is None:
        judged_cells = np.zeros_like(labeled)
        right = judged_cells
    else:
        truth = np.asarray(truth)
        if truth.shape != (n,):
            raise ValueError(f"truth has {truth.shape} entries for {n} items")
        judged_cells = labeled & (truth != UNKNOWN)[:, None]
        right = judged_cells & (matrix == truth[:, None])
    judged, correct = judged_cells.sum(0), right.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        accuracy = np.where(judged > 0, correct / np.maximum(judged, 1), np.nan)
    low, high = wilson_interval(correct, judged, confidence)
    return RuleStats(
        n_items=n, polarity=polarity, coverage=coverage, overlaps=overlaps, conflicts=conflicts,
        label_coverage=float((count > 0).sum() * share), label_overlap=float(overlapped.sum() * share),
        label_conflict=float(conflicted.sum() * share), judged=judged, correct=correct, incorrect=judged - correct,
        accuracy=accuracy, accuracy_low=low, accuracy_high=high, confidence=confidence,
    )  # fmt: skip


def disagreements(matrix: np.ndarray, *, truth: np.ndarray, rule: int) -> np.ndarray:
    """Indices of the items ``rule`` labels differently from their known truth — the ones to look at."""
    column = np.asarray(matrix)[:, rule]
    truth = np.asarray(truth)
    return np.flatnonzero((column != ABSTAIN) & (truth != UNKNOWN) & (column != truth))
