"""Agreement over votes, as numpy arrays. No Django here (a test checks).

Votes arrive as aligned integer arrays — ``item``, ``annotator``, ``label`` indices, one entry a
vote — wrapped in ``Votes``. Multiple-choice votes carry a boolean row per vote instead of one
label (``MultiVotes``). Krippendorff's alpha is computed by the ``krippendorff`` package from
per-item value counts (items × labels), never from an annotators × items matrix, so a million
votes stay cheap; ``level_of_measurement`` is always given: "nominal" by default, "ordinal" for a
graded scale (its labels in their order, as the rulebook lists them), where confusing two grades
that lie far apart — over many votes in between — costs more than confusing neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import krippendorff
import numpy as np
from scipy import sparse


@dataclass(frozen=True)
class Votes:
    item: np.ndarray  # int, one entry a vote
    annotator: np.ndarray
    label: np.ndarray
    n_items: int
    n_annotators: int
    n_labels: int

    def __post_init__(self) -> None:
        if not (len(self.item) == len(self.annotator) == len(self.label)):
            raise ValueError("item, annotator and label must be the same length")


@dataclass(frozen=True)
class MultiVotes:
    item: np.ndarray
    annotator: np.ndarray
    chosen: np.ndarray  # bool, votes × labels
    n_items: int
    n_annotators: int


def _count_pairs(rows: np.ndarray, columns: np.ndarray, n_rows: int, n_columns: int) -> np.ndarray:
    """How often each (row, column) pair occurs, as a rows × columns int64 array."""
    rows = np.asarray(rows, dtype=np.int64)
    columns = np.asarray(columns, dtype=np.int64)
    if len(rows) and (
        rows.min() < 0 or rows.max() >= n_rows or columns.min() < 0 or columns.max() >= n_columns
    ):
        raise IndexError("vote index out of range")
    # One bincount over flat indices: several times faster than np.add.at on a million votes.
    counts = np.bincount(rows * n_columns + columns, minlength=n_rows * n_columns)
    return counts.astype(np.int64, copy=False).reshape(n_rows, n_columns)


def value_counts(votes: Votes) -> np.ndarray:
    """How many votes each item got for each label (items × labels)."""
    return _count_pairs(votes.item, votes.label, votes.n_items, votes.n_labels)


LEVELS = ("nominal", "ordinal")


def alpha_from_counts(counts: np.ndarray, *, level_of_measurement: str = "nominal") -> float:
    """Krippendorff's alpha from items × labels value counts, over the items with at least two
    votes; NaN when undefined. For "ordinal" the columns are the labels in their order."""
    if level_of_measurement not in LEVELS:
        raise ValueError(f"level_of_measurement must be one of {', '.join(LEVELS)}, not {level_of_measurement!r}")
    pairable = counts.sum(1) >= 2
    if pairable.sum() == 0 or np.count_nonzero(counts[pairable].sum(0)) < 2:
        return float("nan")  # no pairs, or one value everywhere: alpha is undefined
    return float(krippendorff.alpha(value_counts=counts[pairable], level_of_measurement=level_of_measurement))


def alpha_nominal(votes: Votes) -> float:
    """Krippendorff's alpha, nominal, over all items with at least two votes; NaN when undefined."""
    return alpha_from_counts(value_counts(votes))


def alpha_ordinal(votes: Votes) -> float:
    """Krippendorff's alpha, ordinal: label indices are grades in order (0 lowest)."""
    return alpha_from_counts(value_counts(votes), level_of_measurement="ordinal")


def alpha_per_label(votes: MultiVotes) -> np.ndarray:
    """Multiple choice: alpha of the yes/no decision for each label (nominal, binary)."""
    out = np.full(votes.chosen.shape[1], np.nan)
    for k in range(votes.chosen.shape[1]):
        out[k] = alpha_from_counts(_count_pairs(votes.item, votes.chosen[:, k], votes.n_items, 2))
    return out


def alpha_bootstrap(
    votes: Votes, *, samples: int = 1000, level: float = 0.95, seed: int = 0, level_of_measurement: str = "nominal"
) -> tuple[float, float]:
    """A percentile bootstrap interval for alpha, resampling items (the unit that varies in a
    project) with replacement. Returns (low, high); NaNs when undefined."""
    counts = value_counts(votes)
    counts = counts[counts.sum(1) >= 2]
    if len(counts) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(counts), size=(samples, len(counts)))
    alphas = np.array([alpha_from_counts(counts[d], level_of_measurement=level_of_measurement) for d in draws])
    alphas = alphas[~np.isnan(alphas)]
    if len(alphas) == 0:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(alphas, [tail, 100 - tail])
    return float(low), float(high)


def item_agreement(votes: Votes) -> np.ndarray:
    """Per item, the share of its votes given to its most-voted label (NaN without votes)."""
    counts = value_counts(votes)
    total = counts.sum(1)
    if counts.shape[1] == 0:
        return np.full(len(counts), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, counts.max(1) / total, np.nan)


def pairwise_agreement(votes: Votes) -> tuple[np.ndarray, np.ndarray]:
    """(agreement, shared): for each pair of annotators, the share of the items both labeled
    on which they gave the same label (NaN when they share none), and how many they share."""
    n = len(votes.item)
    ones = np.ones(n)
    by_item = sparse.csr_matrix(
        (ones, (votes.annotator, votes.item)), shape=(votes.n_annotators, votes.n_items)
    )
    by_answer = sparse.csr_matrix(
        (ones, (votes.annotator, votes.item * votes.n_labels + votes.label)),
        shape=(votes.n_annotators, votes.n_items * votes.n_labels),
    )
    shared = (by_item @ by_item.T).toarray()
    same = (by_answer @ by_answer.T).toarray()
    with np.errstate(invalid="ignore", divide="ignore"):
        agreement = np.where(shared > 0, same / shared, np.nan)
    return agreement, shared.astype(np.int64)


def cohen_kappa(a: np.ndarray, b: np.ndarray, n_labels: int) -> float:
    """Cohen's kappa of two annotators' labels on the same items (aligned arrays)."""
    if len(a) == 0:
        return float("nan")
    table = np.zeros((n_labels, n_labels))
    np.add.at(table, (a, b), 1)
    table /= table.sum()
    observed = np.trace(table)
    expected = float(table.sum(1) @ table.sum(0))
    if expected == 1:
        return float("nan")
    return float((observed - expected) / (1 - expected))


def fleiss_kappa(votes: Votes) -> float:
    """Fleiss' kappa over items with at least two votes. With unequal numbers of votes per item
    each item's agreement is averaged with equal weight (the usual generalisation)."""
    counts = value_counts(votes).astype(float)
    counts = counts[counts.sum(1) >= 2]
    if len(counts) == 0:
        return float("nan")
    n = counts.sum(1)
    per_item = ((counts * counts).sum(1) - n) / (n * (n - 1))
    shares = counts.sum(0) / counts.sum()
    expected = float((shares**2).sum())
    if expected == 1:
        return float("nan")
    return float((per_item.mean() - expected) / (1 - expected))


def finite(x: float | None, digits: int | None = None) -> float | None:
    """``x`` as a plain float for JSON and the database (rounded to ``digits`` if given), or None
    when it is missing, NaN or infinite (PostgreSQL's jsonb refuses NaN)."""
    if x is None or not np.isfinite(x):
        return None
    return float(x) if digits is None else round(float(x), digits)

