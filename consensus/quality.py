"""Annotator quality from counts: gold accuracy with its uncertainty, and the flags that catch
careless or malicious annotators. Pure numpy/scipy; no Django here.

Every flag asks for evidence before it fires, so an honest annotator with a bad first hour is not
flagged, and every flag says what it saw:

- ``low_gold``: accuracy on gold items is credibly below the project's bar — the Beta posterior
  of the accuracy (uniform prior) puts at least ``CREDIBLE`` of its mass below the bar;
- ``chance``: agreement with the consensus is credibly no better than chance — the Beta
  posterior of the agreement puts at least ``CREDIBLE`` of its mass below chance plus
  ``CHANCE_MARGIN`` of the distance from chance to perfect. Chance is what someone answering
  with the same label frequencies, but independently of the item, would agree: Σₖ pₖ qₖ for
  their answer shares p and the consensus shares q;
- ``fast``: their median time per item is below ``FAST_RATIO`` of the median of the other
  annotators' medians (at least ``MIN_TIMED`` timed answers each, and ``MIN_PEERS`` peers);
- ``constant``: at least ``CONSTANT_SHARE`` of at least ``MIN_CONSTANT`` answers are one label,
  while that label's share among everyone's answers is at most ``CROWD_SHARE_MAX`` (otherwise the
  labels themselves are that imbalanced).

A uniform random spammer on a two-label task is caught by ``chance`` after about 70 answers and
by ``low_gold`` (bar 0.6) after about 15–30 gold answers; ``docs/benchmarks.md`` has the figures
of the simulation in ``tests/consensus/test_quality_simulation.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

CREDIBLE = 0.95
CHANCE_MARGIN = 0.2
FAST_RATIO = 0.25
MIN_TIMED = 10
MIN_PEERS = 3
CONSTANT_SHARE = 0.95
MIN_CONSTANT = 20
CROWD_SHARE_MAX = 0.8


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float  # 2.5% quantile
    high: float  # 97.5% quantile
    n: int


def beta_interval(right: int, total: int) -> Interval | None:
    """Posterior mean and central 95% interval of a rate after ``right`` of ``total``, from a
    uniform prior; None without any observation."""
    if total <= 0:
        return None
    a, b = 1 + right, 1 + total - right
    low, high = stats.beta.ppf([0.025, 0.975], a, b)
    return Interval(a / (a + b), float(low), float(high), total)


def credibly_below(right: int, total: int, bar: float) -> bool:
    """Whether the Beta posterior of the rate puts at least ``CREDIBLE`` of its mass below ``bar``."""
    return total > 0 and float(stats.beta.cdf(bar, 1 + right, 1 + total - right)) >= CREDIBLE


@dataclass
class AnnotatorStats:
    """What is known of one annotator; counts are of their current votes."""

    answers: np.ndarray  # votes per label (the consensus's label order)
    agree: int = 0  # votes equal to the consensus label, among ``compared``
    compared: int = 0  # votes on items that have a consensus label
    gold_right: int = 0
    gold_total: int = 0
    median_ms: float | None = None  # median time per answer
    timed: int = 0  # answers with a time


@dataclass(frozen=True)
class Flag:
    code: str  # low_gold, chance, fast, constant
    message: str


@dataclass
class Assessment:
    gold: Interval | None
    agreement: float | None
    chance: float | None
    flags: list[Flag] = field(default_factory=list)


def assess(
    annotators: list[AnnotatorStats], *, consensus_shares: np.ndarray, min_gold_accuracy: float
) -> list[Assessment]:
    """One ``Assessment`` per annotator, in order. ``consensus_shares``: the share of each label
    among the consensus labels (the aggregator's class prior will do)."""
    q = np.asarray(consensus_shares, dtype=float)
    everyone = np.sum([a.answers for a in annotators], axis=0) if annotators else np.zeros(len(q))
    crowd_share = everyone / everyone.sum() if everyone.sum() else everyone
    medians = [a.median_ms if a.median_ms and a.timed >= MIN_TIMED else None for a in annotators]
    out = []
    for n, a in enumerate(annotators):
        flags: list[Flag] = []
        gold = beta_interval(a.gold_right, a.gold_total)
        if credibly_below(a.gold_right, a.gold_total, min_gold_accuracy):
            flags.append(Flag("low_gold", f"{a.gold_right} of {a.gold_total} gold answers right: credibly below {min_gold_accuracy:.0%}."))
        total = int(a.answers.sum())
        p = a.answers / total if total else a.answers
        chance = float(p @ q) if total and len(q) == len(p) else None
        agreement = a.agree / a.compared if a.compared else None
        if chance is not None and a.compared:
            bar = chance + CHANCE_MARGIN * (1 - chance)
            if credibly_below(a.agree, a.compared, bar):
                flags.append(Flag("chance", f"Agrees with the consensus on {agreement:.0%} of {a.compared} items; chance alone gives {chance:.0%}."))
        peers = [m for k, m in enumerate(medians) if k != n and m is not None]
        if medians[n] is not None and len(peers) >= MIN_PEERS:
            typical = float(np.median(peers))
            if medians[n] < FAST_RATIO * typical:
                flags.append(Flag("fast", f"Median {medians[n] / 1000:.1f} s per item; others take {typical / 1000:.1f} s."))
        if total >= MIN_CONSTANT:
            top = int(np.argmax(a.answers))
            if a.answers[top] / total >= CONSTANT_SHARE and crowd_share[top] <= CROWD_SHARE_MAX:
                flags.append(Flag("constant", f"{a.answers[top] / total:.0%} of {total} answers are the same label; {crowd_share[top]:.0%} of everyone's are."))
        out.append(Assessment(gold, agreement, chance, flags))
    return out
