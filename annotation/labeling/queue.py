"""Pure ordering rules of the annotator queue. No Django.

The database does the ordering of ordinary items (closest to completion, then priority, then
oldest — see ``labeling._pick``); what is decided here is when a gold item comes instead.
"""

from __future__ import annotations

import math


def is_gold_turn(votes_cast: int, gold_rate: float) -> bool:
    """Whether the annotator's next item should be a gold item.

    Gold items come evenly spaced at the rate: the (n+1)-th item is gold when
    ``floor((n+1)·rate)`` passes ``floor(n·rate)``, so at rate 0.1 every tenth item is gold,
    and after any number of items the share of gold is within one item of the rate.
    """
    if gold_rate <= 0:
        return False
    if gold_rate >= 1:
        return True
    return math.floor((votes_cast + 1) * gold_rate + 1e-9) > math.floor(votes_cast * gold_rate + 1e-9)


def votes_needed(*, min_votes: int, extra_votes: int) -> int:
    """Votes an item needs in all: the project's minimum plus any extra asked for. The policy
    asks for extra votes only up to ``max_votes``; a reviewer may send an item back for one
    more. The queue's SQL (``labeling._pick_and_count``) states the same rule."""
    return min_votes + extra_votes
