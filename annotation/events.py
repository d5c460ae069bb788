"""The only code that touches the channel layer. Events go out after the transaction commits,
so clients never see a change that rolled back."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def project_group(project_id: int) -> str:
    return f"project.{project_id}"


def broadcast(group: str, payload: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    # Consumers handle the dotted event type; the payload is forwarded to the socket as is.
    async_to_sync(layer.group_send)(group, {"type": "project.event", "payload": payload})


def broadcast_on_commit(group: str, payload: dict[str, Any]) -> None:
    transaction.on_commit(lambda: broadcast(group, payload))
