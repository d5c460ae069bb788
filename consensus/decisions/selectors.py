"""Reads: every current vote aggregated (no writes), the latest estimate, and ground truth for
export. The agreement page's figures are in ``reports``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models import QuerySet

from annotation.items.models import Item, ItemState
from annotation.labeling.models import Vote, VoteKind
from annotation.projects.models import AuditEvent, Project, QuestionType
from consensus import aggregation
from consensus.adapters import ItemVote, ProjectVotes, item_votes, project_votes
from consensus.decisions.models import Estimate, GroundTruth, Reliability
from consensus.metrics import alpha_from_counts, finite, value_counts
from consensus.review.models import ReviewCase

UNESTIMATED_ACCURACY = 0.8  # what a vote is assumed worth before any estimate exists


def project_label_keys(project: Project) -> list[str]:
    version = project.current_rulebook
    return version.label_keys if version else []


@dataclass
class Computed:
    pv: ProjectVotes
    result: aggregation.Result
    counts: np.ndarray  # items × labels
    n_votes: np.ndarray  # label votes per item
    agreement: np.ndarray  # share of the best label, per item (NaN without votes)
    alpha: float
    method: str


def consensus_compute(*, project: Project, method: str = aggregation.DEFAULT_METHOD) -> Computed:
    """Aggregate every current vote of the project; no writes."""
    if method not in aggregation.METHODS:
        raise ValueError(f"Unknown method {method!r}; use one of {', '.join(aggregation.METHODS)}.")
    pv = project_votes(project_id=project.pk, labels=project_label_keys(project))
    if not pv.labels:
        return _without_labels(pv, method)
    result = aggregation.METHODS[method](pv.votes, gold=pv.gold)
    counts = value_counts(pv.votes)
    n_votes = counts.sum(1)
    best = np.maximum(result.best, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        agreement = np.where(n_votes > 0, counts[np.arange(len(counts)), best] / n_votes, np.nan)
    return Computed(pv, result, counts, n_votes, agreement, alpha_from_counts(counts), method)


def _without_labels(pv: ProjectVotes, method: str) -> Computed:
    """Before the first rulebook there are no labels, hence no votes nor gold to aggregate (the
    aggregators need at least one label): every item is undecided."""
    n = len(pv.item_ids)
    result = aggregation.Result(
        method, np.zeros((n, 0)), np.full(n, aggregation.TIE), np.zeros((pv.votes.n_annotators, 0, 0)), np.zeros(0)
    )
    return Computed(pv, result, np.zeros((n, 0), dtype=np.int64), np.zeros(n, dtype=np.int64), np.full(n, np.nan), float("nan"), method)


def estimate_latest(*, project_id: int) -> Estimate | None:
    """The project's newest reliability estimate, or None before the first."""
    return Estimate.objects.filter(project_id=project_id).order_by("-id").first()


def symmetric_confusion(k: int, accuracy: float = UNESTIMATED_ACCURACY) -> np.ndarray:
    if k < 2:
        return np.ones((k, k))
    m = np.full((k, k), (1 - accuracy) / (k - 1))
    np.fill_diagonal(m, accuracy)
    return m


@dataclass
class ItemConsensus:
    """One item's current consensus from its counting votes and the latest estimate."""

    votes: list[ItemVote]  # every counting vote, claims included
    labels: list[str]  # label keys, aligned with ``posterior``
    posterior: np.ndarray  # empty when the item has no label votes
    shares: np.ndarray  # share of label votes per label
    estimate: Estimate | None

    @property
    def label_votes(self) -> list[ItemVote]:
        return [v for v in self.votes if v.key is not None]

    @property
    def claims(self) -> int:
        return sum(v.key is None for v in self.votes)

    @property
    def unsure(self) -> int:
        return sum(v.unsure for v in self.label_votes)

    @property
    def best(self) -> int:
        """Index of the best label, or ``aggregation.TIE`` (also when there are no label votes)."""
        return int(aggregation.best_labels(self.posterior[None, :])[0]) if len(self.posterior) else aggregation.TIE

    @property
    def distribution(self) -> dict[str, float]:
        return {key: round(float(p), 6) for key, p in zip(self.labels, self.posterior, strict=False)}

    @property
    def share_of(self) -> dict[str, float]:
        return {key: round(float(p), 6) for key, p in zip(self.labels, self.shares, strict=False)}

    @property
    def vote_ids(self) -> list[int]:
        return [v.id for v in self.label_votes]


def item_consensus(*, project: Project, item_id: int, estimate: Estimate | None = None) -> ItemConsensus:
    """The item's posterior from its counting votes and the annotators' confusion matrices of
    ``estimate`` (the latest by default); annotators without one count as the crowd's average,
    or ``UNESTIMATED_ACCURACY`` before any estimate exists."""
    estimate = estimate if estimate is not None else estimate_latest(project_id=project.pk)
    votes = item_votes(item_id=item_id, project_id=project.pk)
    label_votes = [v for v in votes if v.key is not None]
    labels = project_label_keys(project)
    if not label_votes:
        return ItemConsensus(votes, labels, np.zeros(0), np.zeros(0), estimate)
    if estimate is not None and estimate.labels[: len(labels)] == labels:
        labels = list(estimate.labels)
    index = {key: n for n, key in enumerate(labels)}
    for v in label_votes:
        if v.key not in index:
            index[v.key] = len(labels)
            labels.append(v.key)
    k = len(labels)
    fallback = symmetric_confusion(k)
    prior = np.full(k, 1.0 / k)
    confusions: dict[int, tuple[np.ndarray, float]] = {}
    if estimate is not None and len(estimate.labels) == k:
        fallback = np.asarray(estimate.default_confusion)
        prior = np.asarray(estimate.class_prior)
        rows = Reliability.objects.filter(estimate=estimate, voter_id__in={v.voter for v in label_votes}).values_list(
            "voter_id", "confusion", "weight"
        )
        confusions = {voter: (np.asarray(c), w) for voter, c, w in rows}
    known = [confusions.get(v.voter, (fallback, 1.0)) for v in label_votes]
    stack = np.stack([c for c, _ in known])
    given = np.array([index[v.key] for v in label_votes], dtype=np.int64)
    weights = np.array([w for _, w in known])
    posterior = aggregation.item_posterior(np.arange(len(label_votes)), given, stack, prior, weights)
    shares = np.bincount(given, minlength=k) / len(label_votes)
    return ItemConsensus(votes, labels, posterior, shares, estimate)


EXPORT_COLUMNS = (
    "item", "label", "posterior", "state", "source", "agreement", "votes", "method", "rulebook_version",
    "decided_at", "reviewer", "item_id",
)  # fmt: skip


def ground_truth_export(*, project: Project, all_items: bool = False) -> Iterator[dict[str, Any]]:
    """One record per item with ground truth (gold items count, with their gold label), with
    its provenance. ``all_items`` adds every other item that is not excluded, with its current
    best label (empty on a tie or without votes), posterior and state.

    Ground truth is read and the votes aggregated when this is called, not when the first record
    is taken: a streamed response built on it fails before it starts, with a status, not halfway."""
    gts = {
        gt.item_id: gt
        for gt in GroundTruth.objects.filter(project=project, withdrawn_at__isnull=True)
        .select_related("rulebook_version", "reviewer")
        .iterator(chunk_size=5000)
    }
    computed = consensus_compute(project=project) if all_items else None
    return _export_records(project, gts, computed)


def _export_records(project: Project, gts: dict[int, GroundTruth], computed: Computed | None) -> Iterator[dict[str, Any]]:
    items = Item.objects.filter(project=project).exclude(state=ItemState.EXCLUDED).order_by("pk")
    position = {int(pk): n for n, pk in enumerate(computed.pv.item_ids)} if computed else {}
    for pk, external_id, state, gold in items.values_list("pk", "external_id", "state", "gold").iterator(chunk_size=5000):
        name = external_id or str(pk)
        gt = gts.get(pk)
        if gt is not None:
            yield {
                "item": name, "label": gt.label, "posterior": round(gt.posterior, 6), "state": state,
                "source": gt.source, "agreement": finite(gt.agreement, 6), "votes": len(gt.votes), "method": gt.method,
                "rulebook_version": gt.rulebook_version.number if gt.rulebook_version else None,
                "decided_at": gt.decided_at.isoformat(), "reviewer": gt.reviewer.username if gt.reviewer else "",
                "item_id": pk, "vote_ids": gt.votes, "distribution": gt.distribution, "params": gt.params,
                "reason": gt.reason,
            }  # fmt: skip
        elif gold is not None:
            yield {
                "item": name, "label": gold, "posterior": 1.0, "state": state, "source": "gold", "agreement": None,
                "votes": None, "method": "", "rulebook_version": None, "decided_at": "", "reviewer": "", "item_id": pk,
            }  # fmt: skip
        elif computed is not None:
            i = position.get(pk)
            best = computed.result.best[i] if i is not None else aggregation.TIE
            posterior = computed.result.posterior[i] if i is not None else None
            yield {
                "item": name, "label": computed.pv.labels[best] if best >= 0 else "",
                "posterior": round(float(posterior[best]), 6) if best >= 0 else None, "state": state,
                "source": "", "agreement": finite(computed.agreement[i], 6) if i is not None else None,
                "votes": int(computed.n_votes[i]) if i is not None else 0, "method": computed.method,
                "rulebook_version": None, "decided_at": "", "reviewer": "", "item_id": pk,
                "distribution": {k: round(float(p), 6) for k, p in zip(computed.pv.labels, posterior, strict=False)}
                if posterior is not None else {},
            }  # fmt: skip


def votes_with_label(*, project: Project, label: str) -> QuerySet[Vote]:
    """Votes whose answer is ``label`` or, for multiple choice, includes it."""
    if project.question_type == QuestionType.MULTI:
        return Vote.objects.filter(kind=VoteKind.VOTE, value__icontains=json.dumps(label))
    return Vote.objects.filter(kind=VoteKind.VOTE, value=label)


@dataclass
class HistoryEntry:
    at: Any
    who: str
    what: str


def item_history(*, project: Project, item_id: int) -> list[HistoryEntry]:
    """What happened to the item, oldest first: votes (as counts, not contents), decisions,
    review cases and audited changes."""
    entries: list[HistoryEntry] = []
    item = Item.objects.get(project=project, pk=item_id)
    entries.append(HistoryEntry(item.created_at, "", "imported"))
    for gt in GroundTruth.objects.filter(item_id=item_id).select_related("reviewer").order_by("decided_at"):
        who = gt.reviewer.username if gt.reviewer else gt.method
        entries.append(HistoryEntry(gt.decided_at, who, f"ground truth {gt.label!r} ({gt.get_source_display()}, posterior {gt.posterior:.2f})"))
        if gt.withdrawn_at:
            entries.append(HistoryEntry(gt.withdrawn_at, "", f"ground truth {gt.label!r} withdrawn: {gt.withdrawn_reason}"))
    for c in ReviewCase.objects.filter(item_id=item_id).select_related("resolved_by").order_by("opened_at"):
        entries.append(HistoryEntry(c.opened_at, "", f"sent to review: {c.get_reason_display()}" + (f" ({c.detail})" if c.detail else "")))
        if c.resolved_at:
            who = c.resolved_by.username if c.resolved_by else ""
            entries.append(HistoryEntry(c.resolved_at, who, f"review closed: {c.get_resolution_display()}" + (f" — {c.resolution_reason}" if c.resolution_reason else "")))
    skip = {"ground_truth.collapsed", "ground_truth.withdrawn", "review.decided", "review.sent_back", "review.excluded"}
    for e in AuditEvent.objects.filter(project=project, object_type="item", object_id=str(item_id)).select_related("actor"):
        if e.verb not in skip:
            entries.append(HistoryEntry(e.created_at, e.actor.username if e.actor else "", e.verb.replace("_", " ").replace(".", ": ")))
    return sorted(entries, key=lambda h: h.at)
