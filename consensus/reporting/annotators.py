"""Reads for the annotators page and an annotator's own page: gold accuracy, agreement with the
consensus, the aggregator's confusion matrix (as SVG geometry), speed and flags.

A fixed number of queries whatever the number of annotators: the latest estimate's
reliabilities, the current votes per voter, the votes on gold items, and the answer times.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db.models import Count, Q

from annotation.answers.choice import nominal_key
from annotation.labeling.models import ExternalAnnotator, Vote, VoteKind
from annotation.projects.models import Membership, Project, Role
from consensus import adapters, quality
from consensus.decisions.models import Estimate, Reliability
from consensus.decisions.selectors import estimate_latest
from consensus.reporting.agreement import scale_color
from consensus.reporting.charts import shorten

MATRIX_CELL = 22


@dataclass(frozen=True)
class MatrixCell:
    x: int
    y: int
    fill: str
    text: str  # the percentage drawn in the cell
    dark: bool  # light text on a dark cell
    title: str


@dataclass(frozen=True)
class ConfusionPicture:
    labels: list[tuple[int, str]]  # (position, key) along both axes
    cells: list[MatrixCell]
    cell: int
    margin: int
    size: int


@dataclass
class AnnotatorQuality:
    key: str  # "u<user id>" or "e<external id>": what the suspend form posts
    name: str
    role: str  # a member's role, or "imported"
    user_id: int | None
    external_id: int | None
    votes: int = 0
    suspended: bool = False
    suspended_reason: str = ""
    gold: quality.Interval | None = None
    agreement: float | None = None
    chance: float | None = None
    accuracy: float | None = None  # the aggregator's estimate
    weight: float | None = None
    median_seconds: float | None = None
    flags: list[quality.Flag] = field(default_factory=list)
    confusion: ConfusionPicture | None = None


@dataclass
class QualityReport:
    estimate: Estimate | None
    rows: list[AnnotatorQuality]
    min_gold_accuracy: float
    gold_items: int

    @property
    def flagged(self) -> list[AnnotatorQuality]:
        return [r for r in self.rows if r.flags and not r.suspended]


def _key(user_id: int | None, external_id: int | None) -> str:
    return f"u{user_id}" if user_id is not None else f"e{external_id}"


def annotator_quality(*, project: Project, user_id: int | None = None) -> QualityReport:
    """Every annotator of the project who is a member with the annotator role or has votes —
    or only the member ``user_id`` (their own page) — with their figures and flags."""
    estimate = estimate_latest(project_id=project.pk)
    current = Vote.objects.filter(project=project, kind=VoteKind.VOTE, superseded_by__isnull=True)
    if user_id is not None:
        current = current.filter(annotator_id=user_id)
    rows: dict[str, AnnotatorQuality] = {}
    members = Membership.objects.filter(project=project).select_related("user")
    if user_id is not None:
        members = members.filter(user_id=user_id)
    voted = {
        _key(r["annotator_id"], r["external_id"]): r["n"]
        for r in current.values("annotator_id", "external_id").annotate(n=Count("id")).order_by()
    }
    for m in members:
        key = _key(m.user_id, None)
        if m.role == Role.ANNOTATOR or key in voted:
            rows[key] = AnnotatorQuality(key, m.user.get_username(), m.role, m.user_id, None,
                                         suspended=m.suspended_at is not None, suspended_reason=m.suspended_reason)  # fmt: skip
    if user_id is None:
        externals = ExternalAnnotator.objects.filter(project=project).filter(Q(suspended_at__isnull=False) | Q(votes__isnull=False)).distinct()
        for e in externals:
            rows[_key(None, e.pk)] = AnnotatorQuality(_key(None, e.pk), e.name + adapters.IMPORTED_MARK, "imported", None, e.pk,
                                                      suspended=e.suspended_at is not None, suspended_reason=e.suspended_reason)  # fmt: skip
    for key, n in voted.items():
        if key in rows:
            rows[key].votes = n
    labels = list(estimate.labels) if estimate else []
    k = len(labels)
    reliabilities = {
        _key(r.annotator_id, r.external_id): r
        for r in Reliability.objects.filter(estimate=estimate).only(
            "annotator_id", "external_id", "confusion", "accuracy", "agreement", "compared", "answers", "weight"
        )
    } if estimate else {}  # fmt: skip
    gold_right: dict[str, int] = defaultdict(int)
    gold_total: dict[str, int] = defaultdict(int)
    for u, e, value, gold in current.filter(item__gold__isnull=False).values_list("annotator_id", "external_id", "value", "item__gold"):
        key = _key(u, e)
        gold_total[key] += 1
        gold_right[key] += value is not None and nominal_key(value) == nominal_key(gold)
    times: dict[str, list[int]] = defaultdict(list)
    for u, ms in current.filter(annotator__isnull=False, time_spent_ms__gt=0).values_list("annotator_id", "time_spent_ms").iterator(chunk_size=20000):
        times[_key(u, None)].append(ms)
    order = list(rows)
    stats_rows = []
    for key in order:
        r = reliabilities.get(key)
        ms = times.get(key, [])
        answers = np.asarray(r.answers if r is not None and len(r.answers) == k else np.zeros(k), dtype=float)
        stats_rows.append(
            quality.AnnotatorStats(
                answers=answers,
                agree=round((r.agreement or 0.0) * r.compared) if r is not None else 0,
                compared=r.compared if r is not None else 0,
                gold_right=gold_right.get(key, 0), gold_total=gold_total.get(key, 0),
                median_ms=float(np.median(ms)) if ms else None, timed=len(ms),
            )  # fmt: skip
        )
    prior = np.asarray(estimate.class_prior) if estimate else np.zeros(0)
    assessed = quality.assess(stats_rows, consensus_shares=prior, min_gold_accuracy=project.min_gold_accuracy)
    for key, s, a in zip(order, stats_rows, assessed, strict=True):
        row, r = rows[key], reliabilities.get(key)
        row.gold, row.agreement, row.chance, row.flags = a.gold, a.agreement, a.chance, a.flags
        row.median_seconds = s.median_ms / 1000 if s.median_ms else None
        if r is not None:
            row.accuracy, row.weight = r.accuracy, r.weight
            row.confusion = confusion_picture(np.asarray(r.confusion), labels)
    ordered = sorted(rows.values(), key=lambda q: (q.suspended, not q.flags, -q.votes, q.name))
    gold_items = project.items.filter(gold__isnull=False).count()
    return QualityReport(estimate, ordered, project.min_gold_accuracy, gold_items)


def confusion_picture(matrix: np.ndarray, labels: list[str], cell: int = MATRIX_CELL) -> ConfusionPicture:
    """Rows: the true label; columns: the label given. Each cell is the probability of giving
    that answer, which is the colour and the number in the cell."""
    margin = 12 + 7 * max((len(shorten(key, 10)) for key in labels), default=3)
    cells = []
    for i, truth in enumerate(labels):
        for j, given in enumerate(labels):
            p = float(matrix[i, j]) if i < len(matrix) and j < len(matrix[i]) else 0.0
            cells.append(
                MatrixCell(
                    x=margin + j * cell, y=margin + i * cell, fill=scale_color(p), text=f"{round(p * 100)}", dark=p > 0.45,
                    title=f"truly {truth}, answers {given}: {p:.0%}",
                )  # fmt: skip
            )
    axis = [(margin + n * cell + cell // 2, shorten(key, 10)) for n, key in enumerate(labels)]
    return ConfusionPicture(axis, cells, cell, margin, margin + len(labels) * cell + 2)


def own_progress(*, project: Project, user_id: int) -> dict[str, Any]:
    """What an annotator sees of their own quality: gold accuracy, and nothing of anyone else."""
    report = annotator_quality(project=project, user_id=user_id)
    row = report.rows[0] if report.rows else None
    return {"row": row, "min_gold_accuracy": report.min_gold_accuracy}
