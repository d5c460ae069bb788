"""WebSocket consumer for an open project page: thin, as the Channels docs recommend.

Connect: the session's user must be a member of the project, else the socket is closed with
4404 (the pages' 404); so is a socket on a path that is no route (``NoRouteConsumer``). The origin
is checked before this, by ``routing.SameOriginValidator`` in ``quorum/asgi.py``. A member joins the project's group, their own group, and, as an admin or a
reviewer, the staff group (see ``events``). When their role changes or they are removed, their
sockets check again: a removed member's socket is closed, and a demoted one leaves the staff group.

The client sends only ``{"type": "ping"}``. Anything else — not JSON, not an object, binary,
longer than ``MAX_MESSAGE`` characters, an unknown type — gets ``{"type": "error", "reason": …}`` on
that socket alone, which stays open; nothing a client sends reaches anyone else.
"""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from annotation import events
from annotation.exceptions import ProjectNotFound
from annotation.projects import selectors as projects_selectors
from annotation.projects.models import Role

CLOSE_NOT_FOUND = 4404
MAX_MESSAGE = 1024  # characters; a ping is 16


class ProjectConsumer(AsyncWebsocketConsumer):
    groups_joined: tuple[str, ...] = ()

    async def connect(self) -> None:
        if not await self._join():
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.accept()

    async def _join(self) -> bool:
        """Join the groups the user's current role allows (leaving any others); False when they
        are no member."""
        slug = self.scope["url_route"]["kwargs"]["slug"]
        user = self.scope["user"]
        try:
            access = await database_sync_to_async(projects_selectors.access_project)(user=user, slug=slug)
        except ProjectNotFound:
            wanted: tuple[str, ...] = ()
        else:
            pk = access.project.pk
            wanted = (events.project_group(pk), events.user_group(pk, user.pk))
            if access.has(Role.REVIEWER):
                wanted += (events.staff_group(pk),)
        for group in set(self.groups_joined) - set(wanted):
            await self.channel_layer.group_discard(group, self.channel_name)
        for group in set(wanted) - set(self.groups_joined):
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined = wanted
        return bool(wanted)

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = ()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self._error("messages are JSON text, not binary")
            return
        if len(text_data) > MAX_MESSAGE:
            await self._error(f"message too long ({len(text_data)} characters; at most {MAX_MESSAGE})")
            return
        try:
            message = json.loads(text_data)
        except json.JSONDecodeError:
            await self._error("messages are JSON objects")
            return
        if not isinstance(message, dict) or message.get("type") != "ping":
            await self._error('unknown message; the only message a client sends is {"type": "ping"}')
            return
        await self.send(text_data=json.dumps({"type": "pong"}))

    async def _error(self, reason: str) -> None:
        await self.send(text_data=json.dumps({"type": "error", "reason": reason}))

    async def project_event(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(event["payload"]))

    async def project_membership(self, event: dict[str, Any]) -> None:
        if not await self._join():
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.send(text_data=json.dumps(event["payload"]))


class NoRouteConsumer(AsyncWebsocketConsumer):
    """A socket on a path that matches no route: refused like a project you are not in."""

    async def connect(self) -> None:
        await self.close(code=CLOSE_NOT_FOUND)
