"""Deciding items: after each vote, and project-wide in the background.

``item_decide`` runs inside the vote's transaction, with the item's row lock held: it computes
the item's posterior from its current votes and the annotators' confusion matrices of the
latest ``Estimate`` (annotators not yet estimated count as the crowd's average), and applies the
policy. ``consensus_reestimate`` re-runs the aggregator over every current vote of the project,
stores a new ``Estimate`` and re-decides open and promoted items. Both write ground truth with
its provenance, and both send a promoted item whose support collapsed to review with an audit
event; neither ever changes a vote.

Why over 400 lines: Deciding one item and re-estimating a project write the same rows by the same rules, kept side by side.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from annotation import events
from annotation.bulk import insert_rows
from annotation.items import transitions
from annotation.items.models import Item, ItemState
from annotation.items.transitions import items_move
from annotation.labeling.models import Vote, VoteKind
from annotation.labeling.queue import extra_votes_for_one_more, votes_needed
from annotation.projects.models import Project
from annotation.projects.services import audit_record
from consensus import aggregation, policy
from consensus.adapters import ProjectVotes
from consensus.decisions.models import (
    Estimate,
    GroundTruth,
    GroundTruthSource,
    ReestimateRequest,
    Reliability,
)
from consensus.decisions.selectors import (
    UNESTIMATED_ACCURACY,
    Computed,
    ItemConsensus,
    consensus_compute,
    estimate_latest,
    item_consensus,
    symmetric_confusion,
)
from consensus.metrics import finite
from consensus.review.models import ReviewCase, ReviewReason, ReviewResolution
from consensus.review.services import review_case_close, review_cases_open

OPEN_STATES = (ItemState.QUEUED, ItemState.COMPLETE)
WHY_REASON = {
    policy.Why.CLAIM: ReviewReason.CLAIM,
    policy.Why.UNSURE: ReviewReason.UNSURE,
    policy.Why.SPLIT: ReviewReason.SPLIT,
    policy.Why.LOW_POSTERIOR: ReviewReason.LOW_POSTERIOR,
}
# Cases the policy opened, which it may also close when the votes that count change.
POLICY_REASONS = (ReviewReason.SPLIT, ReviewReason.LOW_POSTERIOR, ReviewReason.UNSURE, ReviewReason.CLAIM)


# --- one item, after a vote ---------------------------------------------------------------------


def item_decide(
    *, project: Project, item_id: int, vote_id: int | None = None, reconsider: bool = False, actor: Any = None,
    cause: str = "",
) -> str:  # fmt: skip
    """Decide one item from its counting votes and return its state. Expects the caller to hold
    the item's row lock (``vote_cast`` and ``vote_undo`` do).

    ``reconsider`` is for when votes start or stop counting (an annotator suspended or
    reinstated; ``cause`` says which): an item in review whose case the policy opened and no
    reviewer holds is decided again, and consensus ground truth left without the votes it
    needs is withdrawn to the queue (audited) instead of going to review."""
    item = Item.objects.only("state", "gold", "extra_votes", "votes_count").get(pk=item_id)
    estimate = estimate_latest(project_id=project.pk)
    if vote_id is not None:
        _maybe_request_reestimate(project, vote_id, estimate)
    if item.gold is not None or item.state == ItemState.EXCLUDED:
        return item.state  # gold stays a honeypot
    now = timezone.now()
    case = None
    if item.state == ItemState.REVIEW:
        case = ReviewCase.objects.filter(item_id=item_id, resolved_at__isnull=True).first()
        if not reconsider or case is None or case.reason not in POLICY_REASONS or case.holder_id(now) is not None:
            return item.state  # review is a person's call
    c = item_consensus(project=project, item_id=item_id, estimate=estimate)
    t = policy.Thresholds.of(project)
    claims, unsure = c.claims, (c.unsure if project.review_unsure else 0)
    best, n_label = c.best, len(c.label_votes)
    needed = votes_needed(min_votes=project.min_votes, extra_votes=item.extra_votes)
    if item.state == ItemState.GROUND_TRUTH:
        current = GroundTruth.objects.filter(item_id=item_id, withdrawn_at__isnull=True).first()
        if current is None or current.source != GroundTruthSource.CONSENSUS:
            return item.state
        if reconsider and n_label + claims < needed:
            _withdraw(project, item_id, current, actor=actor, why=cause, now=now)
            return ItemState.QUEUED
        at = c.labels.index(current.label) if current.label in c.labels else -1
        if policy.still_supported(
            label_posterior=float(c.posterior[at]) if at >= 0 else 0.0, best_is_label=bool(best == at), votes=n_label, t=t,
        ):  # fmt: skip
            return item.state
        _collapse(project, [(item_id, current, c.labels[best] if best >= 0 else None, float(c.posterior.max()))], now)
        return ItemState.REVIEW
    agreement = float(c.shares[best]) if best >= 0 else 0.0
    decision = policy.decide(
        posterior=float(c.posterior.max()) if n_label else 0.0, agreement=agreement, votes=n_label + claims,
        needed=needed, tie=bool(best == aggregation.TIE), claims=claims + unsure, t=t,
    )  # fmt: skip
    if case is not None:  # reconsidering a policy case
        if decision == policy.Decision.REVIEW:
            return item.state
        review_case_close(case=case, resolution=ReviewResolution.REDECIDED, actor=actor, reason=cause, now=now)
    state = item.state
    if decision == policy.Decision.PROMOTE:
        state = ItemState.GROUND_TRUTH
        GroundTruth.objects.create(
            project=project, item_id=item_id, label=c.labels[best], source=GroundTruthSource.CONSENSUS,
            method=estimate.method if estimate else "dawid_skene", params=_params(estimate),
            posterior=float(c.posterior[best]), distribution=c.distribution, agreement=agreement, votes=c.vote_ids,
            rulebook_version_id=project.current_rulebook_id, decided_at=now,
        )  # fmt: skip
        transitions.item_move(project=project, item_id=item_id, to=state, was=item.state)
    elif decision == policy.Decision.MORE:
        state = ItemState.QUEUED
        extra = extra_votes_for_one_more(votes=n_label + claims, min_votes=project.min_votes)
        transitions.item_move(project=project, item_id=item_id, to=state, was=item.state, extra_votes=extra)
    elif decision == policy.Decision.REVIEW:
        state = ItemState.REVIEW
        transitions.item_move(project=project, item_id=item_id, to=state, was=item.state)
        why = policy.review_reasons(
            agreement=np.array([agreement]), tie=np.array([best == aggregation.TIE]), claims=np.array([claims]),
            unsure=np.array([unsure]), t=t,
        )[0]  # fmt: skip
        review_cases_open(project=project, cases=[(item_id, WHY_REASON[policy.Why(why)], _detail(c))], now=now)
    elif item.state in (ItemState.COMPLETE, ItemState.REVIEW):
        state = ItemState.QUEUED
        transitions.item_move(project=project, item_id=item_id, to=state, was=item.state)
    return state


def _detail(c: ItemConsensus) -> str:
    """A line for the review queue: the votes per label and the posterior of the best one."""
    counts = Counter(v.key for v in c.label_votes)
    parts = [f"{key} {n}" for key, n in counts.most_common()]
    if c.claims:
        parts.append(f"{c.claims} claim" + ("s" if c.claims > 1 else ""))
    top = f"; posterior {float(c.posterior.max()):.2f}" if len(c.posterior) else ""
    return f"{len(c.votes)} votes: " + ", ".join(parts) + top


def _withdraw(project: Project, item_id: int, current: GroundTruth, *, actor: Any, why: str, now: dt.datetime) -> None:
    """Ground truth whose votes no longer count: withdrawn, and the item back to the queue."""
    GroundTruth.objects.filter(pk=current.pk).update(withdrawn_at=now, withdrawn_reason=why or "Its votes stopped counting.")
    transitions.item_move(
        project=project, item_id=item_id, to=ItemState.QUEUED, was=ItemState.GROUND_TRUTH,
        why=transitions.Why(verb="ground_truth.withdrawn", actor=actor,
                            before={"label": current.label, "posterior": current.posterior}, after={"reason": why}),
    )  # fmt: skip


def item_undone(*, project: Project, item_id: int, actor: Any) -> str:
    """A vote on the item was undone. If the item had been promoted on it, its ground truth is
    withdrawn (audited) and it goes back to the queue for the vote it lost; otherwise the item
    is decided again. Returns its state. Expects the caller to hold the item's row lock."""
    current = GroundTruth.objects.filter(
        item_id=item_id, withdrawn_at__isnull=True, source=GroundTruthSource.CONSENSUS
    ).first()
    if current is None:
        return item_decide(project=project, item_id=item_id)
    _withdraw(project, item_id, current, actor=actor, why="A vote it rested on was undone.", now=timezone.now())
    return ItemState.QUEUED


def _params(estimate: Estimate | None) -> dict[str, Any]:
    if estimate is None:
        return {"estimate": None, "unestimated_accuracy": UNESTIMATED_ACCURACY}
    return {**estimate.params, "estimate": estimate.pk}


def _distribution(labels: list[str], posterior: np.ndarray) -> dict[str, float]:
    return {key: round(float(p), 6) for key, p in zip(labels, posterior, strict=False)}


def _collapse(project: Project, rows: list[tuple[int, GroundTruth, str | None, float]], now: dt.datetime) -> None:
    """Ground truth whose support collapsed: withdrawn, item to review, one audit event each."""
    review_cases_open(
        project=project, now=now,
        cases=[(i, ReviewReason.COLLAPSED, f"was {gt.label!r} at {gt.posterior:.2f}; best now {b!r} at {p:.2f}")
               for i, gt, b, p in rows],
    )  # fmt: skip
    for item_id, current, best, posterior in rows:
        GroundTruth.objects.filter(pk=current.pk).update(
            withdrawn_at=now, withdrawn_reason=f"Support collapsed: best label now {best!r} at {posterior:.2f}."
        )
        transitions.item_move(
            project=project, item_id=item_id, to=ItemState.REVIEW, was=ItemState.GROUND_TRUTH,
            why=transitions.Why(verb="ground_truth.collapsed", actor=None,
                                before={"label": current.label, "posterior": current.posterior},
                                after={"best": best, "posterior": round(posterior, 4)}),
        )  # fmt: skip


# --- the whole project, in the background -------------------------------------------------------


def _maybe_request_reestimate(project: Project, vote_id: int, estimate: Estimate | None) -> None:
    """Enqueue a re-estimation once ``QUORUM_REESTIMATE_EVERY`` votes have come in since the last
    one. Counted by vote ids, which all projects share: a busy neighbour makes it come sooner,
    never later. Before the first estimate the project's (few) votes are counted."""
    every = settings.QUORUM_REESTIMATE_EVERY
    if estimate is None:
        if Vote.objects.filter(project=project, kind=VoteKind.VOTE).count() < every:
            return
    elif vote_id - estimate.last_vote_id < every:
        return
    reestimate_request(project=project)


def reestimate_request(*, project: Project) -> None:
    """Enqueue a project-wide re-estimation when the transaction commits, unless one is pending."""
    ReestimateRequest.objects.get_or_create(project=project)
    claimed = ReestimateRequest.objects.filter(project=project, pending=False).update(
        pending=True, requested_at=timezone.now()
    )
    if claimed:
        from consensus.tasks import reestimate_task

        transaction.on_commit(lambda: reestimate_task.enqueue(project.pk))


@dataclass
class Summary:
    items: int
    votes: int
    alpha: float | None
    method: str
    promoted: int = 0
    need_more: int = 0
    review: int = 0
    collapsed: int = 0
    ground_truth: int = 0
    seconds: float = 0.0
    iterations: int = 0
    converged: bool = True
    estimate_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def consensus_reestimate(*, project: Project, method: str = aggregation.DEFAULT_METHOD, actor: Any = None) -> Summary:
    """Re-estimate every annotator's reliability from all current votes and re-decide the
    project's open items (queued) and promoted items (ground truth). Items in review stay there."""
    started = time.perf_counter()
    ReestimateRequest.objects.filter(project=project).update(pending=False)
    last_vote = Vote.objects.filter(project=project).order_by("-id").values_list("id", flat=True).first() or 0
    c = consensus_compute(project=project, method=method)
    pv, result = c.pv, c.result
    if not pv.labels:  # no rulebook yet: nothing can be decided, nor estimated
        return Summary(items=len(pv.item_ids), votes=0, alpha=None, method=method)
    t = policy.Thresholds.of(project)
    states = np.array(pv.item_states, dtype=object)
    is_gold = pv.gold != aggregation.NO_GOLD
    total_votes = c.n_votes + pv.item_claims
    needed = votes_needed(min_votes=project.min_votes, extra_votes=pv.item_extra)
    unsure = pv.item_unsure if project.review_unsure else np.zeros_like(pv.item_claims)
    tie = result.best == aggregation.TIE
    best = np.maximum(result.best, 0)
    best_post = result.posterior[np.arange(len(best)), best] if len(best) else np.zeros(0)
    decisions = policy.decide_many(
        posterior=best_post, agreement=np.nan_to_num(c.agreement), votes=total_votes, needed=needed,
        tie=tie, claims=pv.item_claims + unsure, t=t,
    )  # fmt: skip
    why = policy.review_reasons(agreement=np.nan_to_num(c.agreement), tie=tie, claims=pv.item_claims, unsure=unsure, t=t)
    open_ = np.isin(states, OPEN_STATES) & ~is_gold
    now = timezone.now()
    summary = Summary(items=len(pv.item_ids), votes=len(pv.votes.item), alpha=finite(c.alpha, 6), method=method)
    with transaction.atomic():
        estimate = _store_estimate(project, c, last_vote, time.perf_counter() - started)
        summary.estimate_id = estimate.pk
        promote = np.flatnonzero(open_ & (decisions == policy.Decision.PROMOTE))
        more = np.flatnonzero(open_ & (decisions == policy.Decision.MORE))
        review = np.flatnonzero(open_ & (decisions == policy.Decision.REVIEW))
        summary.promoted = _promote(project, c, estimate, promote, best, now)
        summary.need_more = _ask_more(pv, more, total_votes, project.min_votes)
        summary.review = _to_review(project, c, review, why, now)
        summary.collapsed = _check_promoted(project, c, states, best, now)
        summary.ground_truth = GroundTruth.objects.filter(project=project, withdrawn_at__isnull=True).count()
        summary.iterations, summary.converged = result.iterations, result.converged
        summary.seconds = round(time.perf_counter() - started, 3)
        Estimate.objects.filter(pk=estimate.pk).update(seconds=summary.seconds)
        audit_record(
            actor=actor, project=project, verb="consensus.reestimated", obj=estimate,
            after={k: v for k, v in summary.as_dict().items() if k != "seconds"},
        )  # fmt: skip
        events.consensus_updated(project.pk, summary.as_dict())
    return summary


def _store_estimate(project: Project, c: Computed, last_vote: int, seconds: float) -> Estimate:
    pv, result = c.pv, c.result
    per_voter = np.bincount(pv.votes.annotator, minlength=pv.votes.n_annotators)
    weights = per_voter / max(per_voter.sum(), 1)
    k = pv.votes.n_labels
    default = (
        np.einsum("a,aij->ij", weights, result.confusion) if per_voter.sum() else symmetric_confusion(k)
    )
    estimate = Estimate.objects.create(
        project=project, method=c.method, params=result.params, labels=pv.labels,
        class_prior=[float(x) for x in result.class_prior], default_confusion=_rounded(default),
        votes=len(pv.votes.item), items=len(pv.item_ids), last_vote_id=last_vote,
        iterations=result.iterations, converged=result.converged, alpha=finite(c.alpha, 6), seconds=seconds,
    )  # fmt: skip
    consensus_best = result.best[pv.votes.item]
    decided = consensus_best >= 0
    n_voters = pv.votes.n_annotators
    agree = np.bincount(pv.votes.annotator, weights=(pv.votes.label == consensus_best), minlength=n_voters)
    compared = np.bincount(pv.votes.annotator[decided], minlength=n_voters)
    answers = np.zeros((n_voters, k), dtype=np.int64)
    np.add.at(answers, (pv.votes.annotator, pv.votes.label), 1)
    accuracy = result.accuracy()
    weights = result.weights if result.weights is not None else np.ones(n_voters)
    Reliability.objects.bulk_create(
        [
            Reliability(
                estimate=estimate, voter_id=voter, confusion=_rounded(result.confusion[n]),
                accuracy=float(accuracy[n]), votes=int(per_voter[n]),
                agreement=float(agree[n] / compared[n]) if compared[n] else None, compared=int(compared[n]),
                answers=answers[n].tolist(), weight=round(float(weights[n]), 6),
            )  # fmt: skip
            for n, voter in enumerate(pv.voters)
        ],
        batch_size=1000,
    )
    return estimate


def _rounded(m: np.ndarray) -> list[list[float]]:
    return [[round(float(x), 6) for x in row] for row in m]


_GT_FIELDS = (
    "project", "item", "label", "source", "method", "params", "posterior", "distribution", "agreement", "votes",
    "rulebook_version", "reason", "withdrawn_reason", "decided_at",
)  # fmt: skip


def _promote(project: Project, c: Computed, estimate: Estimate, idx: np.ndarray, best: np.ndarray, now: dt.datetime) -> int:
    """Items at ``idx`` become ground truth: moved first (only those still open), then one
    ground-truth row each, written in bulk."""
    if len(idx) == 0:
        return 0
    pv, result = c.pv, c.result
    moved = items_move(item_ids=pv.item_ids[idx].tolist(), to_state=ItemState.GROUND_TRUTH, from_states=OPEN_STATES)
    if not moved:
        return 0
    rows_of = np.searchsorted(pv.item_ids, np.array(sorted(moved), dtype=np.int64))
    order = np.argsort(pv.votes.item, kind="stable")
    starts = np.searchsorted(pv.votes.item[order], np.arange(len(pv.item_ids) + 1))
    params = json.dumps({**result.params, "estimate": estimate.pk})
    label_json = [json.dumps(key) for key in pv.labels]
    names = [json.dumps(key) + ": " for key in pv.labels]
    posterior = np.round(result.posterior, 6)
    stamp = connection.ops.adapt_datetimefield_value(now)
    rows = []
    for i in rows_of.tolist():
        b = int(best[i])
        dist = "{" + ", ".join(n + repr(float(p)) for n, p in zip(names, posterior[i], strict=False)) + "}"
        vote_ids = "[" + ", ".join(map(str, pv.vote_ids[order[starts[i] : starts[i + 1]]].tolist())) + "]"
        rows.append(
            (
                project.pk, int(pv.item_ids[i]), label_json[b], GroundTruthSource.CONSENSUS, c.method, params,
                float(result.posterior[i, b]), dist, float(c.agreement[i]), vote_ids, project.current_rulebook_id,
                "", "", stamp,
            )  # fmt: skip
        )
    insert_rows(GroundTruth, _GT_FIELDS, rows)
    return len(moved)


def _ask_more(pv: ProjectVotes, idx: np.ndarray, total_votes: np.ndarray, min_votes: int) -> int:
    extra = [extra_votes_for_one_more(votes=n, min_votes=min_votes) for n in total_votes[idx].tolist()]
    return len(items_move(item_ids=pv.item_ids[idx].tolist(), to_state=ItemState.QUEUED, from_states=OPEN_STATES, extra=extra))


def _to_review(project: Project, c: Computed, idx: np.ndarray, why: np.ndarray, now: dt.datetime) -> int:
    pv = c.pv
    moved = set(items_move(item_ids=pv.item_ids[idx].tolist(), to_state=ItemState.REVIEW, from_states=OPEN_STATES))
    best = c.result.best
    cases = [
        (int(pv.item_ids[i]), WHY_REASON[policy.Why(why[i])],
         f"{int(c.n_votes[i])} votes; best {pv.labels[best[i]] if best[i] >= 0 else 'tied'}, "
         f"agreement {np.nan_to_num(c.agreement[i]):.2f}, posterior {c.result.posterior[i].max():.2f}")
        for i in idx.tolist()
        if int(pv.item_ids[i]) in moved
    ]  # fmt: skip
    review_cases_open(project=project, cases=cases, now=now)
    return len(moved)


def _check_promoted(project: Project, c: Computed, states: np.ndarray, best: np.ndarray, now: dt.datetime) -> int:
    """Promoted items whose label no longer holds go to review (see ``policy.still_supported``)."""
    pv, result = c.pv, c.result
    if not (states == ItemState.GROUND_TRUTH).any():
        return 0
    current = list(
        GroundTruth.objects.filter(project=project, withdrawn_at__isnull=True, source=GroundTruthSource.CONSENSUS)
        .values_list("item_id", "label")
        .iterator(chunk_size=20000)
    )
    index = {key: n for n, key in enumerate(pv.labels)}
    item_ids = np.fromiter((r[0] for r in current), dtype=np.int64, count=len(current))
    at = np.fromiter((index.get(r[1], -1) if isinstance(r[1], str) else -1 for r in current), dtype=np.int64, count=len(current))
    rows = np.searchsorted(pv.item_ids, item_ids)
    rows_c = np.minimum(rows, max(len(pv.item_ids) - 1, 0))
    known = (rows < len(pv.item_ids)) & (pv.item_ids[rows_c] == item_ids) & (at >= 0)
    rows, at, item_ids = rows_c[known], at[known], item_ids[known]
    supported = policy.supported_many(
        label_posterior=result.posterior[rows, at], best_is_label=best[rows] == at, votes=c.n_votes[rows],
        t=policy.Thresholds.of(project),
    )  # fmt: skip
    falling = ~supported & (states[rows] == ItemState.GROUND_TRUTH)
    if not falling.any():
        return 0
    gts = {gt.item_id: gt for gt in GroundTruth.objects.filter(item_id__in=item_ids[falling].tolist(), withdrawn_at__isnull=True)}
    locked = set(
        Item.objects.select_for_update()
        .filter(pk__in=item_ids[falling].tolist(), state=ItemState.GROUND_TRUTH)
        .values_list("pk", flat=True)
    )
    collapsed = [
        (int(pk), gts[int(pk)], pv.labels[best[r]], float(result.posterior[r].max()))
        for pk, r in zip(item_ids[falling].tolist(), rows[falling].tolist(), strict=True)
        if pk in locked and pk in gts
    ]
    _collapse(project, collapsed, now)
    return len(collapsed)
