"""The only code that touches the channel layer. Services publish here; events go out only after
the transaction commits, so clients never see a change that rolled back.

Every project has three kinds of groups, and an event names its audience:

* ``project.<id>`` — every member: the rulebook was published.
* ``project.<id>.staff`` — admins and reviewers (the dashboard, the review queue): votes cast, items
  decided, review cases, estimates, imports, suspensions. These events carry ids, states and counts,
  never a vote's answer, and annotators' sockets are not in this group.
* ``project.<id>.user.<user id>`` — one member: their lease was taken back, their role changed.

A payload is a JSON object with a ``type``; ``at`` (Unix time of the commit, seconds) is added to
every one, so a client can measure how late it heard.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
import time
from enum import StrEnum
from typing import Any

from asgiref.sync import async_to_sync
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import InMemoryChannelLayer, channel_layers, get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


class Audience(StrEnum):
    MEMBERS = "members"
    STAFF = "staff"


# Channels' type for the consumer's handlers: ``project.event`` → ``project_event``.
EVENT = "project.event"
MEMBERSHIP = "project.membership"


def project_group(project_id: int) -> str:
    return f"project.{project_id}"


def staff_group(project_id: int) -> str:
    return f"project.{project_id}.staff"


def user_group(project_id: int, user_id: int) -> str:
    return f"project.{project_id}.user.{user_id}"


def _group(project_id: int, audience: Audience) -> str:
    return project_group(project_id) if audience == Audience.MEMBERS else staff_group(project_id)


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer):
        # Its queues belong to the server's event loop; from a sync view under ASGI (the embedded
        # default), async_to_sync runs the send on that loop.
        async_to_sync(layer.group_send)(group, message)
    else:
        _sender().send(group, message)


class _Sender:
    """One event loop on a thread of its own that sends to an external channel layer (Redis), in
    the order the messages were published, without making the request wait. ``async_to_sync``
    from a plain thread (a WSGI worker, an RQ job) would start a loop and open a Redis connection
    for every event — about 20 ms each, measured here; this keeps one loop and its connections."""

    def __init__(self) -> None:
        # A layer of its own: its connections belong to this loop, and nobody else closes them.
        self.layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        self.loop = asyncio.new_event_loop()
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.pending = 0
        self.idle = threading.Condition()
        threading.Thread(target=self._run, name="quorum-events", daemon=True).start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._drain())

    async def _drain(self) -> None:
        while True:
            group, message = await self.queue.get()
            try:
                await self.layer.group_send(group, message)
            except Exception:  # an event lost is logged; the change it announces is committed anyway
                log.exception("could not send %s to %s", message.get("type"), group)
            with self.idle:
                self.pending -= 1
                self.idle.notify_all()

    def send(self, group: str, message: dict[str, Any]) -> None:
        with self.idle:
            self.pending += 1
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (group, message))

    def flush(self, timeout: float) -> bool:
        """Wait until every published event has been handed to the layer; False on timeout."""
        with self.idle:
            return self.idle.wait_for(lambda: self.pending == 0, timeout=timeout)


_senders: dict[int, _Sender] = {}
_senders_lock = threading.Lock()


def _sender() -> _Sender:
    pid = os.getpid()  # a forked process (an RQ job) starts its own: threads do not survive fork
    with _senders_lock:
        if pid not in _senders:
            _senders[pid] = _Sender()
        return _senders[pid]


def flush(timeout: float = 5.0) -> bool:
    """Block until the events published so far have been sent (tests, and processes about to exit)."""
    sender = _senders.get(os.getpid())
    return True if sender is None else sender.flush(timeout)


atexit.register(flush, 2.0)


def _send_on_commit(group: str, kind: str, payload: dict[str, Any]) -> None:
    def send() -> None:
        _send(group, {"type": kind, "payload": {**payload, "at": time.time()}})

    transaction.on_commit(send)


def _publish(project_id: int, payload: dict[str, Any], *, audience: Audience = Audience.STAFF) -> None:
    """Send ``payload`` to the project's members or staff once the current transaction commits
    (at once outside a transaction)."""
    _send_on_commit(_group(project_id, audience), EVENT, payload)


def _publish_to_user(project_id: int, user_id: int, payload: dict[str, Any]) -> None:
    """Send ``payload`` to one member's sockets on this project, after commit."""
    _send_on_commit(user_group(project_id, user_id), EVENT, payload)


def lease_revoked(project_id: int, user_id: int, items: list[int], reason: str) -> None:
    """The member's hold on these items was taken back (not expired): their labeling page moves on."""
    _publish_to_user(project_id, user_id, {"type": "lease.revoked", "items": items, "reason": reason})


def membership_changed(project_id: int, user_id: int) -> None:
    """The user's role in the project changed or they were removed: their open sockets check
    their access again (and close, or change groups) after commit."""
    _send_on_commit(user_group(project_id, user_id), MEMBERSHIP, {"type": "membership.changed"})


# --- the catalogue: one function per event type (static/quorum/*.js handle these names) ---------


def item_decided(project_id: int, *, item: int, state: str, was: str) -> None:
    """An item changed state (ground truth, review, queued again, excluded)."""
    _publish(project_id, {"type": "item.decided", "item": item, "state": state, "from": was})


def vote_cast(project_id: int, *, item: int, annotator: str) -> None:
    _publish(project_id, {"type": "vote.cast", "item": item, "annotator": annotator})


def vote_undone(project_id: int, *, item: int, annotator: str) -> None:
    _publish(project_id, {"type": "vote.undone", "item": item, "annotator": annotator})


def consensus_updated(project_id: int, summary: dict[str, Any]) -> None:
    """A re-estimation finished; ``summary`` is its ``Summary.as_dict()``."""
    _publish(project_id, {"type": "consensus.updated", **summary})


def review_opened(project_id: int, *, opened: int) -> None:
    _publish(project_id, {"type": "review.changed", "opened": opened})


def review_resolved(project_id: int, *, item: int, resolution: str) -> None:
    _publish(project_id, {"type": "review.changed", "item": item, "resolution": resolution})


def review_claimed(project_id: int, *, item: int, reviewer: str) -> None:
    _publish(project_id, {"type": "review.claimed", "item": item, "reviewer": reviewer})


def review_released(project_id: int, *, item: int) -> None:
    _publish(project_id, {"type": "review.released", "item": item})


def annotator_suspended(project_id: int, *, annotator: str) -> None:
    _publish(project_id, {"type": "annotator.suspended", "annotator": annotator})


def annotator_reinstated(project_id: int, *, annotator: str) -> None:
    _publish(project_id, {"type": "annotator.reinstated", "annotator": annotator})


def curation_updated(project_id: int, *, clusters: int, flagged: dict[str, int]) -> None:
    _publish(project_id, {"type": "curation.updated", "clusters": clusters, "flagged": flagged})


def curation_decided(project_id: int, *, decision: str, items: int) -> None:
    _publish(project_id, {"type": "curation.decided", "decision": decision, "items": items})


def import_progress(project_id: int, *, job: int, status: str, total: int, created: int, skipped: int, failed: int) -> None:
    _publish(project_id, {"type": "import.progress", "job": job, "status": status, "total": total,
                          "created": created, "skipped": skipped, "failed": failed})  # fmt: skip


def rulebook_published(project_id: int, *, version: int, labels: int) -> None:
    """Every member's page (labeling included) learns of the new version."""
    _publish(project_id, {"type": "rulebook.published", "version": version, "labels": labels}, audience=Audience.MEMBERS)


EVENT_TYPES = (
    "item.decided", "vote.cast", "vote.undone", "consensus.updated", "review.changed", "review.claimed",
    "review.released", "annotator.suspended", "annotator.reinstated", "curation.updated", "curation.decided",
    "import.progress", "rulebook.published", "lease.revoked", "membership.changed",
)  # fmt: skip
