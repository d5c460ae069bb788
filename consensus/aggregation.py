"""Turning votes into a posterior over labels per item. Pure numpy and scipy; no Django here.

Methods over ``metrics.Votes`` (aligned item / annotator / label index arrays), in ``METHODS``:

``auto`` (the default)
    Chooses one of the four below for each project from its own votes, by how well each one's
    labels predict the answers of annotators it was not fitted on (``consensus/choice.py``), and
    fits it to every vote. ``Result.choice`` holds the choice and the evidence for every candidate.
    No model wins on every crowd — the variant below was developed on the shared sets and fell
    behind plain Dawid–Skene and majority vote on others (issue 21) — so the data decide.

``one_coin``
    One accuracy per annotator, errors spread evenly; accuracies shrunk toward the crowd's
    (empirical Bayes), so a crowd of alike annotators gets majority vote.

``dawid_skene_plain``
    Textbook Dawid–Skene: full confusion matrices and the class prior by maximum likelihood.

``majority_vote``
    Each item's posterior is its vote shares. Its best label is the most-voted one; when two or
    more labels share the top count the item is reported as a tie (``best == TIE``) and nothing
    is chosen for it — never the first label in some order.

``dawid_skene`` (robust Dawid–Skene; the default until issue 21)
    Dawid & Skene's model: every item has one true label drawn from a class prior, and every
    annotator answers according to a confusion matrix (true label × given label). EM alternates:

    * E step — the posterior of each item is the class prior times, for each of its votes, the
      voter's probability of giving that answer under each true label. In logs this is one sparse
      matrix product: (items × annotator-answers) @ (annotator-answers × labels).
    * M step — each annotator's confusion counts are the posteriors of the items they voted on,
      summed by the answer they gave: the transposed product. Class prior likewise.

    Items with a known gold label are clamped to it in every E step, so gold teaches the model
    who is reliable and is never overturned.

    Convergence rule: stop when no item's posterior moved by more than ``tol`` (1e-4) in an
    iteration, or after ``max_iter`` (100) iterations; the result says which.

Why this variant exists. Plain Dawid–Skene (maximum likelihood) loses to majority vote on
some real crowds (the ZenCrowd and CrowdFlower sets in tests/data/crowd). Two things go wrong:
confusion rows estimated from a handful of votes are noise that EM trusts fully, and on large crowds
whose errors are correlated (several annotators wrong on the same hard items) EM finds a cluster of
annotators that agree with each other, rates them near-perfect, and lets them outvote everyone.
It then also learns a class prior from its own posteriors, which feeds the same loop. One
configuration for every project answers each of these:

1. **Shrinkage toward the crowd** (``strength``): each annotator's confusion matrix is the maximum a
   posteriori estimate under a Dirichlet prior whose mean is the *pooled* matrix of the whole crowd,
   worth ``strength`` pseudo-votes per row. An annotator with few votes is treated like the average
   annotator — majority vote's assumption — and one with hundreds of votes earns their own matrix,
   biases included (which is what majority vote misses on crowds like bluebirds). The pooled
   matrix has a weak pull toward the diagonal (``diagonal``), so a crowd is assumed better than
   chance until the votes say otherwise.
2. **An evidence cap** (``cap``): no annotator is trusted to be right more often than ``1 - cap``;
   every confusion entry is at least ``cap / (labels - 1)``. One vote can then shift an item's odds
   by a bounded factor, so a near-perfect rating that EM gave itself cannot outvote several others.
3. **The class prior from the vote shares** (plus gold), not from EM's posteriors, so EM cannot
   reinforce its own drift between label frequencies.
4. **Initialisation from vote shares**, so EM starts at majority vote and moves away only where the
   votes consistently say so.
5. **Weights for dependent annotators** (``dependence``): the model assumes annotators err
   independently given the true label; then the covariance of any two annotators' votes is rank one
   (a product of one number per annotator), whatever their confusion matrices. Before EM, that
   product is fitted to every pair sharing at least 30 items, and what a pair has left over is
   their dependence (a correlation, kept where its z score exceeds 2). Each annotator's votes then
   count ``1 / (1 + Σ dependence × share of their items)`` times in the E step, the design effect
   of survey sampling, so a group that errs together weighs about as much as one of them and cannot
   vouch for itself. The M step is unchanged. This is checked on the votes alone, not on EM's
   posteriors, which already take such a group for the truth. On ZenCrowd it finds the three heavy
   annotators who agree on "1" where the gold says "0" (zc_all 80.8 → 82.0).

We also tried, and rejected as a single default: one-coin (best on ZenCrowd, far worse on bluebirds
where annotators are biased toward one answer — which is why ``auto`` chooses), leave-one-out M
steps, MACE-style spammer mixtures, dropping low spammer-score annotators, model choice by held-out
vote likelihood or split-half stability (both prefer the full model where it is wrong), averaging one-coin with
full posteriors, and an easy/hard item mixture (GLAD with two difficulty levels; it scales an item's
evidence but hardly changes its best label). None was better on every shared set. Dependence
measured against EM's own posteriors instead of the rank-one fit flags nearly every pair of good
annotators (the cap makes their agreement look excessive) and loses music_genre.

The figures on the shared sets, against majority vote and plain Dawid–Skene, are in
docs/benchmarks.md.

Why over 400 lines: The aggregation models share their E-step, smoothing and sparse answer matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import sparse
from scipy.special import ndtr

from consensus.choice import Choice, choose, heldout_scores
from consensus.metrics import Votes, value_counts

TIE = -1  # ``best`` of an item whose top labels are tied (majority vote) — or that has no votes
NO_GOLD = -1


@dataclass(frozen=True)
class Result:
    method: str
    posterior: np.ndarray  # items × labels, rows sum to 1 (uniform for items without votes)
    best: np.ndarray  # per item, the label index with the highest posterior, or TIE
    confusion: np.ndarray  # annotators × true label × given label, rows sum to 1
    class_prior: np.ndarray  # labels
    iterations: int = 0
    converged: bool = True
    params: dict = field(default_factory=dict)
    weights: np.ndarray | None = None  # per annotator, the weight of their votes in the E step (None: all 1)
    choice: Choice | None = None  # ``auto``: which candidate was chosen, and the evidence

    @property
    def confidence(self) -> np.ndarray:
        """Per item, the posterior of its best label."""
        return self.posterior.max(1)

    def accuracy(self) -> np.ndarray:
        """Per annotator, the estimated probability of a correct answer: the diagonal of their
        confusion matrix weighted by the class prior."""
        diag = np.diagonal(self.confusion, axis1=1, axis2=2)
        return diag @ self.class_prior


def _row_max(m: np.ndarray) -> np.ndarray:
    # Column by column: numpy's reductions along a short last axis are several times slower.
    if m.shape[1] == 1:
        return m[:, 0].copy()
    top = np.maximum(m[:, 0], m[:, 1])
    for j in range(2, m.shape[1]):
        np.maximum(top, m[:, j], out=top)
    return top


def _row_sum(m: np.ndarray) -> np.ndarray:
    if m.shape[1] == 1:
        return m[:, 0].copy()
    total = m[:, 0] + m[:, 1]
    for j in range(2, m.shape[1]):
        total += m[:, j]
    return total


def best_labels(posterior: np.ndarray, *, atol: float = 1e-9) -> np.ndarray:
    """Per row, the index of the highest value, or TIE when another is within ``atol`` of it."""
    best = np.full(len(posterior), TIE)
    if posterior.shape[1] == 0:
        return best
    near_top = _row_max(posterior) - atol
    n_near = np.zeros(len(posterior), dtype=np.int32)
    for j in range(posterior.shape[1]):
        near = posterior[:, j] >= near_top
        n_near += near
        best[near] = j  # the argmax wherever it is the only label near the top
    best[n_near > 1] = TIE
    return best


def _gold_rows(gold: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
    if gold is None:
        return None
    rows = np.flatnonzero(gold != NO_GOLD)
    return rows, gold[rows]


def _clamp(posterior: np.ndarray, gold_rows: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    if gold_rows is not None:
        rows, labels = gold_rows
        posterior[rows] = 0.0
        posterior[rows, labels] = 1.0
    return posterior


def _shares(counts: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Vote shares per item from value counts; uniform for items without votes."""
    k = counts.shape[1]
    shares = np.full(counts.shape, 1.0 / max(k, 1))
    return np.divide(counts, total[:, None], out=shares, where=total[:, None] > 0)


def _empirical_confusion(answers: sparse.csr_matrix, posterior: np.ndarray, n_annotators: int) -> np.ndarray:
    """Per annotator, true label × given label: the posteriors of the items they voted on, summed
    by the answer they gave."""
    k = posterior.shape[1]
    # answers.T is a CSC view: its product scatters into a small (annotator, given) × true array,
    # which measured faster than a CSR copy of the transpose that gathers from the posteriors.
    counts = np.asarray(answers.T @ posterior)  # (annotator, given) × true
    return counts.reshape(n_annotators, k, k).transpose(0, 2, 1)  # annotator × true × given


def _normalise_rows(m: np.ndarray) -> np.ndarray:
    total = m.sum(-1, keepdims=True)
    return np.divide(m, total, out=np.full_like(m, 1.0 / m.shape[-1]), where=total > 0)


def majority_vote(votes: Votes, *, gold: np.ndarray | None = None, tie_break: bool = False) -> Result:
    """Vote shares as the posterior; ties reported as ties. Gold items are clamped to their label.
    ``tie_break``: a tie goes to the tied label with more votes in the whole project (still a tie
    when those are equal too) — the rule when ``auto`` chooses majority vote, so that it names a
    label wherever the others do; the posterior stays the vote shares, so a tie is not promoted."""
    counts = value_counts(votes)
    total = _row_sum(counts)
    gold_rows = _gold_rows(gold)
    posterior = _clamp(_shares(counts, total), gold_rows)
    best = best_labels(posterior)
    if tie_break:
        tied = np.flatnonzero(best == TIE)
        near_top = posterior[tied] >= _row_max(posterior[tied])[:, None] - 1e-9
        overall = np.where(near_top, counts.sum(0)[None, :], -1)
        best[tied] = best_labels(overall.astype(float))
    best[total == 0] = TIE
    if gold_rows is not None:
        best[gold_rows[0]] = gold_rows[1]
    confusion = _normalise_rows(_empirical_confusion(_answer_matrix(votes), posterior, votes.n_annotators))
    prior = posterior.mean(0) if len(posterior) else np.full(votes.n_labels, 1.0 / votes.n_labels)
    return Result("majority", posterior, best, confusion, prior, params={"tie_break": tie_break} if tie_break else {})


def _answer_matrix(votes: Votes) -> sparse.csr_matrix:
    """items × (annotator · labels + given label), one entry per vote."""
    shape = (votes.n_items, votes.n_annotators * votes.n_labels)
    index = np.int32 if max(shape + (len(votes.item),)) < np.iinfo(np.int32).max else np.int64
    column = (votes.annotator * votes.n_labels + votes.label).astype(index)
    ones = np.ones(len(column))
    item = np.asarray(votes.item)
    if len(item) and bool((item[1:] >= item[:-1]).all()):
        # Votes in item order (as adapters and the benchmark give them): the rows are runs
        # already, so build the CSR arrays directly instead of sorting through COO.
        indptr = np.zeros(votes.n_items + 1, dtype=index)
        np.cumsum(np.bincount(item, minlength=votes.n_items), out=indptr[1:])
        return sparse.csr_matrix((ones, column, indptr), shape=shape)
    return sparse.coo_matrix((ones, (item.astype(index), column)), shape=shape).tocsr()


def dawid_skene(
    votes: Votes,
    *,
    gold: np.ndarray | None = None,
    strength: float = 8.0,
    diagonal: float = 4.0,
    cap: float = 0.1,
    dependence: float = 2.0,
    tol: float = 1e-4,
    max_iter: int = 100,
    confusion: np.ndarray | None = None,
    class_prior: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> Result:
    """Robust Dawid–Skene (see the module docstring). ``gold``: per item a label index or
    ``NO_GOLD``. Given ``confusion`` and ``class_prior`` (from an earlier run), skips EM and
    only computes the posteriors — the fast path for deciding one item after a vote (pass the
    earlier run's ``weights`` too). ``dependence``: the z score above which two annotators'
    agreement counts as dependent (see the module docstring); 0 turns the weights off."""
    k = votes.n_labels
    em = _EM.of(votes, gold)
    params = {"strength": strength, "diagonal": diagonal, "cap": cap, "dependence": dependence, "tol": tol,
              "max_iter": max_iter}  # fmt: skip
    if confusion is not None and class_prior is not None:
        posterior = _e_step(em.answers, confusion, class_prior, em.gold_rows, em.no_votes, weights)
        return Result("dawid_skene", posterior, best_labels(posterior), confusion, class_prior, 0, True, params,
                      weights)  # fmt: skip

    weights = _independence_weights(em.answers, votes.n_annotators, k, dependence) if dependence > 0 else None
    prior = _class_prior(em.start, em.has_votes, gold)
    posterior, confusion, class_prior, iterations, converged = em.run(
        lambda posterior: _m_step(em.answers, posterior, k, votes.n_annotators, strength, diagonal, cap),
        lambda posterior: prior, weights, tol, max_iter,
    )  # fmt: skip
    return Result("dawid_skene", posterior, em.best(posterior), confusion, class_prior, iterations, converged, params,
                  weights)  # fmt: skip


@dataclass(frozen=True)
class _EM:
    """What every EM here starts from: the answer matrix, which items have votes or gold, and
    the vote shares (gold clamped) as the first posterior."""

    answers: sparse.csr_matrix
    has_votes: np.ndarray
    known: np.ndarray  # items with votes or gold
    no_votes: np.ndarray
    gold_rows: tuple[np.ndarray, np.ndarray] | None
    start: np.ndarray
    n_annotators: int

    @classmethod
    def of(cls, votes: Votes, gold: np.ndarray | None) -> _EM:
        counts = value_counts(votes)
        total = _row_sum(counts)
        has_votes = total > 0
        gold_rows = _gold_rows(gold)
        known = has_votes if gold is None else has_votes | (gold != NO_GOLD)
        return cls(_answer_matrix(votes), has_votes, known, np.flatnonzero(~has_votes), gold_rows,
                   _clamp(_shares(counts, total), gold_rows), votes.n_annotators)  # fmt: skip

    def run(self, m_step, prior_of, weights, tol, max_iter):
        """Alternate M and E steps from the vote shares until no posterior moves by ``tol``:
        (posterior, confusion, class prior, iterations, converged)."""
        posterior = self.start.copy()
        k = posterior.shape[1]
        confusion, class_prior = np.zeros((self.n_annotators, k, k)), np.full(k, 1.0 / max(k, 1))
        iterations, converged = 0, False
        while iterations < max_iter:
            iterations += 1
            confusion = m_step(posterior)
            class_prior = prior_of(posterior)
            new = _e_step(self.answers, confusion, class_prior, self.gold_rows, self.no_votes, weights)
            # max |new − old|, computed in the old array's memory (it is not needed any more)
            change = np.abs(np.subtract(new, posterior, out=posterior), out=posterior)
            moved = float(_row_max(change).max()) if len(new) else 0.0
            posterior = new
            if moved < tol:
                converged = True
                break
        return posterior, confusion, class_prior, iterations, converged

    def best(self, posterior: np.ndarray) -> np.ndarray:
        """Best labels; items with neither votes nor gold are ties."""
        best = best_labels(posterior)
        best[~self.known] = TIE
        return best


def _class_prior(shares: np.ndarray, has_votes: np.ndarray, gold: np.ndarray | None) -> np.ndarray:
    known = has_votes if gold is None else has_votes | (gold != NO_GOLD)
    prior = (shares.sum(0) if known.all() else shares[known].sum(0)) + 1.0
    return prior / prior.sum()


SAMPLE_ITEMS = 20_000  # items the dependence check reads at most (evenly spaced); enough for pair statistics
MIN_COMMON = 30  # items two annotators must share before their agreement is tested
DENSE_PAIRS = 1 << 24  # annotator pairs counted in a dense array up to this many (128 MB), else by sorting


def _vote_pairs(indptr: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every unordered pair of votes on one item of a CSR matrix: two arrays of positions into its
    ``indices``. Pairs at distance d within a row are taken for d = 1, 2, … over the votes that
    still have a d-th neighbour, so the work is the number of pairs, whatever the row lengths."""
    lengths = np.diff(indptr)
    row_end = np.repeat(indptr[1:], lengths)
    after = row_end - 1 - np.arange(len(columns))  # votes after each one on its item
    first, second = [], []
    at, d = np.flatnonzero(after > 0), 1
    while len(at):
        first.append(at)
        second.append(at + d)
        d += 1
        at = at[after[at] >= d]
    if not first:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    return np.concatenate(first), np.concatenate(second)


def _independence_weights(answers: sparse.csr_matrix, n_annotators: int, k: int, z_min: float) -> np.ndarray:
    """Per annotator, ``1 / (1 + Σ_b ρ_ab · n_ab / n_a)``: one over the design effect of their
    dependence on the others. ρ_ab is the correlation between a's and b's votes (one label against
    the rest, the largest over labels) that a model of conditionally independent annotators cannot
    produce: under that model the covariance of two annotators' indicators is rank one,
    s_a · s_b, so s is fitted to all pairs by least squares and ρ_ab is what is left of pair ab,
    kept only where it is positive and its z score (ρ √n_ab) exceeds ``z_min``.

    Everything is computed over the pairs of annotators that share at least ``MIN_COMMON`` items
    (found by counting the pairs of votes on each item), so time and memory follow the votes and
    those pairs, not annotators² × labels²."""
    if n_annotators < 2 or answers.shape[0] == 0:
        return np.ones(n_annotators)
    step = -(-answers.shape[0] // SAMPLE_ITEMS)
    sample = answers[::step] if step > 1 else answers
    annotator, label = np.divmod(sample.indices.astype(np.intp), k)
    first, second = _vote_pairs(sample.indptr, annotator)
    lo, hi = np.minimum(annotator[first], annotator[second]), np.maximum(annotator[first], annotator[second])
    pair_key = lo * n_annotators + hi
    if n_annotators**2 <= DENSE_PAIRS:
        keys, pair_of = np.arange(n_annotators**2), pair_key
        common = np.bincount(pair_key, minlength=n_annotators**2)
    else:
        keys, pair_of, common = np.unique(pair_key, return_inverse=True, return_counts=True)
    a, b = np.divmod(keys, n_annotators)
    tested = (common >= MIN_COMMON) & (a != b)
    if not tested.any():
        return np.ones(n_annotators)
    row = np.cumsum(tested) - 1  # a pair's row among the tested pairs
    keep = np.flatnonzero(tested[pair_of])
    first, second, pair = first[keep], second[keep], row[pair_of[keep]]
    swap = annotator[first] > annotator[second]
    label_a = np.where(swap, label[second], label[first])  # the label given by the pair's a (a < b)
    label_b = np.where(swap, label[first], label[second])
    a, b, n = a[tested], b[tested], common[tested].astype(float)
    size = len(n) * k

    def share(index: np.ndarray) -> np.ndarray:  # per tested pair and label, a share of the pair's items
        return np.bincount(index, minlength=size).reshape(-1, k) / n[:, None]

    def per_annotator(of_a: np.ndarray, of_b: np.ndarray) -> np.ndarray:  # a sum over each one's pairs
        return np.bincount(a, of_a, n_annotators) + np.bincount(b, of_b, n_annotators)

    said_a, said_b = share(pair * k + label_a), share(pair * k + label_b)
    same = label_a == label_b
    together = share(pair[same] * k + label_a[same])
    total = np.maximum(per_annotator(n, n), 1.0)
    excess = np.zeros(len(n))
    for lab in range(1 if k == 2 else 0, k):  # with two labels one indicator says it all
        p_a, p_b = said_a[:, lab], said_b[:, lab]
        cov = together[:, lab] - p_a * p_b
        sd = np.sqrt(p_a * (1 - p_a) * p_b * (1 - p_b))
        weighted = n * cov
        s = np.sqrt(np.maximum(per_annotator(weighted, weighted) / total, 1e-4))
        for _ in range(100):  # least squares for s: each annotator's, given the others'
            fit = per_annotator(weighted * s[b], weighted * s[a])
            new = fit / np.maximum(per_annotator(n * s[b] ** 2, n * s[a] ** 2), 1e-12)
            done = np.abs(new - s).max() < 1e-6
            s = new
            if done:
                break
        rho = np.divide(cov - s[a] * s[b], sd, out=np.zeros_like(cov), where=sd > 0)
        rho[rho * np.sqrt(n) <= z_min] = 0.0
        np.maximum(excess, np.minimum(rho, 1.0), out=excess)
    votes = np.maximum(np.bincount(annotator, minlength=n_annotators), 1.0)  # each one's votes in the sample
    return 1.0 / (1.0 + per_annotator(excess * n, excess * n) / votes)


def _m_step(answers, posterior, k, n_annotators, strength, diagonal, cap):
    counts = _empirical_confusion(answers, posterior, n_annotators)
    pooled = _normalise_rows(counts.sum(0) + (diagonal - 1.0) * np.eye(k) + 1.0)
    confusion = _normalise_rows(counts + strength * pooled[None, :, :])
    if cap > 0 and k > 1:
        confusion = _normalise_rows(np.maximum(confusion, cap / (k - 1)))
    return confusion


def _e_step(answers, confusion, class_prior, gold_rows, no_votes, weights=None):
    n_annotators, k, _ = confusion.shape
    log_conf = np.log(np.clip(confusion, 1e-12, None))
    if weights is not None:
        log_conf *= weights[:, None, None]
    log_conf = log_conf.transpose(0, 2, 1).reshape(n_annotators * k, k)
    log_post = np.asarray(answers @ log_conf)  # a new array: updated in place from here on
    for j, log_prior in enumerate(np.log(class_prior)):  # faster than broadcasting a short row
        log_post[:, j] += log_prior
    if k:
        log_post -= _row_max(log_post)[:, None]
        posterior = np.exp(log_post, out=log_post)
        posterior /= _row_sum(posterior)[:, None]
    else:
        posterior = log_post
    posterior[no_votes] = class_prior
    return _clamp(posterior, gold_rows)


def item_posterior(
    annotators: np.ndarray, labels: np.ndarray, confusion: np.ndarray, class_prior: np.ndarray,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """The posterior of one item from its votes (annotator and label indices), given confusion
    matrices, a class prior and vote weights from an earlier run: the E step for a single item."""
    log_votes = np.log(np.clip(confusion[annotators, :, labels], 1e-12, None))  # votes × true label
    if weights is not None:
        log_votes *= np.asarray(weights)[annotators][:, None]
    log_post = np.log(class_prior) + log_votes.sum(0)
    log_post -= log_post.max()
    posterior = np.exp(log_post)
    return posterior / posterior.sum()


def _plain_em(
    votes: Votes, gold: np.ndarray | None, confusion_of, tol: float, max_iter: int, smoothing: float, method: str,
    params: dict,
) -> Result:
    """EM for the textbook models: M step the annotators' matrices (``confusion_of`` turns the
    empirical counts, annotator × true × given, into them) and the class prior from the
    posteriors; E step as in ``dawid_skene``. Gold clamped throughout."""
    em = _EM.of(votes, gold)
    all_known = bool(em.known.all())

    def prior_of(posterior: np.ndarray) -> np.ndarray:
        prior = (posterior.sum(0) if all_known else posterior[em.known].sum(0)) + smoothing
        return prior / prior.sum()

    posterior, confusion, class_prior, iterations, converged = em.run(
        lambda posterior: confusion_of(_empirical_confusion(em.answers, posterior, votes.n_annotators)), prior_of,
        None, tol, max_iter,
    )  # fmt: skip
    return Result(method, posterior, em.best(posterior), confusion, class_prior, iterations, converged,
                  {**params, "tol": tol, "max_iter": max_iter})  # fmt: skip


def dawid_skene_plain(
    votes: Votes, *, gold: np.ndarray | None = None, smoothing: float = 0.01, tol: float = 1e-4, max_iter: int = 100
) -> Result:
    """Textbook Dawid–Skene: a full confusion matrix per annotator and a class prior, both by
    maximum likelihood (plus ``smoothing`` pseudo-votes per cell, so no probability is zero).
    It learns every annotator's biases, and trusts them fully however few votes they rest on."""
    return _plain_em(votes, gold, lambda counts: _normalise_rows(counts + smoothing), tol, max_iter, smoothing,
                     "dawid_skene_plain", {"smoothing": smoothing})  # fmt: skip


def one_coin(votes: Votes, *, gold: np.ndarray | None = None, tol: float = 1e-4, max_iter: int = 100) -> Result:
    """One-coin Dawid–Skene: one accuracy per annotator, a wrong answer equally likely to be any
    other label. It cannot learn a bias toward one label, and so cannot be fooled into one either.

    Each accuracy is shrunk toward the crowd's mean accuracy by a Beta prior fitted to the crowd
    (empirical Bayes, by moments): the prior is worth as many votes as the spread of the
    annotators' accuracies, beyond what their numbers of votes explain, allows. Where everyone is
    about as good, an annotator needs many votes to earn a weight of their own and the method is
    majority vote; where accuracies differ, a few dozen votes do. Without it, on a crowd near
    chance, annotators with a few unlucky votes get rated below chance and their votes inverted."""
    k = votes.n_labels
    diagonal = np.eye(k, dtype=bool)

    def confusion_of(counts: np.ndarray) -> np.ndarray:
        right, n = counts[:, diagonal].sum(1), counts.sum((1, 2))
        accuracy = _shrunk_accuracy(right, n)
        wrong = (1 - accuracy) / max(k - 1, 1)
        confusion = np.repeat(wrong[:, None, None], k, 1).repeat(k, 2)
        confusion[:, diagonal] = accuracy[:, None]
        return confusion

    return _plain_em(votes, gold, confusion_of, tol, max_iter, 0.5, "one_coin", {})


def graded(votes: Votes, *, gold: np.ndarray | None = None, tol: float = 1e-4, max_iter: int = 100) -> Result:
    """For ordered labels (grades 0 … k−1, as a rulebook marked ordered lists them): each annotator
    reads the true grade with an offset of their own (strict or lenient) and a spread, rounded to
    the scale — a normal around grade + offset, cut at the midpoints between grades. Two numbers
    per annotator instead of a k × k matrix, so near grades are confused more than far ones and a
    lenient annotator's "4" counts as a "3" without a hundred votes to learn it from. Offsets and
    spreads are moments of the posterior-weighted (answer − grade), with ``GRADED_PRIOR_VOTES``
    pseudo-votes toward the crowd's."""
    k = votes.n_labels
    grades = np.arange(k, dtype=float)
    step = grades[None, :] - grades[:, None]  # true × given: how far the answer is from the grade

    def confusion_of(counts: np.ndarray) -> np.ndarray:
        n = counts.sum((1, 2))
        # offsets relative to the crowd's: a scale read one grade high by everyone cannot be told
        # from items one grade higher, so the crowd as a whole is taken to read grades right
        offset = (counts * step).sum((1, 2)) / (n + GRADED_PRIOR_VOTES)
        offset -= (n * offset).sum() / max(n.sum(), 1e-12)
        second = (counts * (step[None] - offset[:, None, None]) ** 2).sum((1, 2))
        crowd_var = second.sum() / max(n.sum(), 1e-12) + 1 / 12  # + the rounding to whole grades
        spread = np.sqrt((second + GRADED_PRIOR_VOTES * crowd_var) / (n + GRADED_PRIOR_VOTES))
        edges = np.concatenate([[-np.inf], grades[:-1] + 0.5, [np.inf]])  # answer g covers (g − ½, g + ½)
        centre = grades[None, :, None] + offset[:, None, None]
        z = (edges[None, None, :] - centre) / np.maximum(spread, 0.05)[:, None, None]
        confusion = np.maximum(np.diff(ndtr(z), axis=2), 1e-6)
        return confusion / confusion.sum(2, keepdims=True)

    return _plain_em(votes, gold, confusion_of, tol, max_iter, 0.5, "graded", {})


GRADED_PRIOR_VOTES = 2.0


MAX_PRIOR_VOTES = 10_000.0  # the crowd prior's weight when the annotators' accuracies do not spread at all


def _shrunk_accuracy(right: np.ndarray, n: np.ndarray) -> np.ndarray:
    """(right + s·m) / (n + s): m the crowd's accuracy, s = m(1 − m)/τ² − 1 where τ² is the
    variance of the annotators' accuracies (vote-weighted) less the binomial noise of their counts."""
    has = n > 0
    if not has.any():
        return np.full(len(n), 0.5)
    m = float(right[has].sum() / n[has].sum())
    share = n[has] / n[has].sum()
    spread = float((share * (right[has] / n[has] - m) ** 2).sum()) - m * (1 - m) * float((share / n[has]).sum())
    strength = MAX_PRIOR_VOTES if spread <= 0 else float(np.clip(m * (1 - m) / spread - 1, 1.0, MAX_PRIOR_VOTES))
    return (right + strength * m) / (n + strength)


# The candidates of ``auto``, in its order of preference: the fewest parameters first, then the
# textbook full model, then the variant tuned on the shared sets, then majority vote, which
# ignores who is reliable altogether.
CANDIDATES = ("one_coin", "dawid_skene_plain", "dawid_skene", "majority")
# For ordered labels, the graded model (two numbers per annotator) comes after one-coin.
ORDERED_CANDIDATES = ("one_coin", "graded", "dawid_skene_plain", "dawid_skene", "majority")
METHOD_NAMES = {
    "one_coin": "one-coin Dawid–Skene", "dawid_skene_plain": "Dawid–Skene", "dawid_skene": "robust Dawid–Skene",
    "majority": "majority vote", "graded": "graded Dawid–Skene", "auto": "chosen per project",
}  # fmt: skip
CHOICE_FOLDS = 5  # groups of annotators held out in turn
CHOICE_MARGIN = 2.5  # standard errors within which an earlier candidate is kept
CHOICE_VOTES = 60_000  # votes the choice reads at most: a larger project is sampled by item


CHOICE_TOL = 1e-3  # EM's tolerance in the choice's fits: labels, not posteriors to four digits, are compared


def _candidate(name: str, votes: Votes, gold: np.ndarray | None, tol: float = 1e-4) -> Result:
    if name == "majority":
        return majority_vote(votes, gold=gold, tie_break=True)
    fit = {"one_coin": one_coin, "dawid_skene_plain": dawid_skene_plain, "dawid_skene": dawid_skene, "graded": graded}[name]
    return fit(votes, gold=gold, tol=tol)


def _sample_items(votes: Votes, gold: np.ndarray | None, limit: int) -> tuple[Votes, np.ndarray | None, int]:
    """Every step-th item (and its votes) so that about ``limit`` votes remain, re-indexed."""
    step = -(-len(votes.item) // limit) if limit > 0 else 1
    if step <= 1:
        return votes, gold, votes.n_items
    kept = votes.item % step == 0
    n_items = -(-votes.n_items // step)
    sample = Votes(votes.item[kept] // step, votes.annotator[kept], votes.label[kept], n_items, votes.n_annotators,
                   votes.n_labels)  # fmt: skip
    return sample, gold[::step] if gold is not None else None, n_items


def choose_method(
    votes: Votes, *, gold: np.ndarray | None = None, ordered: bool = False, candidates: tuple[str, ...] | None = None,
    folds: int = CHOICE_FOLDS, margin: float = CHOICE_MARGIN, sample_votes: int = CHOICE_VOTES,
) -> Choice:
    """Which candidate this project's votes support (see ``consensus.choice``). ``ordered``: the
    labels are grades in index order, and the graded model is a candidate too."""
    order = candidates or (ORDERED_CANDIDATES if ordered else CANDIDATES)
    sample, sample_gold, items = _sample_items(votes, gold, sample_votes)
    fits = {name: (lambda v, g, name=name: _candidate(name, v, g, CHOICE_TOL).best) for name in order}
    heldout = heldout_scores(sample, fits=fits, gold=sample_gold, folds=folds)
    return choose(heldout, order=order, names=METHOD_NAMES, margin=margin, items=items)


def auto(
    votes: Votes, *, gold: np.ndarray | None = None, ordered: bool = False, candidates: tuple[str, ...] | None = None,
    folds: int = CHOICE_FOLDS, margin: float = CHOICE_MARGIN, sample_votes: int = CHOICE_VOTES,
) -> Result:
    """The product's default: choose the model from the project's own votes (``choose_method``),
    then fit it to every vote. The result is the chosen model's, with ``method`` "auto",
    ``params["method_chosen"]`` and the evidence in ``choice`` (``choice.summary`` is the line to
    show people; ``choice.as_params()`` the provenance)."""
    picked = choose_method(votes, gold=gold, ordered=ordered, candidates=candidates, folds=folds, margin=margin,
                           sample_votes=sample_votes)  # fmt: skip
    result = _candidate(picked.method, votes, gold)
    return replace(result, method="auto", params={"method_chosen": picked.method, **result.params}, choice=picked)


METHODS = {"auto": auto, "one_coin": one_coin, "dawid_skene_plain": dawid_skene_plain, "dawid_skene": dawid_skene,
           "majority": majority_vote, "graded": graded}  # fmt: skip
DEFAULT_METHOD = "auto"
