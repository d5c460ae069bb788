"""Pure ordering rules of the annotator queue. No Django.

The database does the ordering of ordinary items (closest to completion, then priority, then
oldest — see ``items.transitions.lease_open``); what is decided here is when a gold item comes
instead, and how many votes an item needs.
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
    more. Restated, for the database, by the queue's SQL (``items.transitions.lease_open``,
    ``lease_vote``) and the annotator's count of items left (``labeling.selectors``);
    ``tests/annotation/labeling/test_queue.py`` checks they agree."""
    return min_votes + extra_votes


def extra_votes_for_one_more(*, votes: int, min_votes: int) -> int:
    """The ``extra_votes`` that make an item with ``votes`` counting votes need exactly one more
    (never fewer than none): what the policy sets when it asks for another annotator, and what
    a reviewer's send-back sets, even past ``max_votes``."""
    return max(votes + 1 - min_votes, 0)
