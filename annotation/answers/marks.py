"""What box and span answers share: checking a list of marks and their labels, one-to-one matching
of two answers' marks, and the figures built on it. Pure; no Django here.

Two answers' marks are paired by the Hungarian method (``scipy.optimize.linear_sum_assignment``)
so that the total overlap (IoU) of the pairs is as large as it can be, each mark in at most one
pair, and no pair below a threshold. Greedy pairing (best IoU first) can pair a box with its
neighbour's and leave both partners unmatched; the optimum cannot.

From a matching, for two answers ``a`` and ``b`` with ``|a|`` and ``|b|`` marks:

- ``f1`` — ``2 · pairs / (|a| + |b|)``: the share of marks that found a partner. It is the F1 of
  either answer scored against the other, so it is symmetric and needs no "truth" (Hripcsak &
  Rothschild, 2005). 1 when both answers are empty ("nothing to mark here" twice).
- ``mean_iou`` — the mean overlap of the pairs: how closely matched marks agree (NaN without pairs).
- ``similarity`` — ``2 · Σ IoU of the pairs / (|a| + |b|)``: both at once, in [0, 1]; 1 for identical
  answers, 0 when nothing overlaps. ``distance = 1 − similarity`` is the distance used for
  Krippendorff's alpha over box and span answers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from annotation.answers.choice import AnswerInvalid


def check_list(
    value: Any, *, noun: str, plural: str, fields: tuple[str, ...], limit: int
) -> list[dict[str, Any]]:
    """The raw answer as a list of dicts with only known fields, at most ``limit`` of them."""
    if value is None or value == "":
        raise AnswerInvalid(
            "value", f"Mark at least one {noun}, or answer “nothing to mark here” (an empty list)."
        )
    if not isinstance(value, list):
        raise AnswerInvalid("value", f"An answer is a list of {plural}.")
    if len(value) > limit:
        raise AnswerInvalid("value", f"At most {limit} {plural} in one answer; this one has {len(value)}.")
    for i, mark in enumerate(value):
        if not isinstance(mark, dict):
            raise AnswerInvalid(f"value[{i}]", f"Each {noun} is an object with {', '.join(fields)}.")
        unknown = sorted(set(mark) - set(fields))
        if unknown:
            raise AnswerInvalid(
                f"value[{i}]", f"Unknown field {unknown[0]!r}; a {noun} has {', '.join(fields)}."
            )
    return value


def check_label(mark: dict[str, Any], i: int, label_keys: Sequence[str], *, version: int) -> str:
    """The mark's label: a key of the rulebook, or the only key when there is just one."""
    label = mark.get("label")
    if label in (None, "") and len(label_keys) == 1:
        return label_keys[0]
    if not isinstance(label, str) or not label:
        raise AnswerInvalid(f"value[{i}].label", "Give a label (a label key).")
    if label not in label_keys:
        raise AnswerInvalid(
            f"value[{i}].label",
            f"Label {label!r} is not in rulebook v{version}; its labels are {', '.join(label_keys)}.",
        )
    return label


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = a.shape[-1] // 2
    low = np.maximum(a[..., :d], b[..., :d])
    high = np.minimum(a[..., d:], b[..., d:])
    inter = np.prod(np.clip(high - low, 0, None), axis=-1)
    union = np.prod(a[..., d:] - a[..., :d], axis=-1) + np.prod(b[..., d:] - b[..., :d], axis=-1) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every mark in ``a`` with every mark in ``b``, ``len(a) × len(b)``. Marks are rows of
    low corner then high corner: ``x1, y1, x2, y2`` for boxes, ``start, end`` for spans (a span is
    a box in one dimension, and its IoU the share of characters the two have in common)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    return _iou(a[:, None, :], b[None, :, :])


def iou_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of each mark in ``a`` with the mark in the same row of ``b`` (or with ``b``'s one row)."""
    return _iou(a, b)


@dataclass(frozen=True)
class Pairs:
    """Indices of matched marks in the two answers, and each pair's overlap."""

    a: np.ndarray
    b: np.ndarray
    iou: np.ndarray


def pair_up(iou: np.ndarray, *, min_iou: float) -> Pairs:
    """The one-to-one pairing with the largest total IoU among pairs whose IoU is at least
    ``min_iou`` and above 0 (marks that do not overlap are never partners)."""
    rows, cols = iou.shape
    if rows == 0 or cols == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Pairs(empty, empty, np.zeros(0))
    allowed = (iou >= min_iou) & (iou > 0)
    # Forbidden pairs weigh 0: taking one adds nothing to the total, so dropping them afterwards
    # leaves a matching that is still optimal among the allowed pairs.
    gain = np.where(allowed, iou, 0.0)
    a, b = linear_sum_assignment(gain, maximize=True)
    keep = allowed[a, b]
    return Pairs(a[keep].astype(np.int64), b[keep].astype(np.int64), iou[a[keep], b[keep]])


@dataclass(frozen=True)
class Comparison:
    """Two answers compared: their sizes, how many marks paired up, and the pairs' total IoU."""

    size_a: int
    size_b: int
    pairs: int
    overlap: float

    @property
    def f1(self) -> float:
        total = self.size_a + self.size_b
        return 1.0 if total == 0 else 2 * self.pairs / total

    @property
    def mean_iou(self) -> float:
        return self.overlap / self.pairs if self.pairs else math.nan

    @property
    def similarity(self) -> float:
        total = self.size_a + self.size_b
        return 1.0 if total == 0 else 2 * self.overlap / total

    @property
    def distance(self) -> float:
        return 1.0 - self.similarity


def compare_labeled(
    iou: np.ndarray, labels_a: Sequence[str], labels_b: Sequence[str], *, min_iou: float, labels: bool
) -> Comparison:
    """Compare two answers from their IoU matrix. With ``labels``, marks pair only with marks of
    the same label (a box around the right tree with the wrong label is a miss)."""
    if labels and iou.size:
        same = np.asarray(labels_a, dtype=object)[:, None] == np.asarray(labels_b, dtype=object)[None, :]
        iou = np.where(same, iou, 0.0)
    pairs = pair_up(iou, min_iou=min_iou)
    return Comparison(len(labels_a), len(labels_b), len(pairs.a), float(pairs.iou.sum()))


@dataclass(frozen=True)
class ItemAgreement:
    """How far several annotators' answers to one item agree, over every pair of annotators.

    ``mean_iou`` is the mean overlap of all matched pairs (NaN when nothing matched),
    ``matched_share`` the share of marks that found a partner (pooled ``f1``), ``similarity`` the
    mean of the pairs' similarity — the item's agreement figure. With fewer than two answers all
    three are NaN: agreement is undefined, as for a choice item with one vote.
    """

    answers: int
    mean_iou: float
    matched_share: float
    similarity: float


def item_agreement(answers: Sequence[Any], compare: Callable[[Any, Any], Comparison]) -> ItemAgreement:
    if len(answers) < 2:
        return ItemAgreement(len(answers), math.nan, math.nan, math.nan)
    found = [compare(a, b) for a, b in combinations(answers, 2)]
    pairs = sum(c.pairs for c in found)
    marks = sum(c.size_a + c.size_b for c in found)
    return ItemAgreement(
        answers=len(answers),
        mean_iou=sum(c.overlap for c in found) / pairs if pairs else math.nan,
        matched_share=1.0 if marks == 0 else 2 * pairs / marks,
        similarity=float(np.mean([c.similarity for c in found])),
    )
