"""The one place where votes become arrays and results become rows.

A project's current votes (not retracted, on items that are not excluded) are read with one
query into ``ProjectVotes``: index arrays for ``metrics`` and ``aggregation`` plus the maps back
to item, voter and label. Voters are members (user ids) or imported identities (external ids);
both get one index space. Multiple-choice answers are treated as one nominal value per distinct
set of labels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection

from annotation.models import ExternalAnnotator, Item, ItemState, Vote, VoteKind
from consensus.aggregation import NO_GOLD
from consensus.metrics import Votes


def answer_key(value: Any) -> str:
    """A vote's value as a nominal category: the label key, or the sorted keys joined by '+'."""
    if isinstance(value, list):
        return "+".join(sorted(str(v) for v in value))
    return str(value)


@dataclass
class ProjectVotes:
    votes: Votes
    vote_ids: np.ndarray  # aligned with votes
    item_ids: np.ndarray  # item index → Item pk (sorted)
    item_states: list[str]
    item_extra: np.ndarray  # extra votes asked for, per item
    item_claims: np.ndarray  # current votes that are claims ("does not fit" …), per item
    gold: np.ndarray  # item index → label index or NO_GOLD
    voters: list[tuple[int | None, int | None]]  # voter index → (user id, external id)
    labels: list[str]  # label index → key

    def voter_index(self) -> dict[tuple[int | None, int | None], int]:
        return {v: n for n, v in enumerate(self.voters)}


def _decode(value: Any) -> Any:
    # SQLite hands JSON back as text; PostgreSQL's driver decodes jsonb already.
    return json.loads(value) if isinstance(value, str) and connection.vendor == "sqlite" else value


def project_votes(*, project_id: int, labels: list[str]) -> ProjectVotes:
    """Every current vote of the project. ``labels``: the rulebook's keys, in order; answers
    outside them (from an older version) are appended after."""
    vote_t, item_t = Vote._meta.db_table, Item._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT id, state, gold, extra_votes FROM {item_t} WHERE project_id = %s AND state <> %s ORDER BY id",
            [project_id, ItemState.EXCLUDED],
        )
        items = cur.fetchall()
        cur.execute(
            f"SELECT v.id, v.item_id, v.annotator_id, v.external_id, v.value FROM {vote_t} v "
            f"WHERE v.project_id = %s AND v.kind = %s "
            f"AND NOT EXISTS (SELECT 1 FROM {vote_t} w WHERE w.supersedes_id = v.id)",
            [project_id, VoteKind.VOTE],
        )
        rows = cur.fetchall()
    label_index = {key: n for n, key in enumerate(labels)}
    keys = list(labels)

    def index_of(value: Any) -> int:
        key = answer_key(_decode(value))
        found = label_index.get(key)
        if found is None:
            found = label_index[key] = len(keys)
            keys.append(key)
        return found

    item_ids = np.fromiter((r[0] for r in items), dtype=np.int64, count=len(items))
    n = len(rows)
    vote_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    vote_items = np.fromiter((r[1] for r in rows), dtype=np.int64, count=n)
    voter_codes = np.fromiter(
        (r[2] if r[2] is not None else -r[3] for r in rows), dtype=np.int64, count=n
    )
    claim = np.fromiter((r[4] is None for r in rows), dtype=bool, count=n)
    label_idx = np.fromiter((-1 if r[4] is None else index_of(r[4]) for r in rows), dtype=np.int64, count=n)
    # votes on excluded items drop out; claims carry no label and are counted apart
    pos = np.searchsorted(item_ids, vote_items)
    pos_c = np.minimum(pos, max(len(item_ids) - 1, 0))
    on_item = (pos < len(item_ids)) & (item_ids[pos_c] == vote_items) if len(item_ids) else np.zeros(n, bool)
    claims = np.bincount(pos[on_item & claim], minlength=len(items))
    keep = on_item & ~claim
    codes, voter_idx = np.unique(voter_codes[keep], return_inverse=True)
    gold = np.full(len(items), NO_GOLD, dtype=np.int64)
    for n_item, (_, _, value, _) in enumerate(items):
        if value is not None:
            gold[n_item] = index_of(value)
    votes = Votes(
        item=pos[keep], annotator=voter_idx.astype(np.int64), label=label_idx[keep],
        n_items=len(items), n_annotators=len(codes), n_labels=len(keys),
    )  # fmt: skip
    voters = [(int(c), None) if c > 0 else (None, int(-c)) for c in codes]
    extra = np.fromiter((r[3] for r in items), dtype=np.int64, count=len(items))
    states = [r[1] for r in items]
    return ProjectVotes(votes, vote_ids[keep], item_ids, states, extra, claims, gold, voters, keys)


def voter_names(*, voters: list[tuple[int | None, int | None]]) -> list[str]:
    """Display names, for admins and reviewers only: usernames, and imported names marked."""
    from django.contrib.auth import get_user_model

    users = dict(
        get_user_model().objects.filter(pk__in=[u for u, _ in voters if u]).values_list("pk", "username")
    )
    externals = dict(
        ExternalAnnotator.objects.filter(pk__in=[e for _, e in voters if e]).values_list("pk", "name")
    )
    return [users.get(u, f"user {u}") if u else f"{externals.get(e, e)} (imported)" for u, e in voters]
