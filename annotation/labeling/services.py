"""Writes of the annotator's loop: lease the next item, keep it, give it back, vote, undo.

Locking (PostgreSQL; SQLite serializes writers with IMMEDIATE transactions instead):
- every write here first takes a share lock on the annotator's voter row and refuses a
  suspended annotator (``_refuse_suspended``); ``annotator_suspend`` locks that row for update
  before it releases leases and recounts, so the two never interleave;
- ``item_lease_next`` picks an item with ``FOR UPDATE SKIP LOCKED``, so concurrent annotators
  never wait on each other and never take the same last slot of an item;
- ``vote_cast`` and ``vote_undo`` lock the lease, then the item (always in that order);
- expired leases are reclaimed in their own short transaction before a new item is picked.
An item's ``votes_count + leased_count`` never exceeds what it still needs, and ``vote_cast``
refuses a vote on a non-gold item that already has ``max_votes`` counting votes (or all that a
reviewer asked for, past it), even on a lease that outlived the need.

Why over 400 lines: The vote path (lease, vote, undo, feedback) is one transaction story; splitting it would scatter the locking order it documents.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from annotation import events
from annotation.answers import choice
from annotation.exceptions import (
    AlreadyVoted,
    AnswerFinal,
    Conflict,
    LeaseExpired,
    NoRulebook,
    NotAssigned,
    RulebookChanged,
    Suspended,
    ValidationFailed,
)
from annotation.items import transitions
from annotation.items.models import Item, ItemState
from annotation.labeling import queue
from annotation.labeling.models import Lease, LeaseStatus, Vote, VoteKind
from annotation.projects.models import Project, QuestionType
from annotation.rulebook.models import RulebookVersion
from annotation.rulebook.selectors import rulebook_current
from annotation.voters.models import Voter
from consensus.decisions.services import item_decide, item_undone


def _current_rulebook(project: Project) -> RulebookVersion:
    version = rulebook_current(project=project)
    if version is None:
        raise NoRulebook("There is nothing to label yet: the project's rulebook has not been published.")
    return version


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _cols(model: type, *fields: str) -> str:
    return ", ".join(_q(model._meta.get_field(f).column) for f in fields)


class _T:
    """Table and column names, from the models, for the SQL of the hot path."""

    item, lease, vote, voter = (_q(m._meta.db_table) for m in (Item, Lease, Vote, Voter))


def _ts(value: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _skip_locked() -> str:
    return " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""


def _for_update() -> str:
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def _for_share() -> str:
    # PostgreSQL is the one backend here with row locks; SQLite serializes writers instead.
    return " FOR SHARE" if connection.features.has_select_for_update else ""


def _refuse_suspended(cur: Any, project: Project, annotator: AbstractBaseUser) -> int:
    """The annotator's voter id in the project; ``Suspended`` if an admin has paused them,
    ``NotAssigned`` if they are no voter of it (never a member).

    Must run first in the transaction of every lease, vote and undo: it holds a share lock on
    the voter row until the transaction ends, and ``annotator_suspend`` locks that row for
    update before it releases held leases and recounts the annotator's items. So a suspension
    waits for a write in flight and then sees it, and a write that comes after it is refused —
    a suspended annotator's undo would otherwise take their vote off ``votes_count`` a second
    time, and the queue would hand the item to one annotator more than it needs."""
    cur.execute(
        f"SELECT id, suspended_at FROM {_T.voter} WHERE project_id = %s AND user_id = %s{_for_share()}",
        [project.pk, annotator.pk],
    )
    row = cur.fetchone()
    if row is None:
        raise NotAssigned("You do not label in this project.")
    if row[1] is not None:
        raise Suspended("An admin has paused your labeling in this project.")
    return int(row[0])


def leases_reclaim_expired(*, project: Project, now: dt.datetime | None = None) -> int:
    """Return expired leases' items to the pool. Safe to run concurrently: each expired lease
    is taken by one caller (``SKIP LOCKED``) and counted down once."""
    now = now or timezone.now()
    with connection.cursor() as cur:
        # A plain read first: most of the time nothing has expired, and no write lock is taken.
        cur.execute(
            f"SELECT 1 FROM {_T.lease} WHERE project_id = %s AND status = %s AND expires_at <= %s LIMIT 1",
            [project.pk, LeaseStatus.ACTIVE, _ts(now)],
        )
        if cur.fetchone() is None:
            return 0
    with transaction.atomic():
        return transitions.leases_expire(project=project, now=now)


# What the annotator is shown of an item, in this order (see _assignment).
_ITEM_SHOWN = ("id", "external_id", "kind", "text", "image", "width", "height")


def _lease(project: Project, annotator: AbstractBaseUser, lease_id: int, item_row: tuple[Any, ...],
           expires_at: Any, *, is_gold: bool, created_at: dt.datetime | None = None) -> Lease:
    """A Lease built from the row values the hot path already has (no query)."""
    item = Item(project=project, **dict(zip(_ITEM_SHOWN, item_row, strict=True)))
    if isinstance(expires_at, str):  # SQLite without type detection
        expires_at = dt.datetime.fromisoformat(expires_at)
    if timezone.is_naive(expires_at):  # SQLite stores UTC without an offset
        expires_at = expires_at.replace(tzinfo=dt.UTC)
    lease = Lease(pk=lease_id, project=project, item=item, annotator=annotator, rulebook_version=project.current_rulebook,
                  status=LeaseStatus.ACTIVE, is_gold=is_gold, created_at=created_at, expires_at=expires_at)  # fmt: skip
    lease._state.adding, lease._state.db = False, "default"
    return lease


def item_lease_next(
    *, project: Project, annotator: AbstractBaseUser, exclude: tuple[int, ...] = (), reclaim: bool = True
) -> Lease | None:
    """The annotator's next item: a lease they already hold (other than ``exclude``, the items
    their page already shows), else a new lease on the best open item, else None.

    Order: a gold item when it is the annotator's gold turn (``queue.is_gold_turn``), then items
    closest to completion, then higher priority, then oldest. ``reclaim=False`` is for a caller
    that reclaimed expired leases itself before opening its transaction (``vote_cast_and_next``).
    """
    version = _current_rulebook(project)
    now = timezone.now()
    if reclaim:  # in its own transaction, before any other lock is taken (see the module doc)
        leases_reclaim_expired(project=project, now=now)
    with transaction.atomic(), connection.cursor() as cur:
        voter_id = _refuse_suspended(cur, project, annotator)
        skip = f" AND l.item_id NOT IN ({', '.join(['%s'] * len(exclude))})" if exclude else ""
        cur.execute(
            f"SELECT l.id, l.rulebook_version_id, l.is_gold, l.expires_at, {', '.join('i.' + c for c in _ITEM_SHOWN)} "
            f"FROM {_T.lease} l JOIN {_T.item} i ON i.id = l.item_id "
            f"WHERE l.project_id = %s AND l.annotator_id = %s AND l.status = %s AND l.expires_at > %s "
            f"AND i.state = %s{skip} ORDER BY l.created_at, l.id LIMIT 1",
            [project.pk, annotator.pk, LeaseStatus.ACTIVE, _ts(now), ItemState.QUEUED, *exclude],
        )
        held = cur.fetchone()
        if held is not None:
            lease_id, version_id, is_gold, expires_at, *item_row = held
            if version_id != version.pk:
                # Shown again after a reload: from now on it is answered under the new version.
                cur.execute(f"UPDATE {_T.lease} SET rulebook_version_id = %s WHERE id = %s", [version.pk, lease_id])
            return _lease(project, annotator, lease_id, tuple(item_row), expires_at, is_gold=bool(is_gold))
        gold_turn = project.gold_rate > 0 and queue.is_gold_turn(
            Vote.objects.filter(voter_id=voter_id, kind=VoteKind.VOTE).count(), project.gold_rate
        )
        expires = now + dt.timedelta(seconds=project.lease_seconds)
        opened = transitions.lease_open(
            cur, project=project, annotator_id=annotator.pk, version_id=version.pk, gold=gold_turn, now=now,
            expires=expires, shown=_ITEM_SHOWN,
        )  # fmt: skip
        is_gold = gold_turn
        if opened is None and gold_turn:
            # No gold left for this annotator: an ordinary item instead. Never the other way
            # round: serving gold whenever ordinary work runs out would give the honeypots away.
            opened = transitions.lease_open(
                cur, project=project, annotator_id=annotator.pk, version_id=version.pk, gold=False, now=now,
                expires=expires, shown=_ITEM_SHOWN,
            )  # fmt: skip
            is_gold = False
        if opened is None:
            return None
        lease_id, item_row = opened
        return _lease(project, annotator, lease_id, item_row, expires, is_gold=is_gold, created_at=now)


def lease_heartbeat(
    *, project: Project, annotator: AbstractBaseUser, item_ids: list[int]
) -> tuple[list[Lease], list[int]]:
    """Extend the annotator's active leases on these items; return them and the ids whose lease
    has already expired (those items may be with someone else now)."""
    now = timezone.now()
    expires = now + dt.timedelta(seconds=project.lease_seconds)
    with transaction.atomic():
        live = Lease.objects.filter(
            project=project, annotator=annotator, item_id__in=item_ids, status=LeaseStatus.ACTIVE, expires_at__gt=now
        )
        live.update(expires_at=expires)
        kept = list(
            Lease.objects.filter(project=project, annotator=annotator, item_id__in=item_ids, status=LeaseStatus.ACTIVE, expires_at=expires)
        )
    kept_ids = {lease.item_id for lease in kept}
    return kept, [i for i in item_ids if i not in kept_ids]


def lease_release(*, project: Project, annotator: AbstractBaseUser, item_id: int, skip: bool) -> Lease:
    """Give an item back. ``skip`` means "not for me": it is never offered to this annotator
    again; a plain release (the page closed) lets it come back."""
    now = timezone.now()
    with transaction.atomic():
        lease = (
            Lease.objects.select_for_update()
            .filter(project=project, annotator=annotator, item_id=item_id, status=LeaseStatus.ACTIVE)
            .first()
        )
        if lease is None:
            raise NotAssigned(f"Item {item_id} is not leased to you.")
        transitions.lease_close(lease=lease, skip=skip, now=now)
        return lease


@dataclass(frozen=True)
class VoteResult:
    vote: Vote
    created: bool  # False when this was a retry of a vote already stored
    feedback: dict[str, Any] | None = None  # after a gold item, when the project gives feedback


def _stored_vote(cur: Any, voter_id: int, client_id: str) -> Vote | None:
    """The vote already stored under this idempotency key (a retry), or None."""
    cur.execute(f"SELECT id FROM {_T.vote} WHERE voter_id = %s AND client_id = %s", [voter_id, client_id])
    row = cur.fetchone()
    return Vote.objects.get(pk=row[0]) if row else None


def vote_cast(
    *,
    project: Project,
    annotator: AbstractBaseUser,
    item_id: int,
    client_id: str,
    value: Any = None,
    unsure: bool = False,
    claim: str = "",
    claim_reason: str = "",
    note: str = "",
    time_spent_ms: int = 0,
) -> VoteResult:
    """Store one vote on an item leased to the annotator, then decide the item.

    Idempotent on ``client_id``: a retry returns the stored vote. Refused when an admin has
    suspended the annotator (``Suspended``, retries too), the item is not leased to them
    (``NotAssigned``), the lease has expired (``LeaseExpired``), the rulebook was republished
    since the lease (``RulebookChanged``), the annotator already voted (``AlreadyVoted``), the
    answer does not fit the rulebook (``ValidationFailed``), or a non-gold item already has
    ``max_votes`` counting votes and needs no more (``NotAssigned``).
    Holds a share lock on the voter, then the lease's row lock, then the item's, until
    the transaction ends.
    """
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cur:
        voter_id = _refuse_suspended(cur, project, annotator)
        lock = " FOR UPDATE OF l" if connection.features.has_select_for_update_of else _for_update()
        cur.execute(
            f"SELECT l.id, l.status, l.expires_at > %s, l.rulebook_version_id, i.state, l.is_gold FROM {_T.lease} l "
            f"JOIN {_T.item} i ON i.id = l.item_id WHERE l.project_id = %s AND l.annotator_id = %s AND l.item_id = %s "
            f"ORDER BY l.created_at DESC, l.id DESC LIMIT 1{lock}",
            [_ts(now), project.pk, annotator.pk, item_id],
        )
        row = cur.fetchone()
        lease, item_state, is_gold = (row[:4], row[4], bool(row[5])) if row else (None, None, False)
        # Checked after the lease lock: a concurrent retry may have committed while we waited.
        stored = _stored_vote(cur, voter_id, client_id)
        if stored is not None:
            if stored.item_id != item_id or stored.project_id != project.pk or stored.kind != VoteKind.VOTE:
                raise Conflict("This client_id was already used for another answer; send a new one.")
            return VoteResult(stored, created=False)
        if lease is None or lease[1] in (LeaseStatus.SKIPPED, LeaseStatus.RELEASED):
            raise NotAssigned(f"Item {item_id} is not leased to you; ask for the next item.")
        if item_state == ItemState.EXCLUDED:
            raise NotAssigned("This item was withdrawn from labeling; your answer was not stored.")
        lease_id, status, live, version_id = lease
        if status == LeaseStatus.VOTED:
            raise AlreadyVoted("You have already voted on this item.")
        if status == LeaseStatus.EXPIRED or not live:
            raise LeaseExpired(
                "Your hold on this item expired and it went back to the queue; your answer was not saved."
            )
        version = _current_rulebook(project)
        if version_id != version.pk:
            raise RulebookChanged(
                f"The rulebook changed to v{version.number} after this item was handed to you. "
                "Reload to read the new version; your answer was not saved."
            )
        try:
            answer = choice.check_answer(
                value, claim, claim_reason, version.label_keys,
                multi=project.question_type == QuestionType.MULTI, version=version.number or 0,
            )  # fmt: skip
        except choice.AnswerInvalid as exc:
            raise ValidationFailed(exc.message, [{"field": exc.field, "message": exc.message}]) from None
        # The vote this one supersedes: the retraction left by an undo on this lease, if any.
        cur.execute(
            f"SELECT v.id FROM {_T.vote} v WHERE v.lease_id = %s AND NOT EXISTS "
            f"(SELECT 1 FROM {_T.vote} w WHERE w.supersedes_id = v.id) ORDER BY v.id DESC LIMIT 1",
            [lease_id],
        )
        previous = cur.fetchone()
        fields = {
            "project_id": project.pk, "item_id": item_id, "voter_id": voter_id, "rulebook_version_id": version.pk,
            "lease_id": lease_id, "kind": VoteKind.VOTE, "value": answer, "unsure": unsure, "claim": claim,
            "claim_reason": claim_reason.strip(), "note": note.strip(), "time_spent_ms": max(0, int(time_spent_ms)),
            "client_id": client_id, "supersedes_id": previous[0] if previous else None, "created_at": now,
        }  # fmt: skip
        foreign = {"project_id", "item_id", "voter_id", "rulebook_version_id", "lease_id", "supersedes_id"}
        names = [f.removesuffix("_id") if f in foreign else f for f in fields]
        db_values = [
            json.dumps(v) if n == "value" and v is not None else _ts(v) if n == "created_at" else v
            for n, v in zip(names, fields.values(), strict=True)
        ]
        cur.execute(
            f"INSERT INTO {_T.vote} ({_cols(Vote, *names)}) VALUES ({', '.join(['%s'] * len(names))}) RETURNING id",
            db_values,
        )
        (vote_id,) = cur.fetchone()
        if not transitions.lease_vote(cur, project=project, lease_id=lease_id, item_id=item_id, now=now):
            raise NotAssigned("This item got all the votes it needs while you held it; your answer was not saved.")
        item_decide(project=project, item_id=item_id, vote_id=vote_id)
        # Staff only, and without the answer: who voted on which item, for the dashboard.
        events.vote_cast(project.pk, item=item_id, annotator=annotator.get_username())
        vote = Vote(pk=vote_id, **fields)
        vote._state.adding, vote._state.db = False, "default"
        feedback = None
        if _gives_feedback(project, is_gold=is_gold):
            gold = Item.objects.filter(pk=item_id).values_list("gold", flat=True).get()
            feedback = gold_feedback(version=version, gold=gold, answer=answer, claim=claim)
        return VoteResult(vote, created=True, feedback=feedback)


def _gives_feedback(project: Project, *, is_gold: bool) -> bool:
    """Whether a vote on this lease is answered with the gold answer (``vote_cast``); such a
    vote is final (``vote_undo``), or an annotator could undo and answer again, right."""
    return is_gold and project.gold_feedback


def gold_feedback(*, version: RulebookVersion, gold: Any, answer: Any, claim: str) -> dict[str, Any] | None:
    """What an annotator is told after answering a gold item, when the project says so: whether
    they were right, and the rulebook entry of each right label."""
    if gold is None:
        return None
    right = sorted(gold) if isinstance(gold, list) else [gold]
    given = sorted(answer) if isinstance(answer, list) else ([answer] if answer is not None else [])
    entries = {lab["key"]: lab for lab in version.labels}
    return {
        "correct": not claim and given == right,
        "labels": [
            {key: entries.get(k, {}).get(key, "") for key in ("key", "name", "definition", "fits", "does_not_fit")}
            | {"key": k}
            for k in right
        ],
    }


def vote_cast_and_next(
    *, project: Project, annotator: AbstractBaseUser, exclude: tuple[int, ...], **vote: Any
) -> tuple[VoteResult, Lease | None]:
    """A vote and the next lease in one transaction (one commit per answer). Expired leases are
    reclaimed first, outside it: the reclaim waits on item locks, and the vote holds one."""
    leases_reclaim_expired(project=project)
    with transaction.atomic():
        result = vote_cast(project=project, annotator=annotator, **vote)
        exclude = (vote["item_id"], *exclude)
        return result, item_lease_next(project=project, annotator=annotator, exclude=exclude, reclaim=False)


def vote_undo(
    *, project: Project, annotator: AbstractBaseUser, client_id: str, item_id: int | None = None
) -> VoteResult:
    """Undo the annotator's last vote on ``item_id`` (or in the project) while its lease still
    holds: a retraction supersedes it (nothing is deleted), and the item is theirs to answer
    again for a full lease. Idempotent on ``client_id``.

    Refused for a suspended annotator (``Suspended``, retries too), and on a gold item whose
    right answer the annotator was shown (``AnswerFinal``): gold is scored on that answer."""
    now = timezone.now()
    with transaction.atomic():
        with connection.cursor() as cur:
            voter_id = _refuse_suspended(cur, project, annotator)
        stored = Vote.objects.filter(voter_id=voter_id, client_id=client_id).first()
        if stored is not None:
            if stored.kind != VoteKind.RETRACT or stored.project_id != project.pk:
                raise Conflict("This client_id was already used for another answer; send a new one.")
            return VoteResult(stored, created=False)
        votes = Vote.objects.filter(voter_id=voter_id, kind=VoteKind.VOTE, superseded_by__isnull=True)
        if item_id is not None:
            votes = votes.filter(item_id=item_id)
        last = votes.order_by("-created_at", "-pk").first()
        if last is None or last.lease_id is None:
            raise Conflict("There is no vote of yours to undo.")
        lease = Lease.objects.select_for_update().get(pk=last.lease_id)
        if lease.status != LeaseStatus.VOTED or lease.expires_at <= now:
            raise Conflict("Too late to undo: the item has been released. Ask a reviewer if the label is wrong.")
        if _gives_feedback(project, is_gold=lease.is_gold):
            raise AnswerFinal("This was a check item and you were shown its answer, so your vote on it is final.")
        Item.objects.select_for_update().filter(pk=last.item_id).values_list("pk", flat=True).get()
        retraction = Vote.objects.create(
            project=project, item_id=last.item_id, voter_id=voter_id, rulebook_version=last.rulebook_version,
            lease=lease, kind=VoteKind.RETRACT, value=None, client_id=client_id, supersedes=last, created_at=now,
        )  # fmt: skip
        transitions.lease_reopen(
            lease=lease, item_id=last.item_id, now=now, expires=now + dt.timedelta(seconds=project.lease_seconds)
        )
        item_undone(project=project, item_id=last.item_id, actor=annotator)
        events.vote_undone(project.pk, item=last.item_id, annotator=annotator.get_username())
        return VoteResult(retraction, created=True)
