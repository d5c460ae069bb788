"""Synthetic crowds with a known truth: one generator per candidate model of ``aggregation.auto``,
and crowds shaped like real sets the shared ones lack (graded labels with many ties, thousands of
items at three votes, correlated errors on hard items, many votes per item).

Every generator takes a ``numpy.random.Generator`` and returns ``(votes, truth)``: votes in item
order, no annotator twice on an item, and the true label index of every item.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from consensus.metrics import Votes


def assign(rng: np.random.Generator, n_items: int, n_annotators: int, per_item: int, zipf: float = 1.0) -> np.ndarray:
    """items × per_item distinct annotators; annotator r is drawn in proportion to r^-zipf (ranks
    shuffled), so a few annotators do much of the work, as on crowdsourcing markets."""
    weight = rng.permutation(1.0 / np.arange(1, n_annotators + 1) ** zipf)
    keys = np.log(weight)[None, :] - np.log(-np.log(rng.random((n_items, n_annotators))))  # Gumbel top-k
    return np.argsort(-keys, axis=1)[:, :per_item]


def _answer(rng: np.random.Generator, confusion: np.ndarray, annotator: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Each vote drawn from its annotator's row for the true label."""
    cumulative = confusion[annotator, truth].cumsum(1)
    return np.minimum((rng.random(len(truth))[:, None] > cumulative).sum(1), confusion.shape[-1] - 1)


def _crowd(rng, confusion, prior, n_items, per_item, zipf=1.0) -> tuple[Votes, np.ndarray]:
    n_annotators, k, _ = confusion.shape
    truth = rng.choice(k, n_items, p=prior)
    who = assign(rng, n_items, n_annotators, per_item, zipf)
    item = np.repeat(np.arange(n_items), per_item)
    annotator = who.ravel()
    label = _answer(rng, confusion, annotator, truth[item])
    return Votes(item, annotator, label, n_items, n_annotators, k), truth


def symmetric(accuracy: np.ndarray, k: int) -> np.ndarray:
    """annotators × k × k: right with their accuracy, else any other label alike."""
    m = np.repeat(((1 - accuracy) / (k - 1))[:, None, None], k, 1).repeat(k, 2)
    m[:, np.arange(k), np.arange(k)] = accuracy[:, None]
    return m


# --- one generator per candidate ------------------------------------------------------------


def majority_crowd(rng, *, n_items=600, n_annotators=30, per_item=5, k=3):
    """Majority vote's model: every annotator equally reliable, errors symmetric, classes alike."""
    accuracy = np.full(n_annotators, rng.uniform(0.6, 0.8))
    return _crowd(rng, symmetric(accuracy, k), np.full(k, 1 / k), n_items, per_item, zipf=0.0)


def one_coin_crowd(rng, *, n_items=600, n_annotators=30, per_item=5, k=3):
    """One-coin's model: an accuracy per annotator (some near chance), errors symmetric."""
    accuracy = rng.uniform(1.2 / k, 0.95, n_annotators)
    return _crowd(rng, symmetric(accuracy, k), rng.dirichlet(np.full(k, 5.0)), n_items, per_item)


def dawid_skene_crowd(rng, *, n_items=600, n_annotators=30, per_item=5, k=3):
    """Dawid–Skene's model: a full confusion matrix per annotator — each leans toward labels of its
    own (rows drawn around the diagonal plus a personal bias) — and uneven classes."""
    bias = rng.dirichlet(np.full(k, 0.5), n_annotators)  # where each one's errors go
    skill = rng.uniform(0.3, 0.9, (n_annotators, k))  # per true label, how often they see it right
    confusion = (1 - skill)[:, :, None] * bias[:, None, :]
    confusion[:, np.arange(k), np.arange(k)] += skill
    return _crowd(rng, confusion, rng.dirichlet(np.full(k, 2.0)), n_items, per_item)


def crowd_like_crowd(rng, *, n_items=600, n_annotators=30, per_item=5, k=3):
    """The robust variant's model: annotators resemble their crowd — each one's confusion rows
    are drawn around the crowd's shared matrix (worth 8 votes a row, as its shrinkage assumes),
    which itself leans toward some labels — and nobody is right more than 90% of the time."""
    lean = rng.dirichlet(np.full(k, 1.0))
    crowd = 0.3 * lean[None, :] + 0.7 * np.eye(k)
    confusion = np.stack([rng.dirichlet(8 * crowd[z], n_annotators) for z in range(k)], 1) + 1e-9
    for z in range(k):  # the evidence cap: at most 0.9 on the diagonal, the rest shared as drawn
        over = np.maximum(confusion[:, z, z] - 0.9, 0)
        rest = confusion[:, z].sum(1) - confusion[:, z, z]
        confusion[:, z] += over[:, None] * confusion[:, z] / rest[:, None]
        confusion[:, z, z] -= over * (1 + confusion[:, z, z] / rest)
    confusion /= confusion.sum(-1, keepdims=True)
    return _crowd(rng, confusion, rng.dirichlet(np.full(k, 5.0)), n_items, per_item)


def copying_crowd(rng, *, n_items=2000, n_annotators=50, per_item=5, k=3):
    """A Dawid–Skene crowd in which a third of the annotators copy one shared answer (right only
    60% of the time) 90% of the time: errors that agree, which fool every candidate that weighs
    annotators by their agreement with the rest."""
    votes, truth = dawid_skene_crowd(rng, n_items=n_items, n_annotators=n_annotators, per_item=per_item, k=k)
    group = rng.permutation(n_annotators)[: n_annotators // 3]
    shared = np.where(rng.random(n_items) < 0.6, truth, rng.integers(0, k, n_items))
    copies = np.isin(votes.annotator, group) & (rng.random(len(votes.item)) < 0.9)
    label = np.where(copies, shared[votes.item], votes.label)
    return Votes(votes.item, votes.annotator, label, votes.n_items, n_annotators, k), truth


GENERATORS = {"majority": majority_crowd, "one_coin": one_coin_crowd, "dawid_skene_plain": dawid_skene_crowd,
              "dawid_skene": crowd_like_crowd}  # fmt: skip


# --- shapes the shared sets lack ------------------------------------------------------------


def graded_crowd(rng, *, n_items=2665, n_annotators=177, per_item=6, k=5, spammers=0.15):
    """Graded relevance (0 … k-1): each annotator reads the grade with their own offset (strict or
    lenient) and noise, rounded to the scale; some answer one grade always or at random. Many
    annotators with few votes, ~6 votes an item, a fifth of items tied under majority vote."""
    prior = np.array([0.3, 0.3, 0.2, 0.15, 0.05])[:k]
    offset = rng.normal(0, 0.5, n_annotators)
    noise = rng.uniform(0.2, 1.0, n_annotators)
    grades = np.arange(k)
    # P(answer g | grade z): a normal around z + offset, binned to the nearest grade
    edges = np.concatenate([[-np.inf], grades[:-1] + 0.5, [np.inf]])
    centre = grades[None, :, None] + offset[:, None, None]
    upper = ndtr((edges[None, None, 1:] - centre) / noise[:, None, None])
    lower = ndtr((edges[None, None, :-1] - centre) / noise[:, None, None])
    confusion = upper - lower
    spam = rng.random(n_annotators) < spammers
    constant = rng.integers(0, k, n_annotators)
    confusion[spam] = np.where(rng.random((int(spam.sum()), 1, 1)) < 0.5, np.eye(k)[constant[spam]][:, None, :], 1 / k)
    return _crowd(rng, confusion, prior / prior.sum(), n_items, per_item)


def matching_crowd(rng, *, n_items=8315, n_annotators=176, per_item=3, positive=0.12):
    """Entity resolution: most pairs do not match; annotators rarely call a non-match a match
    but miss many matches, each at their own rate. Three votes an item."""
    specificity = rng.uniform(0.95, 0.999, n_annotators)
    sensitivity = rng.uniform(0.3, 0.95, n_annotators)
    confusion = np.stack([np.stack([specificity, 1 - specificity], 1), np.stack([1 - sensitivity, sensitivity], 1)], 1)
    return _crowd(rng, confusion, np.array([1 - positive, positive]), n_items, per_item)


def hard_items_crowd(rng, *, n_items=2040, n_annotators=75, per_item=5, positive=0.22, hard=0.25, lure=0.6):
    """Entity linking with correlated errors: a quarter of the true "no" items look like "yes",
    and on those every annotator says "yes" with probability ``lure`` — errors that agree across
    annotators, which no model of independent annotators explains."""
    accuracy = rng.uniform(0.65, 0.95, n_annotators)
    votes, truth = _crowd(rng, symmetric(accuracy, 2), np.array([1 - positive, positive]), n_items, per_item)
    lured = (truth == 0)[votes.item] & (rng.random(n_items) < hard)[votes.item] & (rng.random(len(votes.item)) < lure)
    return Votes(votes.item, votes.annotator, np.where(lured, 1, votes.label), n_items, n_annotators, 2), truth


def ambiguous_crowd(rng, *, n_items=300, n_annotators=110, per_item=20, k=5, ambiguous=0.3):
    """Sentiment with many votes an item: a share of the items are ambiguous between their label
    and a neighbour, which half the annotators then answer."""
    accuracy = rng.uniform(0.5, 0.95, n_annotators)
    votes, truth = _crowd(rng, symmetric(accuracy, k), rng.dirichlet(np.full(k, 3.0)), n_items, per_item, zipf=0.5)
    other = (truth + rng.choice([-1, 1], n_items)) % k
    is_ambiguous = rng.random(n_items) < ambiguous
    swap = is_ambiguous[votes.item] & (rng.random(len(votes.item)) < 0.5)
    return Votes(votes.item, votes.annotator, np.where(swap, other[votes.item], votes.label), n_items, n_annotators, k), truth


SHAPES = {
    "graded: 5 classes, 177 annotators, 6 votes/item": graded_crowd,
    "matching: 2 classes, 176 annotators, 3 votes/item": matching_crowd,
    "hard items: 2 classes, 75 annotators, 5 votes/item": hard_items_crowd,
    "ambiguous: 5 classes, 110 annotators, 20 votes/item": ambiguous_crowd,
    "copying: 3 classes, 50 annotators, a third copying": copying_crowd,
}
