"""Project-wide agreement over box and span answers (marks). Pure numpy; no Django here.

The answers of a project arrive as one mapping per item, annotator index → normalised answer
(``[]`` is "nothing to mark here"; an annotator who did not answer the item is absent):
``items[n][annotator] = answer``. ``compare`` is ``annotation.answers.boxes.compare`` or
``.spans.compare`` (with any threshold bound), so the same figures serve both question types.

- ``pair_f1``: per-label F1 between every pair of annotators — for each label, the marks of that
  label that the other annotator also made (paired as in ``compare``), ``2·pairs / (marks of a +
  marks of b)`` — pooled over the items both answered; per label over all pairs, and the project
  figure over all labels and pairs. F1 and not kappa: marks have no countable "negatives" (every
  unmarked region would be one), and F1 between two annotators is symmetric (Hripcsak &
  Rothschild, 2005). Empty answers add nothing to either count: agreeing that an image is empty is
  counted by ``alpha`` and by the items' ``similarity``, not here.
- ``alpha``: Krippendorff's alpha with the answers' distance (``1 − similarity``):
  ``1 − D_observed / D_expected``, where D_observed averages the distance between answers to the
  same item (each item weighted as in Krippendorff's coincidences, pairs / (answers − 1)) and
  D_expected between any two answers in the project (a seeded sample when there are many).
- ``annotator_agreement``: each annotator's mean similarity to the consensus of the items they
  answered — a reliability figure that ``consensus.fusion`` can take as weights.
- ``localisation_spread``: how far each annotator's box edges stray, as a share of the box's size —
  the "three-cornered hat" of metrology: the mean squared difference between two annotators' matched
  edges is the sum of their two variances, so with three or more annotators each one's own
  variance follows from the pairs (least squares), with no truth and no consensus needed.
  ``consensus.fusion.fuse_boxes`` averages corners with weights ``1 / spread²``. It is a separate
  figure from reliability on purpose: an annotator who draws precisely but misses half the trees
  should place corners with weight, but not outvote others on whether a tree is there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
from scipy.optimize import nnls

from annotation.answers.marks import Comparison, iou_matrix, pair_up

Answer = Sequence[dict[str, Any]]
Items = Sequence[Mapping[int, Answer]]
Compare = Callable[[Answer, Answer], Comparison]

ALPHA_PAIRS = 20_000  # cross-item pairs sampled for D_expected beyond this many
MIN_SPREAD = 0.01  # no annotator places edges closer than 1% of a box: no unbounded weights


@dataclass(frozen=True)
class PairF1:
    """Per-label F1 between annotator pairs.

    ``f1[a, b, label]`` (NaN where neither made a mark of that label on an item both answered),
    ``pairs`` and ``marks`` the counts behind it (``marks[a, b, l]`` counts a's and b's marks);
    ``per_label`` pooled over all pairs, ``overall`` over everything — the project figure."""

    labels: tuple[str, ...]
    f1: np.ndarray
    pairs: np.ndarray
    marks: np.ndarray
    per_label: np.ndarray
    overall: float


def _ratio(pairs: np.ndarray, marks: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(marks > 0, 2 * pairs / np.maximum(marks, 1), np.nan)


def pair_f1(items: Items, *, compare: Compare, labels: Sequence[str], n_annotators: int) -> PairF1:
    index = {label: n for n, label in enumerate(labels)}
    pairs = np.zeros((n_annotators, n_annotators, len(labels)), dtype=np.int64)
    marks = np.zeros_like(pairs)
    for answers in items:
        for a, b in combinations(sorted(answers), 2):
            for label, n in index.items():
                mine = [m for m in answers[a] if m["label"] == label]
                theirs = [m for m in answers[b] if m["label"] == label]
                if not mine and not theirs:
                    continue
                c = compare(mine, theirs)
                pairs[a, b, n] += c.pairs
                marks[a, b, n] += c.size_a + c.size_b
    pairs = pairs + pairs.transpose(1, 0, 2)
    marks = marks + marks.transpose(1, 0, 2)
    upper = np.triu(np.ones((n_annotators, n_annotators), dtype=bool), 1)
    label_pairs, label_marks = pairs[upper].sum(0), marks[upper].sum(0)
    overall = _ratio(np.array(label_pairs.sum()), np.array(label_marks.sum()))
    return PairF1(
        labels=tuple(labels),
        f1=_ratio(pairs, marks),
        pairs=pairs,
        marks=marks,
        per_label=_ratio(label_pairs, label_marks),
        overall=float(overall),
    )


def alpha(items: Items, *, compare: Compare, seed: int = 0, max_pairs: int = ALPHA_PAIRS) -> float:
    """Krippendorff's alpha with the distance ``1 − similarity``; NaN without an item of two
    answers, or when every answer in the project is the same (no disagreement to expect)."""
    pooled: list[Answer] = []
    observed, weight = 0.0, 0.0
    for answers in items:
        values = list(answers.values())
        if len(values) < 2:
            continue
        pooled.extend(values)
        # Each unordered pair counts twice (both orders) and the item weighs 1 / (m − 1).
        total = sum(compare(a, b).distance for a, b in combinations(values, 2))
        observed += 2 * total / (len(values) - 1)
        weight += len(values)
    if weight == 0:
        return math.nan
    n = len(pooled)
    every = n * (n - 1) // 2
    if every <= max_pairs:
        chosen: Sequence[tuple[int, int]] = list(combinations(range(n), 2))
    else:
        rng = np.random.default_rng(seed)
        i = rng.integers(0, n, max_pairs)
        j = (i + rng.integers(1, n, max_pairs)) % n  # never i itself
        chosen = list(zip(i.tolist(), j.tolist(), strict=True))
    expected = float(np.mean([compare(pooled[i], pooled[j]).distance for i, j in chosen]))
    if expected == 0:
        return math.nan
    return 1.0 - (observed / weight) / expected


def annotator_agreement(
    items: Items, consensus: Sequence[Answer], *, compare: Compare, n_annotators: int
) -> tuple[np.ndarray, np.ndarray]:
    """(agreement, answered): each annotator's mean similarity to the consensus over the items
    they answered (NaN for none), and how many that was."""
    total = np.zeros(n_annotators)
    answered = np.zeros(n_annotators, dtype=np.int64)
    for answers, agreed in zip(items, consensus, strict=True):
        for k, answer in answers.items():
            total[k] += compare(answer, agreed).similarity
            answered[k] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(answered > 0, total / np.maximum(answered, 1), np.nan), answered


def localisation_spread(
    items: Items,
    *,
    geometry: Callable[[Answer], np.ndarray],
    min_iou: float,
    n_annotators: int,
) -> np.ndarray:
    """Per annotator, the standard deviation of their edges relative to the mark's size (NaN for
    an annotator never matched with another). ``geometry`` gives ``n × 2d`` arrays of low then high
    corners (``boxes.corners``); marks pair up as in ``compare``, labels aside."""
    squares = np.zeros((n_annotators, n_annotators))
    counts = np.zeros((n_annotators, n_annotators))
    for answers in items:
        shapes = {k: geometry(a) for k, a in answers.items()}
        for j, k in combinations(sorted(shapes), 2):
            pairs = pair_up(iou_matrix(shapes[j], shapes[k]), min_iou=min_iou)
            if not len(pairs.a):
                continue
            a, b = shapes[j][pairs.a], shapes[k][pairs.b]
            half = a.shape[1] // 2
            size = (a[:, half:] - a[:, :half] + b[:, half:] - b[:, :half]) / 2
            offsets = (a - b) / np.concatenate([size, size], axis=1)
            squares[j, k] += float((offsets**2).sum())
            counts[j, k] += offsets.size
    # Each pair's mean square is the sum of the two variances: least squares, weighted by the
    # pair's count, non-negative, with a faint pull toward an equal split for an annotator
    # seen with only one other (where the pair alone cannot tell whose error is whose).
    rows, targets = [], []
    for j, k in zip(*np.nonzero(counts), strict=True):
        row = np.zeros(n_annotators)
        row[[j, k]] = 1.0
        scale = np.sqrt(counts[j, k])
        rows.append(row * scale)
        targets.append(squares[j, k] / counts[j, k] * scale)
    seen = (counts + counts.T).sum(1) > 0
    if not rows:
        return np.full(n_annotators, np.nan)
    typical = float(squares.sum() / counts.sum()) / 2
    pull = 1e-3 * np.sqrt(counts.sum() / max(1, seen.sum()))
    for k in np.flatnonzero(seen):
        row = np.zeros(n_annotators)
        row[k] = pull
        rows.append(row)
        targets.append(pull * typical)
    variance, _ = nnls(np.array(rows), np.array(targets))
    return np.where(seen, np.sqrt(np.maximum(variance, MIN_SPREAD**2)), np.nan)
