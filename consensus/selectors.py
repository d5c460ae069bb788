"""Reads: ground truth for export, and the figures of the agreement page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from annotation.models import Item, ItemState, Project
from consensus import aggregation
from consensus.models import GroundTruth
from consensus.services import consensus_compute

EXPORT_COLUMNS = (
    "item", "label", "posterior", "state", "source", "agreement", "votes", "method", "rulebook_version",
    "decided_at", "reviewer", "item_id",
)  # fmt: skip


def ground_truth_export(*, project: Project, all_items: bool = False) -> Iterator[dict[str, Any]]:
    """One record per item with ground truth (gold items count, with their gold label), with
    its provenance. ``all_items`` adds every other item that is not excluded, with its current
    best label (empty on a tie or without votes), posterior and state."""
    items = Item.objects.filter(project=project).exclude(state=ItemState.EXCLUDED).order_by("pk")
    names = dict(items.values_list("pk", "external_id"))
    gts = {
        gt.item_id: gt
        for gt in GroundTruth.objects.filter(project=project, withdrawn_at__isnull=True)
        .select_related("rulebook_version", "reviewer")
        .iterator(chunk_size=5000)
    }
    computed = consensus_compute(project=project) if all_items else None
    position = {int(pk): n for n, pk in enumerate(computed.pv.item_ids)} if computed else {}
    for pk, state, gold in items.values_list("pk", "state", "gold").iterator(chunk_size=5000):
        name = names[pk] or str(pk)
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
