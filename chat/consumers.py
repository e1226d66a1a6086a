"""Websocket door onto the chat engine (docs/websocket-protocol.md). Thin: validate, call a service or the engine,
answer. ``scope["tenant"]`` and a fresh ``scope["user"]`` come from tenants.asgi.TenantScopeMiddleware."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header

from chat import engine, relay
from chat.branches import versions_json
from chat.engine import LiveSink, done_frame
from chat.errors import message_error
from chat.groups import GLOBAL_GROUP, tenant_group, user_group
from chat.models import Message
from chat.relay import Frame, db_async
from chat.rendering import render_markdown, render_plain
from chat.selectors import conversation_join_state, message_content, notice_current
from chat.services import (
    MAX_SYSTEM_PROMPT,
    MAX_TEXT,
    ChatRefused,
    TurnStart,
    chat_turn_retry,
    chat_turn_start,
    notice_acknowledge,
)
from ops import metrics

logger = logging.getLogger("officeai.ws")

RATE_PER_SECOND = 10.0
RATE_BURST = 20.0


class FrameError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


def _int(content: dict[str, Any], name: str, *, optional: bool = False) -> int | None:
    value = content.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FrameError("bad_frame", _("“%(name)s” must be a whole number.") % {"name": name})
    return value


def _int_list(content: dict[str, Any], name: str, *, limit: int) -> list[int] | None:
    value = content.get(name)
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) > limit
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in value)
    ):
        raise FrameError("bad_frame", _("“%(name)s” must be a list of whole numbers.") % {"name": name})
    return value


def _str(content: dict[str, Any], name: str, *, optional: bool = False, limit: int = 100_000) -> str | None:
    value = content.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise FrameError("bad_frame", _("“%(name)s” must be text.") % {"name": name})
    return value


class ChatConsumer(AsyncJsonWebsocketConsumer):
    """One socket per page: chat turns, joining running replies, stop, notices; invalid frames get an error."""

    async def connect(self) -> None:
        self.tenant = self.scope["tenant"]
        self.user = self.scope["user"]
        self.joined: set[int] = set()
        self.hub = relay.hub()
        self.watcher = relay.Watcher(self._send_text, self._read_text)
        self._background: set[asyncio.Task[None]] = set()
        self.language = self._language()  # the cookie and headers of a socket do not change
        self.tokens = RATE_BURST
        self.refilled = time.monotonic()
        for group in self._groups():
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        metrics.WEBSOCKETS.inc()
        self.counted = True
        await self.send_json(
            {
                "type": "session.ready",
                "protocol": 1,
                "tenant": self.tenant.slug,
                "user": self.user.email,
                "limits": {"max_text": MAX_TEXT, "max_system_prompt": MAX_SYSTEM_PROMPT},
            }
        )

    async def disconnect(self, code: int) -> None:
        # Leaving never stops a reply: it belongs to the server (chat.engine).
        if getattr(self, "counted", False):
            metrics.WEBSOCKETS.dec()
        if not hasattr(self, "joined"):
            return
        self.watcher.close()
        for conversation_id in self.joined:
            await self.hub.unwatch(conversation_id, self.watcher)
        for group in self._groups():
            await self.channel_layer.group_discard(group, self.channel_name)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections before every message (a thread hop each time). This consumer
        # never touches the database on the loop: its calls run through db_async, which manages connections.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        return relay.encode(content)

    async def _send_text(self, text: str) -> None:
        await self.send(text_data=text)

    async def _read_text(self, message_id: int) -> str | None:
        """A reply's text for a resync: the reply buffer, else the saved message (the buffer has expired)."""
        text = await self.hub.buffer_read(message_id)
        if text is None:
            text = await db_async(message_content)(tenant=self.tenant, message_id=message_id)
        return text

    # --- frames in ------------------------------------------------------------------------------------------------
    def _allow_frame(self) -> bool:
        now = time.monotonic()
        self.tokens = min(RATE_BURST, self.tokens + (now - self.refilled) * RATE_PER_SECOND)
        self.refilled = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if not self._allow_frame():
            await self.send_error("rate_limited", _("Too many messages at once. Slow down a little."))
            return
        if text_data is None:
            await self.send_error("bad_frame", _("Frames must be JSON text."))
            return
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
            await self.send_error("bad_json", _("The frame is not valid JSON."))
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.send_error("bad_frame", _("A frame is a JSON object with a string “type”."))
            return
        request_id = content.get("request_id") if isinstance(content.get("request_id"), str) else None
        try:
            with translation.override(self.language):
                await self.receive_json(content)
        except FrameError as exc:
            await self.send_error(exc.code, exc.message, request_id)
        except ChatRefused as exc:
            await self.send_error(exc.code, exc.message, request_id)
        except Http404:
            await self.send_error("not_found", _("This conversation does not exist."), request_id)
        except Exception:
            logger.exception("websocket frame failed: %s", content.get("type"))
            await self.send_error("server_error", _("Something went wrong on our side. Please try again."), request_id)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        handler = {
            "ping": self.on_ping,
            "chat.send": self.on_send,
            "chat.join": self.on_join,
            "chat.leave": self.on_leave,
            "chat.stop": self.on_stop,
            "chat.regenerate": self.on_regenerate,
            "chat.edit": self.on_edit,
            "notice.ack": self.on_notice_ack,
        }.get(content["type"])
        if handler is None:
            raise FrameError("unknown_type", _("Unknown frame type “%(type)s”.") % {"type": content["type"][:40]})
        await handler(content)

    async def on_ping(self, content: dict[str, Any]) -> None:
        await self.send_json({"type": "pong"})

    async def on_send(self, content: dict[str, Any]) -> None:
        request_id = _str(content, "request_id", optional=True, limit=64)
        start = await db_async(chat_turn_start)(
            tenant=self.tenant,
            user=self.user,
            conversation_id=_int(content, "conversation_id", optional=True),
            text=_str(content, "text", limit=10 * MAX_TEXT),
            model_version_id=_int(content, "model_version_id", optional=True),
            system_prompt=_str(content, "system_prompt", optional=True, limit=10 * MAX_SYSTEM_PROMPT),
            attachment_ids=_int_list(content, "attachment_ids", limit=100),
        )
        await self._launch(start, request_id)

    async def on_regenerate(self, content: dict[str, Any]) -> None:
        start = await db_async(chat_turn_retry)(
            tenant=self.tenant,
            user=self.user,
            conversation_id=_int(content, "conversation_id"),
            model_version_id=_int(content, "model_version_id", optional=True),
        )
        await self._launch(start, _str(content, "request_id", optional=True, limit=64))

    async def on_edit(self, content: dict[str, Any]) -> None:
        start = await db_async(chat_turn_retry)(
            tenant=self.tenant,
            user=self.user,
            conversation_id=_int(content, "conversation_id"),
            new_text=_str(content, "text", limit=10 * MAX_TEXT),
            message_id=_int(content, "message_id", optional=True),
        )
        await self._launch(start, _str(content, "request_id", optional=True, limit=64))

    async def _launch(self, start: TurnStart, request_id: str | None) -> None:
        # The reply runs in this process, so local watching is enough to get every frame; the subscription for
        # frames from other processes (a later reply started in another tab) is made without waiting for it.
        self.watcher.ends[start.assistant_message_id] = 0
        self._watch_soon(start.conversation_id)
        await self.send_json(
            {
                "type": "chat.accepted",
                "request_id": request_id,
                "conversation": {
                    "id": start.conversation_id,
                    "title": start.conversation_title,
                    "updated_at": start.conversation_updated_at,
                },
                "user_message": {
                    "id": start.user_message_id,
                    "content": start.user_message_text,
                    "html": render_plain(start.user_message_text),
                    "versions": versions_json(start.user_versions, start.user_message_id),
                    "attachments": list(start.user_attachments),
                },
                "assistant_message_id": start.assistant_message_id,
                "assistant_versions": versions_json(start.answer_versions, start.assistant_message_id),
                "model": {
                    "id": start.model_version_id,
                    "label": start.model_label,
                    "display_name": start.model_display_name,
                },
                "context_trimmed": start.context_trimmed,
            }
        )
        engine.launch(start, LiveSink(), client=self._client_meta())

    async def on_join(self, content: dict[str, Any]) -> None:
        conversation_id = _int(content, "conversation_id")
        after = content.get("after")
        if after is not None and not (
            isinstance(after, dict)
            and isinstance(after.get("message_id"), int)
            and isinstance(after.get("end"), int)
            and after["end"] >= 0
        ):
            raise FrameError("bad_frame", _("“after” must be {message_id, end} or null."))
        assert conversation_id is not None
        # Watch first, then read: a frame published in between is held, and then either covered by the snapshot
        # (trimmed by offset) or sent after it. Held frames are dropped if the conversation is not the person's.
        self.watcher.pause()
        try:
            fresh = conversation_id not in self.joined
            if fresh:
                self.joined.add(conversation_id)
                await self.hub.watch(conversation_id, self.watcher)
            try:
                state = await db_async(conversation_join_state)(
                    tenant=self.tenant,
                    user=self.user,
                    conversation_id=conversation_id,
                    after_message_id=after["message_id"] if after is not None else None,
                )
            except Http404:
                if fresh:
                    self.joined.discard(conversation_id)
                    await self.hub.unwatch(conversation_id, self.watcher)
                    self.watcher.purge(conversation_id)
                raise
            frames = []
            if state.finished is not None:
                frames.append(self._saved_done(state.finished))
            running = state.running
            if running is not None:
                text = await self.hub.buffer_read(running.pk)
                if text is None:
                    text = running.content  # the buffer expired or this is another layer: what was saved
                offset = after["end"] if after is not None and after["message_id"] == running.pk else 0
                offset = min(offset, len(text))
                self.watcher.ends[running.pk] = offset
                frames.append(
                    Frame(
                        relay.snapshot(
                            conversation_id=state.conversation_id,
                            message_id=running.pk,
                            text=text,
                            offset=offset,
                            model_label=running.model_label,
                        )
                    )
                )
            for frame in reversed(frames):
                self.watcher.push_front(frame)
        finally:
            self.watcher.resume()

    def _saved_done(self, message: Message) -> Frame:
        """A joiner that missed the end of a reply gets its ``chat.done`` from the saved message."""
        self.watcher.ends.pop(message.pk, None)
        return Frame(
            done_frame(
                conversation_id=message.conversation_id,
                message_id=message.pk,
                status=message.status,
                end=len(message.content),
                html=render_markdown(message.content),
                model_label=message.model_label,
                usage=message.usage,
                error=message_error(message.error_code, message.error_params, message.error_message),
                context_trimmed=message.context_trimmed,
            )
        )

    async def on_leave(self, content: dict[str, Any]) -> None:
        conversation_id = _int(content, "conversation_id")
        if conversation_id in self.joined:
            self.joined.discard(conversation_id)
            await self.hub.unwatch(conversation_id, self.watcher)

    async def on_stop(self, content: dict[str, Any]) -> None:
        state = await db_async(conversation_join_state)(
            tenant=self.tenant, user=self.user, conversation_id=_int(content, "conversation_id"), after_message_id=None
        )
        if state.running is not None:
            await engine.request_stop(state.running.pk)

    async def on_notice_ack(self, content: dict[str, Any]) -> None:
        version = _int(content, "version")
        notice = await db_async(notice_current)(tenant=self.tenant)
        if notice is None or notice.version != version:
            raise FrameError("not_found", _("That notice has changed; read the new one."))
        await db_async(notice_acknowledge)(user=self.user, notice=notice)

    # --- frames out -----------------------------------------------------------------------------------------------
    def _watch_soon(self, conversation_id: int) -> None:
        if conversation_id not in self.joined:
            self.joined.add(conversation_id)
            task = asyncio.get_running_loop().create_task(self.hub.watch(conversation_id, self.watcher))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def tenant_event(self, message: dict[str, Any]) -> None:
        """A tenant-wide event (e.g. ``notice.updated``) sent to ``tenant-<id>`` by a service on commit."""
        await self.send_json(message["event"])

    async def user_event(self, message: dict[str, Any]) -> None:
        """One person's event (``conversation.updated``, ``folders.updated``: chat.events) sent to ``user-<id>`` by
        a service on commit, from any process: every tab of the person keeps its sidebar true."""
        await self.send_json(message["event"])

    def _groups(self) -> tuple[str, ...]:
        return (tenant_group(self.tenant.pk), user_group(self.user.pk), GLOBAL_GROUP)

    async def session_end(self, message: dict[str, Any]) -> None:
        """The person was deactivated or signed out, or their company was deactivated (chat.signals): the socket
        ends now, from whichever process saw the change. Running answers go on and are saved."""
        await self.send_json({"type": "session.ended", "reason": message.get("reason", "")})
        await self.close(code=4401)

    async def notice_changed(self, message: dict[str, Any]) -> None:
        """A notice changed somewhere: send this person their effective notice (language and ack are theirs)."""
        from chat.views import notice_payload

        payload = await db_async(notice_payload)(tenant=self.tenant, user=self.user, language=self.language)
        await self.send_json({"type": "notice.updated", "notice": payload})

    async def send_error(self, code: str, message: str, request_id: str | None = None) -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if request_id is not None:
            frame["request_id"] = request_id
        await self.send_json(frame)

    def _language(self) -> str:
        """The person's UI language: the language cookie, else Accept-Language, else the default (ja)."""
        cookie = self.scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME)
        if cookie and translation.check_for_language(cookie):
            return str(cookie)
        accept = dict(self.scope.get("headers", [])).get(b"accept-language", b"").decode("latin-1")
        for code, _quality in parse_accept_lang_header(accept):
            if code != "*" and translation.check_for_language(code):
                return translation.get_supported_language_variant(code)
        return str(settings.LANGUAGE_CODE)

    def _client_meta(self) -> dict[str, str]:
        headers = dict(self.scope.get("headers", []))
        client = self.scope.get("client") or ("", 0)
        return {
            "ip": str(client[0]),
            "user_agent": bytes(headers.get(b"user-agent", b"")).decode("latin-1")[:300],
        }
