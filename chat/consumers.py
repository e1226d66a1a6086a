"""Websocket door. One socket per page; ``scope["tenant"]`` is set by tenants.asgi.TenantScopeMiddleware."""

from __future__ import annotations

import json
import logging
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

logger = logging.getLogger("officeai.ws")


def tenant_group(tenant_id: int) -> str:
    return f"tenant-{tenant_id}"


class SessionConsumer(AsyncJsonWebsocketConsumer):
    """Per-page socket: says hello with the tenant, answers pings, relays tenant-wide events.

    Every frame is validated; an invalid one gets an ``error`` frame, never a crash.
    """

    async def connect(self) -> None:
        self.tenant = self.scope["tenant"]
        self.user = self.scope["user"]
        self.group = tenant_group(self.tenant.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "session.ready", "tenant": self.tenant.slug, "user": self.user.email})

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if text_data is None:
            await self.send_error("bad_frame", "Frames must be JSON text.")
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.send_error("bad_json", "The frame is not valid JSON.")
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.send_error("bad_frame", "A frame is a JSON object with a string 'type'.")
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if content["type"] == "ping":
            await self.send_json({"type": "pong"})
            return
        await self.send_error("unknown_type", f"Unknown frame type {content['type'][:40]!r}.")

    async def send_error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message})

    async def tenant_event(self, message: dict[str, Any]) -> None:
        """A tenant-wide event (e.g. ``notice.updated``) sent to ``tenant-<id>`` by a service on commit."""
        await self.send_json(message["event"])
