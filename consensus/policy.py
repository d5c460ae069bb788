"""What to do with an item, from its posterior, agreement and votes. Pure; no Django here.

``decide`` is the promotion rule for an open item; ``still_supported`` is the rule that keeps an
item that is already ground truth there. Both work on one item (``decide``) or on arrays of
items at once (``decide_many``), with the same thresholds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np


class Decision(enum.IntEnum):
    WAIT = 0  # fewer votes than it needs: leave it in the queue
    PROMOTE = 1  # ground truth
    MORE = 2  # ask for one more vote
    REVIEW = 3  # a person decides


class Why(enum.IntEnum):
    """Why an item goes to review, most urgent first."""

    CLAIM = 1  # an annotator says it fits no label / should not be labeled
    UNSURE = 2  # an annotator was unsure, and the project sends those to a person
    SPLIT = 3  # votes tied, or the best label's share is below the bar, at max votes
    LOW_POSTERIOR = 4  # votes agree enough, but the aggregator is not confident


@dataclass(frozen=True)
class Thresholds:
    min_votes: int
    max_votes: int
    promote_posterior: float
    promote_agreement: float

    @classmethod
    def of(cls, project) -> Thresholds:  # type: ignore[no-untyped-def]
        return cls(project.min_votes, project.max_votes, project.promote_posterior, project.promote_agreement)


def decide(
    *, posterior: float, agreement: float, votes: int, needed: int, tie: bool, claims: int, t: Thresholds
) -> Decision:
    """Promote when the item has the votes it needs, its best label is not tied, and both its
    posterior and its agreement (share of votes for the best label) reach the thresholds.
    Otherwise ask for one more vote while it has fewer than ``max_votes``, then send it to
    review. An item with a "does not fit" or similar claim goes to review once it has its votes."""
    return Decision(
        decide_many(
            posterior=np.array([posterior]), agreement=np.array([agreement]), votes=np.array([votes]),
            needed=np.array([needed]), tie=np.array([tie]), claims=np.array([claims]), t=t,
        )[0]
    )  # fmt: skip


def decide_many(
    *,
    posterior: np.ndarray,
    agreement: np.ndarray,
    votes: np.ndarray,
    needed: np.ndarray,
    tie: np.ndarray,
    claims: np.ndarray,
    t: Thresholds,
) -> np.ndarray:
    """``decide`` over arrays of items; returns an array of ``Decision`` values."""
    out = np.full(len(posterior), Decision.WAIT, dtype=np.int8)
    ready = votes >= np.maximum(needed, t.min_votes)
    confident = (posterior >= t.promote_posterior) & (agreement >= t.promote_agreement) & ~tie & (claims == 0)
    out[ready & confident] = Decision.PROMOTE
    out[ready & ~confident & (votes < t.max_votes) & (claims == 0)] = Decision.MORE
    out[ready & ~confident & ((votes >= t.max_votes) | (claims > 0))] = Decision.REVIEW
    return out


def still_supported(*, label_posterior: float, best_is_label: bool, votes: int, t: Thresholds) -> bool:
    """Ground truth stays while its label is still the best one, holds at least half the
    posterior, and the item keeps ``min_votes`` votes. Otherwise support has collapsed and the
    item goes to review — it never flips to another label silently."""
    return bool(
        supported_many(
            label_posterior=np.array([label_posterior]), best_is_label=np.array([best_is_label]),
            votes=np.array([votes]), t=t,
        )[0]
    )  # fmt: skip


def supported_many(
    *, label_posterior: np.ndarray, best_is_label: np.ndarray, votes: np.ndarray, t: Thresholds
) -> np.ndarray:
    return best_is_label & (label_posterior >= 0.5) & (votes >= t.min_votes)


def review_reasons(
    *, agreement: np.ndarray, tie: np.ndarray, claims: np.ndarray, unsure: np.ndarray, t: Thresholds
) -> np.ndarray:
    """``Why`` each item sent to review went there (meaningful only where ``decide_many`` said
    REVIEW). ``claims`` are the real claims here, ``unsure`` the unsure votes that counted."""
    out = np.full(len(agreement), Why.LOW_POSTERIOR, dtype=np.int8)
    out[tie | (agreement < t.promote_agreement)] = Why.SPLIT
    out[unsure > 0] = Why.UNSURE
    out[claims > 0] = Why.CLAIM
    return out
