"""Deciding an item after a vote.

Interim step until the consensus engine (issue 4) replaces it: an item is complete once it has
as many current votes as it needs (the project's ``min_votes`` plus any extra asked for), and
back in the queue if an undo takes it below that. Votes are never changed here.
"""

from __future__ import annotations

from annotation.models import Item, ItemState, Project


def item_decide(*, project: Project, item_id: int) -> str:
    """Set the item's state from its vote count and return it. Expects the caller to hold the
    item's row lock (``vote_cast`` and ``vote_undo`` do)."""
    item = Item.objects.only("state", "votes_count", "extra_votes", "gold").get(pk=item_id)
    needed = min(project.min_votes + item.extra_votes, project.max_votes)
    if item.gold is not None:
        return item.state  # gold items stay in the queue as honeypots
    if item.state == ItemState.QUEUED and item.votes_count >= needed:
        state = ItemState.COMPLETE
    elif item.state == ItemState.COMPLETE and item.votes_count < needed:
        state = ItemState.QUEUED
    else:
        return item.state
    Item.objects.filter(pk=item_id).update(state=state)
    return state
