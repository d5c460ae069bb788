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
from django.db.models import Count

from annotation.answers.choice import nominal_key
from annotation.labeling.models import Vote, VoteKind
from annotation.projects.models import Project, Role
from annotation.voters.models import Voter, VoterKind, display_name
from consensus import quality
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
    voter_id: int  # what the suspend form posts
    name: str
    role: str  # a member's role, or "imported"
    user_id: int | None
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


def annotator_quality(*, project: Project, user_id: int | None = None) -> QualityReport:
    """Every voter of the project who is a member with the annotator role or has votes, and
    every imported annotator with votes or a suspension — or only the member ``user_id`` (their
    own page) — with their figures and flags."""
    estimate = estimate_latest(project_id=project.pk)
    current = Vote.objects.filter(project=project, kind=VoteKind.VOTE, superseded_by__isnull=True)
    voters = Voter.objects.filter(project=project).select_related("user", "membership")
    if user_id is not None:
        current = current.filter(voter__user_id=user_id)
        voters = voters.filter(user_id=user_id)
    voted = dict(current.values_list("voter_id").annotate(n=Count("id")).order_by())
    rows: dict[int, AnnotatorQuality] = {}
    for v in voters:
        membership = getattr(v, "membership", None)
        if v.kind == VoterKind.MEMBER:
            # A member who left keeps their voter, but is not listed (as before voters existed).
            if membership is None or (membership.role != Role.ANNOTATOR and v.pk not in voted):
                continue
            role = membership.role
        elif v.pk in voted or v.suspended_at is not None:
            role = "imported" if v.kind == VoterKind.EXTERNAL else v.kind
        else:
            continue
        name = display_name(kind=v.kind, username=v.user.get_username() if v.user else None, name=v.name)
        rows[v.pk] = AnnotatorQuality(v.pk, name, role, v.user_id, votes=voted.get(v.pk, 0),
                                      suspended=v.suspended_at is not None, suspended_reason=v.suspended_reason)  # fmt: skip
    labels = list(estimate.labels) if estimate else []
    k = len(labels)
    reliabilities = {
        r.voter_id: r
        for r in Reliability.objects.filter(estimate=estimate).only(
            "voter_id", "confusion", "accuracy", "agreement", "compared", "answers", "weight"
        )
    } if estimate else {}  # fmt: skip
    gold_right: dict[int, int] = defaultdict(int)
    gold_total: dict[int, int] = defaultdict(int)
    for key, value, gold in current.filter(item__gold__isnull=False).values_list("voter_id", "value", "item__gold"):
        gold_total[key] += 1
        gold_right[key] += value is not None and nominal_key(value) == nominal_key(gold)
    times: dict[int, list[int]] = defaultdict(list)
    # Answer times of people: imported votes carry none.
    for key, ms in current.filter(time_spent_ms__gt=0).values_list("voter_id", "time_spent_ms").iterator(chunk_size=20000):
        times[key].append(ms)
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
