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

import time
from enum import StrEnum
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


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
    async_to_sync(layer.group_send)(group, message)


def _send_on_commit(group: str, kind: str, payload: dict[str, Any]) -> None:
    def send() -> None:
        _send(group, {"type": kind, "payload": {**payload, "at": time.time()}})

    transaction.on_commit(send)


def publish(project_id: int, payload: dict[str, Any], *, audience: Audience = Audience.STAFF) -> None:
    """Send ``payload`` to the project's members or staff once the current transaction commits
    (at once outside a transaction)."""
    _send_on_commit(_group(project_id, audience), EVENT, payload)


def publish_to_user(project_id: int, user_id: int, payload: dict[str, Any]) -> None:
    """Send ``payload`` to one member's sockets on this project, after commit."""
    _send_on_commit(user_group(project_id, user_id), EVENT, payload)


def lease_revoked(project_id: int, user_id: int, items: list[int], reason: str) -> None:
    """The member's hold on these items was taken back (not expired): their labeling page moves on."""
    publish_to_user(project_id, user_id, {"type": "lease.revoked", "items": items, "reason": reason})


def membership_changed(project_id: int, user_id: int) -> None:
    """The user's role in the project changed or they were removed: their open sockets check
    their access again (and close, or change groups) after commit."""
    _send_on_commit(user_group(project_id, user_id), MEMBERSHIP, {"type": "membership.changed"})
