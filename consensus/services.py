"""Deciding an item after a vote.

Interim step until the consensus engine (issue 4) replaces it: an item is complete once it has
as many current votes as it needs (the project's ``min_votes`` plus any extra asked for), and
back in the queue if an undo takes it below that. Votes are never changed here.
"""

from __future__ import annotations

from annotation.models import Item, ItemState, Project
from annotation.queue import votes_needed


def item_decide(
    *, project: Project, item_id: int, state: str, votes_count: int, extra_votes: int, is_gold: bool
) -> str:
    """Set the item's state from its counts (as the caller just updated them) and return it.
    Expects the caller to hold the item's row lock (``vote_cast`` and ``vote_undo`` do)."""
    needed = votes_needed(min_votes=project.min_votes, max_votes=project.max_votes, extra_votes=extra_votes)
    if is_gold:
        return state  # gold items stay in the queue as honeypots
    if state == ItemState.QUEUED and votes_count >= needed:
        new = ItemState.COMPLETE
    elif state == ItemState.COMPLETE and votes_count < needed:
        new = ItemState.QUEUED
    else:
        return state
    Item.objects.filter(pk=item_id).update(state=new)
    return new
