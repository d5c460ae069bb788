"""WebSocket consumer for an open project page: thin, as the Channels docs recommend."""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from . import events, selectors
from .exceptions import ProjectNotFound

CLOSE_NOT_FOUND = 4404


class ProjectConsumer(AsyncWebsocketConsumer):
    """One socket per open project page. Members join ``project.<id>`` and receive its events;
    anyone else is closed with 4404, like the 404 the pages give outsiders."""

    group: str | None = None

    async def connect(self) -> None:
        slug = self.scope["url_route"]["kwargs"]["slug"]
        try:
            access = await database_sync_to_async(selectors.access_project)(
                user=self.scope["user"], slug=slug
            )
        except ProjectNotFound:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.group = events.project_group(access.project.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = json.loads(text_data or "")
        except json.JSONDecodeError:
            await self._error("messages are JSON objects")
            return
        if not isinstance(message, dict) or message.get("type") != "ping":
            await self._error("unknown message; the only message a client sends is {\"type\": \"ping\"}")
            return
        await self.send(text_data=json.dumps({"type": "pong"}))

    async def _error(self, reason: str) -> None:
        await self.send(text_data=json.dumps({"type": "error", "reason": reason}))

    async def project_event(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(event["payload"]))
