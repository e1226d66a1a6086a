"""The chat engine: owns a reply from the saved question to the saved, audited answer.

It knows nothing of websockets or Slack. A door (the websocket consumer, the Slack task) starts a turn through the
services, then hands it here with a ``ReplySink`` that tells the world about progress:

* ``LiveSink`` (web): coalesced deltas to the conversation's channel-layer group, and the text so far in a
  ``ReplyBuffer`` (Redis when REDIS_URL is set) so a socket on any daphne process can join mid-reply;
* the Slack door brings its own sink (placeholder message updated as text arrives).

The reply runs as its own asyncio task, not inside a consumer: closing the tab or losing the network does not stop
it. Stop is explicit (``request_stop``), and reaches the task from any process through the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache

from chat.llm import ChatParams, stream_chat
from chat.outcome import ReplyOutcome
from chat.rendering import render_markdown
from chat.services import TurnStart, chat_reply_checkpoint, chat_reply_finalize

logger = logging.getLogger("officeai.chat")

COALESCE_SECONDS = 0.03  # deltas are batched this long: the browser is not flooded, the server not paid per token
CHECKPOINT_SECONDS = 2.0  # the partial answer is written to the database this often (a few writes per reply)
STOP_KEY = "reply-stop:{}"  # in the cache, which adds REDIS_KEY_PREFIX

_running: dict[int, asyncio.Task[ReplyOutcome]] = {}  # strong references: the loop keeps only weak ones


def conversation_group(conversation_id: int) -> str:
    return f"conv-{conversation_id}"


class ReplySink(Protocol):
    async def started(self, start: TurnStart) -> None: ...
    async def delta(self, start: TurnStart, offset: int, end: int, text: str) -> None: ...
    async def done(self, start: TurnStart, outcome: ReplyOutcome, message_html: str) -> None: ...


# --- The text so far, shared between processes ---------------------------------------------------------------------
class ReplyBuffer:
    """Where a running reply's text lives for joiners: Redis (APPEND) with REDIS_URL, else this process's memory."""

    _local: dict[int, list[str]] = {}
    _redis: Any = None

    @classmethod
    def _client(cls) -> Any:
        if not settings.REDIS_URL:
            return None
        if cls._redis is None:
            import redis.asyncio as redis_asyncio

            cls._redis = redis_asyncio.from_url(settings.REDIS_URL)
        return cls._redis

    @staticmethod
    def _key(message_id: int) -> str:
        return f"{settings.REDIS_KEY_PREFIX}:reply:{message_id}"

    @classmethod
    async def begin(cls, message_id: int) -> None:
        """Start empty: whatever an earlier run left under this id (a crash, a reused id) must not leak in."""
        client = cls._client()
        if client is None:
            cls._local[message_id] = []
        else:
            await client.set(cls._key(message_id), b"", ex=3600)

    @classmethod
    async def append(cls, message_id: int, text: str) -> None:
        client = cls._client()
        if client is None:
            cls._local.setdefault(message_id, []).append(text)
            return
        async with client.pipeline(transaction=False) as pipe:
            await pipe.append(cls._key(message_id), text.encode()).expire(cls._key(message_id), 3600).execute()

    @classmethod
    async def read(cls, message_id: int) -> str | None:
        client = cls._client()
        if client is None:
            parts = cls._local.get(message_id)
            return "".join(parts) if parts is not None else None
        raw = await client.get(cls._key(message_id))
        return raw.decode() if raw is not None else None

    @classmethod
    async def discard(cls, message_id: int) -> None:
        client = cls._client()
        if client is None:
            cls._local.pop(message_id, None)
        else:
            await client.delete(cls._key(message_id))

    @classmethod
    async def reset_connection(cls) -> None:
        """Redis connections belong to one event loop; tests and async_to_sync create several."""
        if cls._redis is not None:
            with contextlib.suppress(Exception):
                await cls._redis.aclose()
            cls._redis = None


# --- Web sink -------------------------------------------------------------------------------------------------------
@dataclass
class LiveSink:
    """Fans a reply out to every socket watching the conversation, on any daphne process."""

    layer: Any = field(default_factory=get_channel_layer)

    async def _send(self, start: TurnStart, event: dict[str, Any]) -> None:
        await self.layer.group_send(conversation_group(start.conversation_id), {"type": "chat.event", "event": event})

    async def started(self, start: TurnStart) -> None:
        await ReplyBuffer.begin(start.assistant_message_id)

    async def delta(self, start: TurnStart, offset: int, end: int, text: str) -> None:
        # Buffer first: a socket that joins between the two steps reads it, then drops the overlap by offset.
        await ReplyBuffer.append(start.assistant_message_id, text)
        await self._send(
            start,
            {
                "type": "chat.delta",
                "conversation_id": start.conversation_id,
                "message_id": start.assistant_message_id,
                "offset": offset,
                "end": end,
                "text": text,
            },
        )

    async def done(self, start: TurnStart, outcome: ReplyOutcome, message_html: str) -> None:
        error = {"code": outcome.error.kind, "message": str(outcome.error.message)} if outcome.error else None
        frame = done_frame(
            conversation_id=start.conversation_id,
            message_id=start.assistant_message_id,
            status=outcome.status,
            end=outcome.length,
            html=message_html,
            model_label=start.model_label,
            usage=outcome.usage_dict(),
            error=error,
            context_trimmed=start.context_trimmed,
        )
        await self._send(start, frame)
        await ReplyBuffer.discard(start.assistant_message_id)


def done_frame(
    *,
    conversation_id: int,
    message_id: int,
    status: str,
    end: int,
    html: str,
    model_label: str,
    usage: dict[str, Any],
    error: dict[str, str] | None,
    context_trimmed: int,
) -> dict[str, Any]:
    """``chat.done`` (docs/websocket-protocol.md), live or rebuilt from the saved message for a late joiner."""
    return {
        "type": "chat.done",
        "conversation_id": conversation_id,
        "message_id": message_id,
        "status": status,
        "end": end,
        "html": html,
        "model_label": model_label,
        "usage": usage,
        "error": error,
        "context_trimmed": context_trimmed,
    }


# --- Running a reply ------------------------------------------------------------------------------------------------
async def request_stop(message_id: int) -> None:
    """Stop a reply wherever it runs: this process directly, others through the cache flag they poll."""
    await cache.aset(STOP_KEY.format(message_id), True, timeout=600)
    task = _running.get(message_id)
    if task is not None and not task.done():
        task.cancel()


async def _stop_requested(message_id: int) -> bool:
    return bool(await cache.aget(STOP_KEY.format(message_id)))


_END = object()


async def run_reply(
    start: TurnStart,
    sink: ReplySink,
    *,
    params: ChatParams | None = None,
    channel: str = "web",
    channel_detail: dict[str, Any] | None = None,
    client: dict[str, Any] | None = None,
    finalize: Callable[..., Any] = chat_reply_finalize,
) -> ReplyOutcome:
    """Stream the answer, coalescing deltas, checkpointing the text, and finalise (status, usage, audit)."""
    outcome = ReplyOutcome()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    events = stream_chat(start.spec, start.prompt, params or ChatParams(user=str(start.user_id or "")))

    async def pump() -> None:
        try:
            async for event in events:
                await queue.put(event)
        finally:
            with contextlib.suppress(Exception):
                await events.aclose()  # closes the upstream HTTP response, also on cancel
            queue.put_nowait(_END)

    pump_task = asyncio.create_task(pump())
    pending: list[str] = []
    sent = 0  # code points already sent to the sink
    last_flush = last_checkpoint = time.monotonic()
    stopped = False

    async def flush() -> None:
        nonlocal sent, last_flush
        last_flush = time.monotonic()
        if not pending:
            return
        text = "".join(pending)
        pending.clear()
        await sink.delta(start, sent, sent + len(text), text)
        sent += len(text)

    try:
        await sink.started(start)
        while True:
            timeout = max(0.0, last_flush + COALESCE_SECONDS - time.monotonic()) if pending else COALESCE_SECONDS * 10
            try:
                item = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                await flush()
                if await _stop_requested(start.assistant_message_id):
                    stopped = True
                    break
                continue
            if item is _END:
                break
            added = outcome.apply(item)
            if added:
                pending.append(added)
                now = time.monotonic()
                if now - last_flush >= COALESCE_SECONDS:
                    await flush()
                    if await _stop_requested(start.assistant_message_id):
                        stopped = True
                        break
                if now - last_checkpoint >= CHECKPOINT_SECONDS:
                    last_checkpoint = now
                    await database_sync_to_async(chat_reply_checkpoint)(
                        message_id=start.assistant_message_id, content=outcome.text
                    )
        await flush()
    except asyncio.CancelledError:
        stopped = True  # request_stop in this process, or the server shutting down
    finally:
        if not pump_task.done():
            pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump_task
    if stopped or not outcome.finished:
        outcome.finish("stopped" if stopped else "truncated")
    await _finalize(start, sink, outcome, channel, channel_detail, client, finalize, pending_flush=flush)
    return outcome


async def _finalize(
    start: TurnStart,
    sink: ReplySink,
    outcome: ReplyOutcome,
    channel: str,
    channel_detail: dict[str, Any] | None,
    client: dict[str, Any] | None,
    finalize: Callable[..., Any],
    pending_flush: Callable[[], Awaitable[None]],
) -> None:
    # Shielded: a cancel (stop, shutdown) must not lose the saved answer or its audit entry.
    async def work() -> None:
        with contextlib.suppress(Exception):
            await pending_flush()
        await database_sync_to_async(finalize)(
            start=start, outcome=outcome, channel=channel, channel_detail=channel_detail, client=client
        )
        await cache.adelete(STOP_KEY.format(start.assistant_message_id))
        html = render_markdown(outcome.text)
        await sink.done(start, outcome, html)

    try:
        await asyncio.shield(work())
    except asyncio.CancelledError:
        logger.warning("reply %s finalised while its task was cancelled", start.assistant_message_id)


def launch(start: TurnStart, sink: ReplySink, **kwargs: Any) -> asyncio.Task[ReplyOutcome]:
    """Run the reply as a task of this process's loop, independent of the socket that asked for it."""
    task = asyncio.create_task(run_reply(start, sink, **kwargs), name=f"reply-{start.assistant_message_id}")
    _running[start.assistant_message_id] = task

    def forget(done: asyncio.Task[ReplyOutcome]) -> None:
        _running.pop(start.assistant_message_id, None)
        if not done.cancelled() and done.exception() is not None:
            logger.error("reply %s failed", start.assistant_message_id, exc_info=done.exception())

    task.add_done_callback(forget)
    return task


def running_task(message_id: int) -> asyncio.Task[ReplyOutcome] | None:
    return _running.get(message_id)
