"""Choosing the aggregation model from a project's own votes, without gold. Pure numpy; no Django.

No one model of a crowd wins everywhere: one accuracy per annotator (one-coin) is best where
annotators err symmetrically, full confusion matrices where they are biased toward some labels,
majority vote where reliabilities hardly differ. So every project's votes decide, by a criterion
that needs no gold and tracks the accuracy of the labels rather than the fit of the votes.

**The criterion: held-out annotators.** The annotators are dealt into ``folds`` groups (by volume,
so the heavy ones are spread out). For each group, every candidate is fitted on the *other*
annotators' votes and gives a label per item; the held-out annotators' answers on those items — items
their own votes did not inform — are then scored against the labels. The judge is the same for
every candidate: each held-out annotator's confusion matrix between label and answer, estimated
from their other held-out answers (leave-one-out, with ``PRIOR_VOTES`` pseudo-votes per row
toward the crowd's pooled matrix), and a vote scores the log of the probability it gives that
answer. A candidate scores well when its labels predict what independent annotators say,
their biases included, which a wrong label cannot do. Labels are hard (the product exports a
label, not a posterior): a candidate gains nothing from how confident it claims to be, and a tie
scores the mean over its tied labels.

Why not the likelihood of held-out votes under each model (k-fold over votes)? It measures how
well a model fits the votes, and the model with the most parameters fits best: on real crowds it
prefers full Dawid–Skene even where its labels are worse.

**The rule: the first candidate, in ``order``, within ``margin`` standard errors of the best.**
Totals are compared pairwise; the standard error of a difference is clustered by annotator (an
annotator's answers share their biases, so the annotator, not the vote, is the unit that varies).
The order puts the model with the fewest parameters first (one-coin), then the textbook full
model, then variants with more machinery: a more flexible model has to earn its place by more
than noise. With gold, the gold items are one more held-out "annotator" whose answers are the
truth, so gold sharpens the choice in proportion to how much of it there is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from consensus.metrics import Votes

NO_LABEL = -1  # a fit's label for an item it leaves undecided (a tie, or no votes)
PRIOR_VOTES = 2.0  # pseudo-votes per row pulling a held-out annotator's judge matrix toward the crowd's

# (training votes, gold per item or None) → per item a label index or NO_LABEL
Fit = Callable[[Votes, np.ndarray | None], np.ndarray]


@dataclass(frozen=True)
class Heldout:
    """Held-out scores of every candidate: per judged answer, aligned across candidates."""

    scores: dict[str, np.ndarray]  # per judged answer, the log probability the judge gives it
    agree: dict[str, np.ndarray]  # per judged answer, the probability its label equals the answer
    judge: np.ndarray  # per judged answer, who gave it: an annotator index, or ``n_annotators`` for gold
    folds: int

    @property
    def answers(self) -> int:
        return len(self.judge)


@dataclass(frozen=True)
class Evidence:
    """One candidate's standing under the criterion."""

    method: str
    name: str  # how the method is shown to people
    score: float  # mean held-out log-likelihood per judged answer (nats; higher is better)
    agreement: float  # share of judged answers equal to the candidate's held-out label
    behind: float  # total log-likelihood behind the best candidate (0 for the best)
    se: float  # standard error of ``behind``, clustered by annotator
    eligible: bool  # within ``margin`` standard errors of the best

    def as_params(self) -> dict[str, object]:
        agreement = round(self.agreement, 5) if np.isfinite(self.agreement) else None  # JSON has no NaN
        return {"method": self.method, "score": round(self.score, 5), "agreement": agreement,
                "behind": round(self.behind, 3), "se": round(self.se, 3), "eligible": self.eligible}  # fmt: skip


@dataclass(frozen=True)
class Choice:
    """The method chosen for a project, and why."""

    method: str
    evidence: tuple[Evidence, ...]  # in preference order
    answers: int  # judged answers
    folds: int
    margin: float
    items: int  # items the choice was made on (a sample for large projects)

    @property
    def chosen(self) -> Evidence:
        return next(e for e in self.evidence if e.method == self.method)

    @property
    def summary(self) -> str:
        """One line for people: what was chosen, with the figures of the others."""
        others = ", ".join(f"{_num(e.score)} for {e.name}" for e in self.evidence if e.method != self.method)
        if not self.answers:
            return f"method chosen: {self.chosen.name} — too few annotators to compare methods"
        return (
            f"method chosen: {self.chosen.name} — held-out vote log-likelihood {_num(self.chosen.score)} vs {others} "
            f"(per answer of held-out annotators, {self.folds} folds, {self.answers:,} answers)"
        )

    def as_params(self) -> dict[str, object]:
        """JSON-ready, for an estimate's provenance."""
        return {"method_chosen": self.method, "summary": self.summary, "answers": self.answers, "folds": self.folds,
                "margin": self.margin, "items": self.items,
                "candidates": [e.as_params() for e in self.evidence]}  # fmt: skip


def _num(x: float) -> str:
    return f"{x:.3f}".replace("-", "−")


def annotator_folds(counts: np.ndarray, folds: int, *, seed: int = 0) -> np.ndarray:
    """A fold per annotator: ranked by their number of answers, each block of ``folds`` consecutive
    ranks is dealt one to a fold in random order, so every fold gets a like share of heavy and
    light annotators. Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    order = np.argsort(-counts, kind="stable")
    fold = np.empty(len(counts), dtype=np.int64)
    for start in range(0, len(order), folds):
        block = order[start : start + folds]
        fold[block] = rng.permutation(folds)[: len(block)]
    return fold


def heldout_scores(
    votes: Votes,
    *,
    fits: Mapping[str, Fit],
    gold: np.ndarray | None = None,
    folds: int = 5,
    seed: int = 0,
) -> Heldout:
    """Score every candidate by held-out annotators (see the module docstring). ``gold``: per item
    a label index or ``NO_LABEL``; the gold items act as one more annotator, held out with its fold
    and clamped as truth in the others."""
    k, n_ann = votes.n_labels, votes.n_annotators
    has_gold = gold is not None and bool((gold != NO_LABEL).any())
    gold_items = np.flatnonzero(gold != NO_LABEL) if has_gold else np.empty(0, np.int64)
    volume = np.bincount(votes.annotator, minlength=n_ann)
    if has_gold:
        volume = np.append(volume, len(gold_items))
    voters = np.flatnonzero(volume > 0)
    folds = min(folds, len(voters))
    empty = {name: np.empty(0) for name in fits}
    if folds < 2 or k < 2:
        return Heldout(empty, dict(empty), np.empty(0, np.int64), 0)
    fold = np.full(len(volume), -1)
    fold[voters] = annotator_folds(volume[voters], folds, seed=seed)
    vote_fold = fold[votes.annotator]
    # judged answers, fold by fold: the held-out annotators' votes, then the gold if it is held out
    items, answers, judge, labels = [], [], [], {name: [] for name in fits}
    for f in range(folds):
        held = vote_fold == f
        train = Votes(votes.item[~held], votes.annotator[~held], votes.label[~held], votes.n_items, n_ann, k)
        gold_out = has_gold and fold[n_ann] == f
        informed = np.bincount(train.item, minlength=votes.n_items) > 0
        if has_gold and not gold_out:
            informed[gold_items] = True
        it, ans, who = votes.item[held], votes.label[held], votes.annotator[held]
        if gold_out:
            it = np.concatenate([it, gold_items])
            ans = np.concatenate([ans, gold[gold_items]])
            who = np.concatenate([who, np.full(len(gold_items), n_ann)])
        items.append(it)
        answers.append(ans)
        judge.append(who)
        for name, fit in fits.items():
            best = np.asarray(fit(train, None if gold_out or not has_gold else gold))
            labels[name].append(np.where(informed[it], best[it], NO_LABEL))
    it, ans, who = np.concatenate(items), np.concatenate(answers), np.concatenate(judge)
    scores, agree = {}, {}
    for name in fits:
        shares = _label_shares(np.concatenate(labels[name]), k)
        scores[name] = _judge(shares, ans, who, n_ann + 1, k)
        agree[name] = shares[np.arange(len(ans)), ans]
    return Heldout(scores, agree, who, folds)


def _label_shares(best: np.ndarray, k: int) -> np.ndarray:
    """One-hot rows of labels; uniform rows where a fit left the item undecided."""
    shares = np.full((len(best), k), 1.0 / k)
    decided = best >= 0
    shares[decided] = 0.0
    shares[np.flatnonzero(decided), best[decided]] = 1.0
    return shares


def _judge(shares: np.ndarray, answer: np.ndarray, who: np.ndarray, n_judges: int, k: int) -> np.ndarray:
    """Per answer, Σ_z share(z) · log P(answer | label z), where P is the answering annotator's
    label × answer matrix from their *other* judged answers plus ``PRIOR_VOTES`` pseudo-answers per
    row spread as the crowd's pooled matrix."""
    counts = np.empty((n_judges, k, k))  # judge × label × answer
    for z in range(k):
        counts[:, z, :] = np.bincount(who * k + answer, weights=shares[:, z], minlength=n_judges * k).reshape(n_judges, k)
    pooled = counts.sum(0) + 1.0
    pooled /= pooled.sum(1, keepdims=True)
    rows = counts.sum(2)  # judge × label
    own = counts[who, :, answer]  # answers × label: this judge's count of this answer under each label
    predicted = (own - shares + PRIOR_VOTES * pooled[:, answer].T) / (rows[who] - shares + PRIOR_VOTES)
    return (shares * np.log(predicted)).sum(1)


def choose(heldout: Heldout, *, order: Sequence[str], names: Mapping[str, str], margin: float, items: int) -> Choice:
    """The first method of ``order`` whose held-out total is within ``margin`` standard errors
    of the best total (see the module docstring). Without judged answers (fewer than two voters),
    the first method."""
    n = max(heldout.answers, 1)
    total = {m: float(heldout.scores[m].sum()) for m in order}
    best = max(order, key=lambda m: total[m])  # all totals are 0 without judged answers: the first
    judges = np.unique(heldout.judge, return_inverse=True)[1]
    evidence = []
    for m in order:
        per_judge = np.bincount(judges, weights=heldout.scores[best] - heldout.scores[m], minlength=1)
        behind = total[best] - total[m]
        a = len(per_judge)
        se = float(np.sqrt(a / max(a - 1, 1) * ((per_judge - per_judge.mean()) ** 2).sum()))
        agreement = float(heldout.agree[m].sum()) / n if heldout.answers else float("nan")
        evidence.append(Evidence(m, names[m], total[m] / n, agreement, behind, se, behind <= margin * se))
    chosen = next(e.method for e in evidence if e.eligible)
    return Choice(chosen, tuple(evidence), heldout.answers, heldout.folds, margin, items)
