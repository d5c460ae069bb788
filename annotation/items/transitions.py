"""The only writer of an item's state and lease counters."""

from __future__ import annotations

import datetime as dt

from annotation import events
from annotation.items.models import Item
from annotation.labeling.models import Lease, LeaseStatus
from annotation.projects.models import Project


def leases_revoke_items(*, project: Project, item_ids: list[int], message: str, now: dt.datetime) -> int:
    """End every active lease on these items, which leave labeling: the leases are released,
    the items' lease counters zeroed, and each holder told at once. Returns how many leases
    ended. Expects the caller to hold the items' row locks."""
    leases = Lease.objects.filter(item_id__in=item_ids, status=LeaseStatus.ACTIVE)
    holders: dict[int, list[int]] = {}
    for user_id, item_id in leases.values_list("annotator_id", "item_id"):
        holders.setdefault(user_id, []).append(item_id)
    released = leases.update(status=LeaseStatus.RELEASED, closed_at=now)
    Item.objects.filter(pk__in=item_ids).update(leased_count=0)
    for user_id, items in holders.items():
        events.lease_revoked(project.pk, user_id, items, message)
    return released
