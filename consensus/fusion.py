"""Consensus for box and span answers: several annotators' marks merged into one answer. Pure
numpy and scipy; no Django here.

Input: the answers to one item (each a normalised answer from ``annotation.answers.boxes`` or
``.spans``; ``[]`` is "nothing to mark here" and counts as an answer), and a reliability weight per
annotator (positive; equal when not given) — for boxes also, when known, each annotator's
localisation spread. Annotators who did not answer are not passed at all. ``box_weights`` and
``span_weights`` estimate both from a project's votes alone.

1. **Match** (``_cluster``). Annotators are taken heaviest first (ties by their answer, so the
   order they are passed in never matters). The first one's marks each start a cluster; each next
   annotator's marks are paired one-to-one with the clusters' current centres (the weighted mean
   box or span so far) by the Hungarian method on IoU — at least ``min_iou`` (0.5 for boxes, any
   shared character for spans) — and a mark with no partner starts a cluster of its own. A cluster
   thus holds at most one mark per annotator, which weighted boxes fusion (WBF) does not ensure.
2. **Keep** a cluster when the weight of the annotators who marked it is at least ``quorum`` (by
   default half) of the weight of all who answered — so a box one careless annotator adds, or one
   they miss, does not change the consensus.
3. **Merge**: a box's corners are the weighted mean of its members' corners (WBF's average with
   reliability in place of detector confidence, or ``1 / spread²`` — inverse-variance weights —
   when the spreads are given: an annotator who places edges twice as loosely counts a quarter
   as much in the average, but the same in the vote on whether the box is there); a span's start and end are each chosen by
   weighted vote among its members' starts and ends (a boundary is a choice between characters,
   and a vote keeps the common one exactly where an average would land between words); the
   label, for either, by weighted vote.

What the policy needs (``consensus.policy.decide``) comes with the result:

- per merged mark: ``support`` (weighted share of annotators who marked it), ``label_share``,
  ``agreement`` (boxes: weighted mean IoU of its members with the merged box; spans: weighted share
  of members with exactly its boundaries), ``tie`` (label or boundary vote tied), and
  ``confidence`` — for a kept mark, ``support × label_share`` (× the boundary share for spans),
  for a dropped one ``1 − support``: how sure the decision to keep or drop it is;
- per item: ``confidence``, the least sure of those decisions (1 when nobody marked anything) —
  the role the posterior plays for choices; ``agreement``, the weighted mean similarity of each
  answer to the consensus (``marks.Comparison.similarity``: 1 when everyone drew the consensus);
  ``tie``, when some vote tied, a cluster stands exactly at the quorum, or two kept marks could not
  stand together (the same mark twice, or overlapping spans where the rulebook forbids overlaps)
  and the less sure one was dropped.

The defaults (``QUORUM`` 0.5, the match thresholds of the answer modules) are one configuration
for every project; bench/boxes.py and bench/spans.py measure it, docs/benchmarks.md has the figures.

Why over 400 lines: Box and span fusion share one match-and-keep procedure, so both live here.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from annotation.answers import boxes, marks, spans
from consensus import mark_agreement

QUORUM = 0.5
_EPS = 1e-9
_LABEL_BONUS = 1e-6  # breaks ties between equal overlaps, never outweighs a real difference

Answer = Sequence[dict[str, Any]]


@dataclass(frozen=True)
class FusedMark:
    """One cluster of matched marks and what it merged into.

    ``members`` are ``(annotator, mark)`` index pairs into the answers passed in."""

    value: dict[str, Any]
    kept: bool
    support: float
    label_share: float
    agreement: float
    confidence: float
    tie: bool
    members: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Fusion:
    """The consensus answer of one item (``value``, ``[]`` when nothing is kept) and its figures."""

    value: list[dict[str, Any]]
    marks: tuple[FusedMark, ...]  # kept first, each group by confidence
    confidence: float
    agreement: float
    tie: bool
    answers: int


def _per_annotator(answers: Sequence[Answer], values: Sequence[float] | None, name: str) -> np.ndarray:
    if values is None:
        return np.ones(len(answers))
    v = np.asarray(values, dtype=float)
    if v.shape != (len(answers),):
        raise ValueError(f"{len(answers)} answers but {v.size} {name}")
    if not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise ValueError(f"{name} must be positive numbers, one per answer")
    return v


def _cluster(
    answers: Sequence[Answer],
    geometry: list[np.ndarray],
    w: np.ndarray,  # the geometry's weights
    order: list[int],
    min_iou: float,
) -> list[list[tuple[int, int]]]:
    """Clusters of ``(annotator, mark)``, at most one mark per annotator (see the module doc)."""
    clusters: list[list[tuple[int, int]]] = []
    sums: list[np.ndarray] = []  # weighted sum of member geometry, per cluster
    mass: list[float] = []
    leading: list[dict[str, float]] = []  # label → weight, per cluster
    for k in order:
        mine = geometry[k]
        if len(mine) == 0:
            continue
        if clusters:
            overlap = marks.iou_matrix(mine, np.array([s / m for s, m in zip(sums, mass, strict=True)]))
            # Between equally good partners, the cluster whose leading label is the mark's own:
            # two boxes drawn on the same spot with different labels stay apart.
            leads = np.array([max(c, key=c.__getitem__) for c in leading], dtype=object)
            same = np.array([m["label"] for m in answers[k]], dtype=object)[:, None] == leads[None, :]
            overlap = np.where((overlap >= min_iou) & (overlap > 0) & same, overlap + _LABEL_BONUS, overlap)
        else:
            overlap = np.zeros((len(mine), 0))
        pairs = marks.pair_up(overlap, min_iou=min_iou)
        partner = dict(zip(pairs.a.tolist(), pairs.b.tolist(), strict=True))
        for i in range(len(mine)):
            c = partner.get(i)
            if c is None:
                clusters.append([])
                sums.append(np.zeros_like(mine[i]))
                mass.append(0.0)
                leading.append({})
                c = len(clusters) - 1
            clusters[c].append((k, i))
            sums[c] = sums[c] + w[k] * mine[i]
            mass[c] += w[k]
            label = answers[k][i]["label"]
            leading[c][label] = leading[c].get(label, 0.0) + w[k]
    return clusters


def _order(answers: Sequence[Answer], w: np.ndarray) -> list[int]:
    """Heaviest first; equal weights by their answers, so the order passed in does not matter."""
    return sorted(range(len(answers)), key=lambda k: (-w[k], [sorted(m.items()) for m in answers[k]]))


def _vote(values: Sequence[Any], w: np.ndarray, prefer: Callable[[Any], Any]) -> tuple[Any, float, bool]:
    """The weighted vote's winner, its share, and whether another value tied it; a tie goes to
    the value ``prefer`` ranks lowest (the caller reports the tie)."""
    totals: dict[Any, float] = {}
    for value, weight in zip(values, w, strict=True):
        totals[value] = totals.get(value, 0.0) + float(weight)
    top = max(totals.values())
    best = sorted((v for v, t in totals.items() if t >= top - _EPS * top), key=prefer)
    return best[0], min(1.0, top / float(w.sum())), len(best) > 1


@dataclass(frozen=True)
class _Merged:
    value: dict[str, Any]
    label_share: float
    agreement: float
    boundary_share: float
    tie: bool


@dataclass(frozen=True)
class _Members:
    """Every clustered mark in one flat list, cluster by cluster: cluster ``c`` holds the rows
    ``starts[c]:starts[c + 1]``, with each mark's geometry and its annotator's two weights."""

    starts: np.ndarray
    marks: list[dict[str, Any]]
    geometry: np.ndarray
    w: np.ndarray
    wg: np.ndarray

    @classmethod
    def of(
        cls, clusters: list[list[tuple[int, int]]], answers: Sequence[Answer], shapes: list[np.ndarray],
        w: np.ndarray, wg: np.ndarray,
    ) -> _Members:  # fmt: skip
        flat = [member for members in clusters for member in members]
        return cls(
            starts=np.cumsum([0] + [len(members) for members in clusters]),
            marks=[answers[k][i] for k, i in flat],
            geometry=np.array([shapes[k][i] for k, i in flat]),
            w=w[[k for k, _ in flat]],
            wg=wg[[k for k, _ in flat]],
        )

    def total(self, values: np.ndarray) -> np.ndarray:
        """``values`` (one row per mark) summed per cluster."""
        return np.add.reduceat(values, self.starts[:-1], axis=0)

    def cluster(self, c: int) -> slice:
        return slice(int(self.starts[c]), int(self.starts[c + 1]))


def _fuse(
    answers: Sequence[Answer],
    weights: Sequence[float] | None,
    spread: Sequence[float] | None,
    *,
    quorum: float,
    min_iou: float,
    geometry: Callable[[Answer], np.ndarray],
    merge: Callable[[_Members], list[_Merged]],
    compare: Callable[[Answer, Answer], marks.Comparison],
    conflicts: Callable[[dict[str, Any], dict[str, Any]], bool],
) -> Fusion:
    if not 0 < quorum <= 1:
        raise ValueError(f"quorum is a share of the annotators, in (0, 1]; not {quorum}")
    w = _per_annotator(answers, weights, "weights")
    # How closely each annotator places edges: the weights of their corners in an average.
    wg = w if spread is None else 1 / _per_annotator(answers, spread, "spreads") ** 2
    if len(answers) == 0:
        return Fusion([], (), math.nan, math.nan, False, 0)
    shapes = [geometry(a) for a in answers]
    clusters = _cluster(answers, shapes, wg, _order(answers, w), min_iou)
    fused: list[FusedMark] = []
    if clusters:
        members = _Members.of(clusters, answers, shapes, w, wg)
        supports = np.minimum(1.0, members.total(members.w) / float(w.sum()))
        for merged, support, cluster in zip(merge(members), supports.tolist(), clusters, strict=True):
            kept = support >= quorum - _EPS
            confidence = support * merged.label_share * merged.boundary_share if kept else 1 - support
            fused.append(
                FusedMark(
                    value=merged.value, kept=kept, support=support, label_share=merged.label_share,
                    agreement=merged.agreement, confidence=confidence,
                    tie=merged.tie or abs(support - quorum) <= _EPS, members=tuple(cluster),
                )
            )  # fmt: skip
    fused.sort(key=lambda f: (not f.kept, -f.confidence, -f.support, sorted(f.value.items())))
    # Two kept marks that cannot stand together (the same mark twice; overlapping spans where
    # the rulebook forbids overlaps): the surer one stays, and the item is reported as tied.
    conflict = False
    accepted: list[FusedMark] = []
    for i, f in enumerate(fused):
        if f.kept and any(conflicts(f.value, a.value) for a in accepted):
            fused[i] = FusedMark(
                f.value, False, f.support, f.label_share, f.agreement, 1 - f.support, True, f.members
            )
            conflict = True
        elif f.kept:
            accepted.append(f)
    fused.sort(key=lambda f: (not f.kept, -f.confidence, -f.support, sorted(f.value.items())))
    value = [f.value for f in fused if f.kept]
    agreement = float(np.average([compare(a, value).similarity for a in answers], weights=w))
    return Fusion(
        value=value,
        marks=tuple(fused),
        confidence=min((f.confidence for f in fused), default=1.0),
        agreement=agreement,
        tie=conflict or any(f.tie for f in fused),
        answers=len(answers),
    )


def _label_vote(members: list[dict[str, Any]], w: np.ndarray, fit: np.ndarray) -> tuple[str, float, bool]:
    """The weighted vote on a cluster's label; a tie goes to the label of the member that fits the
    merged mark best (``fit``: each member's IoU with it), then to the first in alphabetical order."""
    best_fit: dict[str, float] = {}
    for m, overlap in zip(members, fit, strict=True):
        best_fit[m["label"]] = max(best_fit.get(m["label"], 0.0), float(overlap))
    return _vote([m["label"] for m in members], w, lambda label: (-best_fit[label], label))


def _merge_boxes(members: _Members) -> list[_Merged]:
    # All clusters at once: the weighted mean corners, each member's IoU with its merged box.
    corners = np.round(
        members.total(members.geometry * members.wg[:, None]) / members.total(members.wg)[:, None], 2
    )
    fit = marks.iou_rows(members.geometry, np.repeat(corners, np.diff(members.starts), axis=0))
    agreement = members.total(fit * members.w) / members.total(members.w)
    out = []
    for c, (x1, y1, x2, y2) in enumerate(corners.tolist()):
        rows = members.cluster(c)
        label, share, tie = _label_vote(members.marks[rows], members.w[rows], fit[rows])
        value = {"x": x1, "y": y1, "w": round(x2 - x1, 2), "h": round(y2 - y1, 2), "label": label}
        out.append(_Merged(value, share, float(agreement[c]), 1.0, tie))
    return out


def fuse_boxes(
    answers: Sequence[Answer],
    *,
    weights: Sequence[float] | None = None,
    spread: Sequence[float] | None = None,
    quorum: float = QUORUM,
    min_iou: float = boxes.MATCH_IOU,
) -> Fusion:
    """The consensus of several box answers to one image (see the module doc). ``spread``, when
    known, is each annotator's localisation error (``mark_agreement.localisation_spread``): the
    corners are then averaged with weights ``1 / spread²`` instead of ``weights``."""
    fusion = _fuse(
        answers, weights, spread, quorum=quorum, min_iou=min_iou, geometry=boxes.corners,
        merge=_merge_boxes, compare=lambda a, b: boxes.compare(a, b, min_iou=min_iou), conflicts=operator.eq,
    )  # fmt: skip
    fusion.value.sort(key=lambda b: (b["y"], b["x"], b["h"], b["w"], b["label"]))
    return fusion


def _merge_spans(members: _Members) -> list[_Merged]:
    return [
        _merge_span(members.marks[rows], members.geometry[rows], members.w[rows])
        for rows in map(members.cluster, range(len(members.starts) - 1))
    ]


def _merge_span(members: list[dict[str, Any]], ends: np.ndarray, w: np.ndarray) -> _Merged:
    mean_start, mean_end = np.average(ends, axis=0, weights=w)
    start, _, start_tie = _vote([m["start"] for m in members], w, lambda s: (abs(s - mean_start), s))
    # The end among members that end after the chosen start (at least the start's own member).
    after = [i for i, m in enumerate(members) if m["end"] > start]
    end, _, end_tie = _vote([members[i]["end"] for i in after], w[after], lambda e: (abs(e - mean_end), e))
    fit = marks.iou_rows(ends, np.array([[start, end]], dtype=float))
    label, share, label_tie = _label_vote(members, w, fit)
    boundary_share = float(w[fit == 1.0].sum() / w.sum())
    value = {"start": int(start), "end": int(end), "label": label}
    return _Merged(value, share, boundary_share, boundary_share, start_tie or end_tie or label_tie)


def _spans_overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def fuse_spans(
    answers: Sequence[Answer],
    *,
    weights: Sequence[float] | None = None,
    quorum: float = QUORUM,
    min_iou: float = spans.MATCH_IOU,
    overlap: bool = False,
) -> Fusion:
    """The consensus of several span answers to one text (see the module doc). Without
    ``overlap`` the consensus never holds two spans that share a character."""
    fusion = _fuse(
        answers, weights, None, quorum=quorum, min_iou=min_iou, geometry=spans.ranges,
        merge=_merge_spans, compare=lambda a, b: spans.compare(a, b, min_iou=min_iou),
        conflicts=operator.eq if overlap else _spans_overlap,
    )  # fmt: skip
    fusion.value.sort(key=lambda s: (s["start"], s["end"], s["label"]))
    return fusion


# --- annotator weights from the votes ------------------------------------------------------------

Items = Sequence[Mapping[int, Answer]]


@dataclass(frozen=True)
class AnnotatorWeights:
    """What ``fuse_boxes`` / ``fuse_spans`` take per annotator, estimated from a project's votes.

    ``weights``: agreement with a first, equally weighted consensus (``marks.Comparison.similarity``,
    at least ``MIN_WEIGHT``; 1 for an annotator without answers). ``spread`` (boxes only): the
    localisation spread (``mark_agreement.localisation_spread``; the median where unknown)."""

    weights: np.ndarray
    spread: np.ndarray | None
    answered: np.ndarray


MIN_WEIGHT = 0.05


def _agreement_weights(
    items: Items,
    consensus: list[list[dict[str, Any]]],
    compare: Callable[[Answer, Answer], marks.Comparison],
    n_annotators: int,
) -> tuple[np.ndarray, np.ndarray]:
    agreement, answered = mark_agreement.annotator_agreement(
        items, consensus, compare=compare, n_annotators=n_annotators
    )
    return np.where(np.isnan(agreement), 1.0, np.maximum(agreement, MIN_WEIGHT)), answered


def box_weights(items: Items, *, n_annotators: int) -> AnnotatorWeights:
    """Weights and spreads for box projects. ``items[n]`` maps annotator index → answer."""
    first = [fuse_boxes(list(answers.values())).value for answers in items]
    weights, answered = _agreement_weights(items, first, boxes.compare, n_annotators)
    spread = mark_agreement.localisation_spread(
        items, geometry=boxes.corners, min_iou=boxes.MATCH_IOU, n_annotators=n_annotators
    )
    known = np.isfinite(spread)
    spread = np.where(known, spread, np.median(spread[known]) if known.any() else 1.0)
    return AnnotatorWeights(weights, spread, answered)


def span_weights(items: Items, *, n_annotators: int, overlap: bool = False) -> AnnotatorWeights:
    """Weights for span projects (boundaries are voted, not averaged: no spread)."""
    first = [fuse_spans(list(answers.values()), overlap=overlap).value for answers in items]
    weights, answered = _agreement_weights(items, first, spans.compare, n_annotators)
    return AnnotatorWeights(weights, None, answered)
