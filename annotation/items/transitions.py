"""The only writer of an item's state and lease counters.

``Item.state``, ``votes_count``, ``leased_count``, ``extra_votes`` and ``excluded_from``, and
every change of a lease's status that moves a counter, are written here and nowhere else
(``tests/annotation/items/test_transitions.py`` walks the code to keep it so). The areas decide
*whether* an item moves — curation, review, the rulebook, suspension, the policy, the annotator's
loop — and call one function here that does the whole move: it revokes the leases the move ends
(their holders told by ``lease.revoked``), writes the rows, records why in the audit log when a
person or a rule caused it, and publishes ``item.decided`` after commit.

What records why: a transition a person causes (curation, review, rulebook examples, suspension,
a withdrawn ground truth) writes an audit event; a decision of the policy is recorded by the row
it writes beside the move (a ``GroundTruth`` with its provenance, a ``ReviewCase`` with its
reason), so the vote path pays no audit insert per vote.

The vote path's functions (``lease_open``, ``lease_vote``) take the caller's cursor and issue
the very statements the vote path issued before they moved here — one statement per counter
change, no extra query — so routing the hot path through this module costs nothing. The bulk
moves of a project-wide re-estimation (``items_move``) announce themselves with one
``consensus.updated`` event (the dashboard reloads) instead of one event per item.

Every function expects to run inside the caller's transaction; which row locks it expects is
said in its docstring.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection
from django.db.models import Count, F, OuterRef, Subquery

from annotation import events
from annotation.items.models import Item, ItemState
from annotation.labeling.models import LEASES_EXCLUDING_ITEM, Lease, LeaseStatus, Vote, VoteKind
from annotation.projects.models import AuditEvent, Project
from annotation.projects.services import audit_record
from annotation.voters.selectors import suspended_voter_ids

# An exclusion of thousands of items (curation) tells the dashboard about this many one by one;
# the area's own summary event (``curation.decided``) makes it reload for the rest.
MAX_ITEM_EVENTS = 100
BATCH = 5000


@dataclass(frozen=True)
class Why:
    """What the audit log says about a move a person (or a rule of the product) caused: the
    verb, who, and what to add to the ``before``/``after`` the transition writes (``state``)."""

    verb: str
    actor: AbstractBaseUser | None
    before: Mapping[str, Any] = field(default_factory=dict)
    after: Mapping[str, Any] = field(default_factory=dict)


def _actor(actor: AbstractBaseUser | None) -> AbstractBaseUser | None:
    return actor if actor is not None and actor.is_authenticated else None


def _table(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _ts(value: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _skip_locked() -> str:
    return " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""


def _announce(project: Project, moves: Iterable[tuple[int, str, str]]) -> None:
    """``item.decided`` for each (item, was, now) that changed state, up to ``MAX_ITEM_EVENTS``."""
    sent = 0
    for item_id, was, now in moves:
        if was != now and sent < MAX_ITEM_EVENTS:
            events.item_decided(project.pk, item=item_id, state=now, was=was)
            sent += 1


# --- leases -------------------------------------------------------------------------------------


def lease_open(
    cur: Any, *, project: Project, annotator_id: int, version_id: int, gold: bool, now: dt.datetime, expires: dt.datetime,
    shown: tuple[str, ...],
) -> tuple[int, tuple[Any, ...]] | None:  # fmt: skip
    """Lease the next item to the annotator: count the lease on the best open item and insert
    it. Returns (lease id, the item's ``shown`` columns) or None when no item is open to them.

    The item is picked and counted in one statement with ``FOR UPDATE SKIP LOCKED``
    (PostgreSQL), so concurrent annotators each take a different row and never wait on each
    other; an ordinary item is open while ``votes_count + leased_count`` is below what it needs
    (``queue.votes_needed``, restated in SQL here; ``tests/annotation/labeling/test_queue.py``
    checks both agree). Gold items are honeypots: every annotator may get each once."""
    mine = (
        f"NOT EXISTS (SELECT 1 FROM {_table(Lease)} l WHERE l.item_id = i.id AND l.annotator_id = %s "
        f"AND l.status IN (%s, %s, %s))"
    )
    params: list[Any] = [project.pk, annotator_id, *LEASES_EXCLUDING_ITEM]
    if gold:  # reviewed ground truth turned gold is served too
        where, order = "i.state IN (%s, %s) AND i.gold IS NOT NULL", "i.id"
        params += [ItemState.QUEUED, ItemState.GROUND_TRUTH]
    else:
        where = "i.state = %s AND i.gold IS NULL AND i.votes_count + i.leased_count < %s + i.extra_votes"
        params += [ItemState.QUEUED, project.min_votes]
        order = "i.votes_count DESC, i.priority DESC, i.id"
    quote = connection.ops.quote_name
    columns = ", ".join(quote(Item._meta.get_field(f).column) for f in shown)
    cur.execute(
        f"UPDATE {_table(Item)} SET leased_count = leased_count + 1 WHERE id = ("
        f"SELECT i.id FROM {_table(Item)} i WHERE i.project_id = %s AND {mine} AND {where} "
        f"ORDER BY {order} LIMIT 1{_skip_locked()}) RETURNING {columns}",
        params,
    )
    item_row = cur.fetchone()
    if item_row is None:
        return None
    names = ("project", "item", "annotator", "rulebook_version", "status", "is_gold", "created_at", "expires_at")
    cur.execute(
        f"INSERT INTO {_table(Lease)} ({', '.join(quote(Lease._meta.get_field(f).column) for f in names)}) "
        f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        [project.pk, item_row[0], annotator_id, version_id, LeaseStatus.ACTIVE, gold, _ts(now), _ts(expires)],
    )
    return cur.fetchone()[0], tuple(item_row)


def lease_vote(cur: Any, *, project: Project, lease_id: int, item_id: int, now: dt.datetime) -> bool:
    """The lease's holder voted: the lease is closed as voted and its item counts one vote more
    and one lease less. Two statements, as the vote path always issued. Returns False, and
    changes nothing the caller may keep, when a non-gold item already has all the votes it may
    take — ``max_votes``, or what a reviewer asked for past it (the caller rolls back).
    Expects the caller to hold the lease's row lock; takes the item's."""
    cur.execute(f"UPDATE {_table(Lease)} SET status = %s, closed_at = %s WHERE id = %s", [LeaseStatus.VOTED, _ts(now), lease_id])
    # The last word on max_votes, under the item's lock: the queue hands out no more leases
    # than an item needs, but a lease may outlive the need (the item was decided while it
    # was held, or a reinstated annotator's votes count again). Gold has no limit.
    cur.execute(
        f"UPDATE {_table(Item)} SET votes_count = votes_count + 1, leased_count = leased_count - 1 WHERE id = %s "
        f"AND (gold IS NOT NULL OR votes_count < %s OR votes_count < %s + extra_votes) RETURNING id",
        [item_id, project.max_votes, project.min_votes],
    )
    return cur.fetchone() is not None


def lease_close(*, lease: Lease, skip: bool, now: dt.datetime) -> None:
    """The holder gave the item back: skipped ("not for me", never offered to them again) or
    released (the page closed; it may come back). Expects the lease's row lock."""
    lease.status = LeaseStatus.SKIPPED if skip else LeaseStatus.RELEASED
    lease.closed_at = now
    Lease.objects.filter(pk=lease.pk).update(status=lease.status, closed_at=now)
    Item.objects.filter(pk=lease.item_id).update(leased_count=F("leased_count") - 1)


def lease_reopen(*, lease: Lease, item_id: int, now: dt.datetime, expires: dt.datetime) -> None:
    """A vote on the lease was undone: the lease is active again until ``expires`` and its item
    counts one vote less and one lease more. Expects the lease's and the item's row locks."""
    Lease.objects.filter(pk=lease.pk).update(status=LeaseStatus.ACTIVE, closed_at=None, expires_at=expires)
    Item.objects.filter(pk=item_id).update(votes_count=F("votes_count") - 1, leased_count=F("leased_count") + 1)


def leases_expire(*, project: Project, now: dt.datetime) -> int:
    """Expire the project's active leases past their time and return their items to the pool;
    returns how many. Safe to run concurrently: each expired lease is taken by one caller
    (``SKIP LOCKED``) and counted down once. Takes item locks in id order (no deadlocks between
    two callers); call it before taking any other lock."""
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {_table(Lease)} SET status = %s, closed_at = %s WHERE id IN ("
            f"SELECT id FROM {_table(Lease)} WHERE project_id = %s AND status = %s AND expires_at <= %s{_skip_locked()}"
            f") RETURNING item_id",
            [LeaseStatus.EXPIRED, _ts(now), project.pk, LeaseStatus.ACTIVE, _ts(now)],
        )
        per_item: dict[int, int] = defaultdict(int)
        for (item_id,) in cur.fetchall():
            per_item[item_id] += 1
        for item_id in sorted(per_item):
            cur.execute(f"UPDATE {_table(Item)} SET leased_count = leased_count - %s WHERE id = %s", [per_item[item_id], item_id])
    return sum(per_item.values())


def leases_revoke(
    *, project: Project, message: str, now: dt.datetime, item_ids: list[int] | None = None, annotator_id: int | None = None
) -> int:
    """End active leases that a move takes away — every lease on ``item_ids``, or every lease
    ``annotator_id`` holds in the project: released, their items' ``leased_count`` counted down,
    and each holder told at once (``lease.revoked`` with ``message``). Returns how many ended.
    Expects the caller to hold the items' row locks (or the holder's membership lock)."""
    if (item_ids is None) == (annotator_id is None):
        raise TypeError("leases_revoke takes item_ids or annotator_id")
    leases = Lease.objects.filter(project=project, status=LeaseStatus.ACTIVE)
    leases = leases.filter(item_id__in=item_ids) if item_ids is not None else leases.filter(annotator_id=annotator_id)
    holders: dict[int, list[int]] = defaultdict(list)
    per_item: dict[int, int] = defaultdict(int)
    for user_id, item_id in leases.values_list("annotator_id", "item_id"):
        holders[user_id].append(item_id)
        per_item[item_id] += 1
    if not per_item:
        return 0
    released = leases.update(status=LeaseStatus.RELEASED, closed_at=now)
    by_count: dict[int, list[int]] = defaultdict(list)
    for item_id, n in per_item.items():
        by_count[n].append(item_id)
    for n, ids in sorted(by_count.items()):
        for start in range(0, len(ids), BATCH):
            Item.objects.filter(pk__in=sorted(ids)[start : start + BATCH]).update(leased_count=F("leased_count") - n)
    for user_id, items in holders.items():
        events.lease_revoked(project.pk, user_id, sorted(items), message)
    return released


# --- votes that count ---------------------------------------------------------------------------


def item_votes_shift(*, item_id: int, delta: int) -> None:
    """The item's counting votes change by ``delta``: a suspended annotator's vote stops
    counting (-1), a reinstated one's counts again (+1). Expects the item's row lock."""
    Item.objects.filter(pk=item_id).update(votes_count=F("votes_count") + delta)


def items_votes_recount(*, project: Project, item_ids: list[int]) -> None:
    """Set the items' ``votes_count`` from their current votes that count (not a suspended
    annotator's, as ``annotator_suspend`` leaves them out); after votes were imported."""
    suspended = suspended_voter_ids(project_id=project.pk)
    current = (
        Vote.objects.filter(item=OuterRef("pk"), kind=VoteKind.VOTE, superseded_by__isnull=True)
        .exclude(voter_id__in=suspended)
        .values("item")
        .annotate(n=Count("pk"))
        .values("n")
    )
    for start in range(0, len(item_ids), BATCH):
        Item.objects.filter(pk__in=item_ids[start : start + BATCH]).update(votes_count=Subquery(current[:1]))


# --- state --------------------------------------------------------------------------------------


def item_move(
    *, project: Project, item_id: int, to: str, was: str, extra_votes: int | None = None, why: Why | None = None
) -> None:
    """Move one item from ``was`` to ``to`` (and set ``extra_votes`` when given): one UPDATE,
    an audit event when ``why`` is given, and ``item.decided`` when the state changed.
    For moves that keep the item's leases (promotion, review, back to the queue); an item that
    leaves labeling for good goes through ``items_exclude``. Expects the item's row lock."""
    if extra_votes is None:
        Item.objects.filter(pk=item_id).update(state=to)
    else:
        Item.objects.filter(pk=item_id).update(state=to, extra_votes=extra_votes)
    if why is not None:
        audit_record(
            project=project, actor=why.actor, verb=why.verb, obj=Item(pk=item_id),
            before={"state": was, **why.before}, after={"state": to, **why.after},
        )  # fmt: skip
    _announce(project, [(item_id, was, to)])


def items_move(
    *, item_ids: list[int], to_state: str, from_states: tuple[str, ...], extra: list[int] | None = None
) -> list[int]:
    """Move items still in one of ``from_states`` to ``to_state`` (setting ``extra_votes`` per
    item when given) and return the ids that moved: the policy's moves of a re-estimation. One
    statement on PostgreSQL; chunks on SQLite. The row locks it takes are what keeps a
    concurrent vote from deciding the same item. No event per item (see the module doc)."""
    if not item_ids:
        return []
    table = _table(Item)
    moved: list[int] = []
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            if extra is None:
                cur.execute(
                    f"UPDATE {table} SET state = %s WHERE id = ANY(%s) AND state = ANY(%s) RETURNING id",
                    [to_state, item_ids, list(from_states)],
                )
            else:
                cur.execute(
                    f"UPDATE {table} i SET state = %s, extra_votes = v.extra FROM "
                    f"(SELECT unnest(%s::bigint[]) AS id, unnest(%s::int[]) AS extra) v "
                    f"WHERE i.id = v.id AND i.state = ANY(%s) RETURNING i.id",
                    [to_state, item_ids, extra, list(from_states)],
                )
            return [r[0] for r in cur.fetchall()]
        marks = ", ".join(["%s"] * len(from_states))
        for start in range(0, len(item_ids), BATCH):
            ids = item_ids[start : start + BATCH]
            if extra is None:
                cur.execute(
                    f"UPDATE {table} SET state = %s WHERE id IN ({', '.join(['%s'] * len(ids))}) "
                    f"AND state IN ({marks}) RETURNING id",
                    [to_state, *ids, *from_states],
                )
                moved += [r[0] for r in cur.fetchall()]
            else:
                for item_id, n in zip(ids, extra[start : start + BATCH], strict=True):
                    cur.execute(
                        f"UPDATE {table} SET state = %s, extra_votes = %s WHERE id = %s AND state IN ({marks}) RETURNING id",
                        [to_state, n, item_id, *from_states],
                    )
                    moved += [r[0] for r in cur.fetchall()]
    return moved


def _audit_rows(project: Project, why: Why, rows: list[tuple[int, dict[str, Any], dict[str, Any]]],
                details: Mapping[int, tuple[Mapping[str, Any], Mapping[str, Any]]] | None) -> None:  # fmt: skip
    """One audit event per (item, before, after), the caller's ``why`` and per-item ``details`` added."""
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                project=project, actor=_actor(why.actor), verb=why.verb, object_type="item", object_id=str(pk),
                before={**before, **why.before, **(details or {}).get(pk, ({}, {}))[0]},
                after={**after, **why.after, **(details or {}).get(pk, ({}, {}))[1]},
            )  # fmt: skip
            for pk, before, after in rows
        ],
        batch_size=1000,
    )


def items_exclude(
    *, project: Project, item_ids: list[int], why: Why, reason: str, notice: str, restorable: bool = False,
    details: Mapping[int, tuple[Mapping[str, Any], Mapping[str, Any]]] | None = None, now: dt.datetime,
) -> dict[int, str]:  # fmt: skip
    """Take items out of labeling: every way an item leaves for good (curation, a reviewer, a
    rulebook example) comes here, so all behave the same. For each item not excluded already:
    its active leases are revoked (holders told ``notice`` by ``lease.revoked``), its state
    becomes ``excluded`` (``restorable``: the state it had is kept in ``excluded_from`` for
    ``items_restore``), an audit event records ``why`` and ``reason`` with the leases it ended
    (plus ``details[item]``: extra before/after keys), and ``item.decided`` is published.
    Returns {item id: the state it had} for the items that moved. Locks the items (id order)."""
    ids = sorted(set(item_ids))
    was = dict(
        Item.objects.select_for_update().filter(project=project, pk__in=ids).exclude(state=ItemState.EXCLUDED)
        .order_by("pk").values_list("pk", "state")
    )  # fmt: skip
    if not was:
        return {}
    per_item: dict[int, int] = defaultdict(int)
    for item_id in Lease.objects.filter(item_id__in=list(was), status=LeaseStatus.ACTIVE).values_list("item_id", flat=True):
        per_item[item_id] += 1
    leases_revoke(project=project, item_ids=list(was), message=notice, now=now)
    by_state: dict[str, list[int]] = defaultdict(list)
    for pk, state in was.items():
        by_state[state].append(pk)
    for state, pks in by_state.items():
        for start in range(0, len(pks), BATCH):
            chunk = Item.objects.filter(pk__in=pks[start : start + BATCH])
            chunk.update(state=ItemState.EXCLUDED, **({"excluded_from": state} if restorable else {}))
    _audit_rows(
        project, why,
        [(pk, {"state": state}, {"state": ItemState.EXCLUDED, "reason": reason, "leases_revoked": per_item[pk]})
         for pk, state in was.items()],
        details,
    )  # fmt: skip
    _announce(project, [(pk, state, ItemState.EXCLUDED) for pk, state in was.items()])
    return was


def items_restore(
    *, project: Project, item_ids: list[int], why: Why,
    details: Mapping[int, tuple[Mapping[str, Any], Mapping[str, Any]]] | None = None,
) -> dict[int, tuple[str, str]]:  # fmt: skip
    """Put items a restorable exclusion took out (``items_exclude(restorable=True)``) back into
    the state they had; items excluded otherwise, or not excluded, are left as they are. Each
    move is audited (``why``, plus ``details[item]``) and published. Returns {item: (was, now)}
    for the items that moved. Locks the items (id order)."""
    rows = list(
        Item.objects.select_for_update().filter(project=project, pk__in=sorted(set(item_ids)), state=ItemState.EXCLUDED)
        .exclude(excluded_from="").order_by("pk").values_list("pk", "excluded_from")
    )  # fmt: skip
    if not rows:
        return {}
    by_state: dict[str, list[int]] = defaultdict(list)
    for pk, back in rows:
        by_state[back].append(pk)
    for back, pks in by_state.items():
        for start in range(0, len(pks), BATCH):
            Item.objects.filter(pk__in=pks[start : start + BATCH]).update(state=back, excluded_from="")
    _audit_rows(project, why, [(pk, {"state": ItemState.EXCLUDED}, {"state": back}) for pk, back in rows], details)
    _announce(project, [(pk, ItemState.EXCLUDED, back) for pk, back in rows])
    return {pk: (ItemState.EXCLUDED, back) for pk, back in rows}
