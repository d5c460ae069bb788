"""The one place where votes become arrays and results become rows.

A project's current votes (not retracted, on items that are not excluded) are read with one
query into ``ProjectVotes``: index arrays for ``metrics`` and ``aggregation`` plus the maps back
to item, voter and label. Every voter (member, imported annotator, …) is a ``Voter`` row; its
id is what an index maps back to. Multiple-choice answers are treated as one nominal value per distinct
set of labels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from django.db import connection

from annotation.answers.choice import nominal_key
from annotation.items.models import Item, ItemState
from annotation.labeling.models import Vote, VoteKind
from annotation.voters.models import Voter
from annotation.voters.selectors import suspended_voter_ids
from consensus.aggregation import NO_GOLD
from consensus.metrics import Votes


@dataclass
class ProjectVotes:
    votes: Votes
    vote_ids: np.ndarray  # aligned with votes
    item_ids: np.ndarray  # item index → Item pk (sorted)
    item_states: list[str]
    item_extra: np.ndarray  # extra votes asked for, per item
    item_claims: np.ndarray  # current votes that are claims ("does not fit" …), per item
    item_unsure: np.ndarray  # current label votes marked unsure, per item
    gold: np.ndarray  # item index → label index or NO_GOLD
    voters: list[int]  # voter index → Voter pk
    labels: list[str]  # label index → key


def value_sql(column: str) -> str:
    """SQL for a JSON value column as text: a label key as is, a list as its JSON text. One
    expression per database, so a million votes are not decoded one by one in Python."""
    return f"({column} #>> '{{}}')" if connection.vendor == "postgresql" else f"json_extract({column}, '$')"


def key_of(raw: str | None) -> str | None:
    """The nominal category of a value read with ``value_sql`` (None for a claim)."""
    if raw is None:
        return None
    return nominal_key(json.loads(raw)) if raw.startswith("[") else raw


def project_votes(*, project_id: int, labels: list[str]) -> ProjectVotes:
    """Every current vote of the project that counts (suspended annotators' votes do not).
    ``labels``: the rulebook's keys, in order; answers outside them (from an older version) are
    appended after."""
    vote_t, item_t = Vote._meta.db_table, Item._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT id, state, {value_sql('gold')}, extra_votes FROM {item_t} "
            f"WHERE project_id = %s AND state <> %s ORDER BY id",
            [project_id, ItemState.EXCLUDED],
        )
        items = cur.fetchall()
        cur.execute(
            f"SELECT v.id, v.item_id, v.voter_id, {value_sql('v.value')}, v.unsure "
            f"FROM {vote_t} v WHERE v.project_id = %s AND v.kind = %s "
            f"AND NOT EXISTS (SELECT 1 FROM {vote_t} w WHERE w.supersedes_id = v.id)",
            [project_id, VoteKind.VOTE],
        )
        rows = cur.fetchall()
    suspended = suspended_voter_ids(project_id=project_id)
    label_index = {key: n for n, key in enumerate(labels)}
    keys = list(labels)
    by_raw: dict[str | None, int] = {None: -1}

    def index_of(raw: str | None) -> int:
        found = by_raw.get(raw)
        if found is None:
            key = key_of(raw)
            found = label_index.get(key)
            if found is None:
                found = label_index[key] = len(keys)
                keys.append(key)
            by_raw[raw] = found
        return found

    n_items, n = len(items), len(rows)
    item_ids = np.fromiter((r[0] for r in items), dtype=np.int64, count=n_items)
    vote_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    vote_items = np.fromiter((r[1] for r in rows), dtype=np.int64, count=n)
    voter_ids = np.fromiter((r[2] for r in rows), dtype=np.int64, count=n)
    label_idx = np.fromiter((index_of(r[3]) for r in rows), dtype=np.int64, count=n)
    claim = label_idx < 0
    # votes on excluded items drop out; claims carry no label and are counted apart
    pos = np.searchsorted(item_ids, vote_items)
    pos_c = np.minimum(pos, max(n_items - 1, 0))
    on_item = (pos < n_items) & (item_ids[pos_c] == vote_items) if n_items else np.zeros(n, bool)
    counts = on_item & ~np.isin(voter_ids, list(suspended))
    claims = np.bincount(pos[counts & claim], minlength=n_items)
    keep = counts & ~claim
    unsure = np.fromiter((bool(r[4]) for r in rows), dtype=bool, count=n)
    item_unsure = np.bincount(pos[keep & unsure], minlength=n_items)
    voters, voter_idx = np.unique(voter_ids[keep], return_inverse=True)
    gold = np.fromiter((index_of(r[2]) if r[2] is not None else NO_GOLD for r in items), dtype=np.int64, count=n_items)
    votes = Votes(
        item=pos[keep], annotator=voter_idx.astype(np.int64), label=label_idx[keep],
        n_items=n_items, n_annotators=len(voters), n_labels=len(keys),
    )  # fmt: skip
    extra = np.fromiter((r[3] for r in items), dtype=np.int64, count=n_items)
    states = [r[1] for r in items]
    return ProjectVotes(votes, vote_ids[keep], item_ids, states, extra, claims, item_unsure, gold, voters.tolist(), keys)


class ItemVote(NamedTuple):
    id: int
    voter: int  # Voter pk
    key: str | None  # answer key, None for a claim
    unsure: bool


def item_votes(*, item_id: int, project_id: int) -> list[ItemVote]:
    """One item's current votes that count (not retracted, not by a suspended annotator)."""
    t, r = Vote._meta.db_table, Voter._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT v.id, v.voter_id, {value_sql('v.value')}, v.unsure FROM {t} v JOIN {r} r ON r.id = v.voter_id "
            f"WHERE v.item_id = %s AND v.kind = %s AND r.suspended_at IS NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {t} w WHERE w.supersedes_id = v.id) ORDER BY v.id",
            [item_id, VoteKind.VOTE],
        )
        return [ItemVote(r[0], r[1], key_of(r[2]), bool(r[3])) for r in cur.fetchall()]


