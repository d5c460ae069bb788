"""Reads: every current vote aggregated (no writes), the latest estimate, and ground truth for
export. The agreement page's figures are in ``reports``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from annotation.models import Item, ItemState, Project
from consensus import aggregation
from consensus.adapters import ProjectVotes, project_votes
from consensus.metrics import alpha_from_counts, value_counts
from consensus.models import Estimate, GroundTruth


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
    result = aggregation.METHODS[method](pv.votes, gold=pv.gold)
    counts = value_counts(pv.votes)
    n_votes = counts.sum(1)
    best = np.maximum(result.best, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        agreement = np.where(n_votes > 0, counts[np.arange(len(counts)), best] / n_votes, np.nan)
    return Computed(pv, result, counts, n_votes, agreement, alpha_from_counts(counts), method)


def estimate_latest(*, project_id: int) -> Estimate | None:
    """The project's newest reliability estimate, or None before the first."""
    return Estimate.objects.filter(project_id=project_id).order_by("-id").first()


EXPORT_COLUMNS = (
    "item", "label", "posterior", "state", "source", "agreement", "votes", "method", "rulebook_version",
    "decided_at", "reviewer", "item_id",
)  # fmt: skip


def ground_truth_export(*, project: Project, all_items: bool = False) -> Iterator[dict[str, Any]]:
    """One record per item with ground truth (gold items count, with their gold label), with
    its provenance. ``all_items`` adds every other item that is not excluded, with its current
    best label (empty on a tie or without votes), posterior and state."""
    items = Item.objects.filter(project=project).exclude(state=ItemState.EXCLUDED).order_by("pk")
    gts = {
        gt.item_id: gt
        for gt in GroundTruth.objects.filter(project=project, withdrawn_at__isnull=True)
        .select_related("rulebook_version", "reviewer")
        .iterator(chunk_size=5000)
    }
    computed = consensus_compute(project=project) if all_items else None
    position = {int(pk): n for n, pk in enumerate(computed.pv.item_ids)} if computed else {}
    for pk, external_id, state, gold in items.values_list("pk", "external_id", "state", "gold").iterator(chunk_size=5000):
        name = external_id or str(pk)
        gt = gts.get(pk)
        if gt is not None:
            yield {
                "item": name, "label": gt.label, "posterior": round(gt.posterior, 6), "state": state,
                "source": gt.source, "agreement": _round(gt.agreement), "votes": len(gt.votes), "method": gt.method,
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
                "source": "", "agreement": _round(computed.agreement[i]) if i is not None else None,
                "votes": int(computed.n_votes[i]) if i is not None else 0, "method": computed.method,
                "rulebook_version": None, "decided_at": "", "reviewer": "", "item_id": pk,
                "distribution": {k: round(float(p), 6) for k, p in zip(computed.pv.labels, posterior, strict=False)}
                if posterior is not None else {},
            }  # fmt: skip


def _round(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 6)
