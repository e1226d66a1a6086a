"""The reply relay: how a running reply's text reaches every socket watching it, on any daphne process.

One ``ReplyHub`` per event loop (one per daphne process; a Celery task running a Slack reply gets its own):

* **Local fan-out.** The reply task hands each coalesced frame to the hub, which encodes it once and puts it in the
  ``Watcher`` (outbox) of every socket of this process that watches the conversation. Nothing on that path awaits,
  hops to a thread or touches the database: the channel layer is not on the hot path at all.
* **Redis** (``REDIS_URL``). One writer task per hub sends whatever was queued since its last round trip as one
  pipeline: APPEND to the reply buffer (joiners and resyncs read it), PUBLISH to the conversation's channel (the
  hubs of other processes subscribe to it while one of their sockets watches it), liveness keys.
* **Control.** A stop request is published on one control channel; the process that runs the reply cancels its
  task. Nothing polls.

A ``Watcher`` keeps, per reply, how much text its socket has (``ends``) and applies the protocol's offset rules
before sending: overlaps are trimmed, and a gap (a lost pub/sub message, or a socket that fell ``capacity``
frames behind and had its deltas dropped) is repaired with a ``chat.snapshot`` read from the reply buffer. Queued
deltas of one reply are merged when the socket is behind, so a loaded process sends fewer, larger frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from chat.groups import control_channel, conversation_channel

logger = logging.getLogger("officeai.relay")

BUFFER_TTL = 3600  # seconds a running reply's text is kept in Redis (refreshed while it runs)
BUFFER_AFTER_DONE = 60  # seconds the text stays after chat.done: late resyncs read it instead of the database
ALIVE_TTL = 90  # a liveness key expires this long after its reply's last heartbeat
ALIVE_EVERY = 30.0  # seconds between heartbeats of a running reply (bounded Redis writes, no database writes)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def db_async(func: Callable[_P, _R]) -> Callable[_P, Awaitable[_R]]:
    """Database work from the event loop, on the default executor's threads: not asgiref's single thread-sensitive
    executor, on which every socket and reply of the process would queue behind each other. The connection is
    closed inside the call, so it goes back to the pool (Django's psycopg pool on PostgreSQL) at once."""

    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        close_old_connections()
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return sync_to_async(run, thread_sensitive=False)


def encode(frame: dict[str, Any]) -> str:
    """A frame as sent on the socket: UTF-8 JSON (Japanese is 3 bytes a character, not a 6-byte escape)."""
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def snapshot(
    *, conversation_id: int, message_id: int, text: str, offset: int, model_label: str | None = None
) -> dict[str, Any]:
    """``chat.snapshot``: a reply's text from ``offset`` (a join, or the repair of a socket that missed frames)."""
    frame: dict[str, Any] = {
        "type": "chat.snapshot",
        "conversation_id": conversation_id,
        "message_id": message_id,
        "offset": offset,
        "end": len(text),
        "text": text[offset:],
    }
    if model_label is not None:
        frame["model"] = {"label": model_label}
    return frame


class Frame:
    """A frame on its way to sockets; encoded once, whatever the number of watchers."""

    __slots__ = ("_text", "data")

    def __init__(self, data: dict[str, Any], text: str | None = None) -> None:
        self.data = data
        self._text = text

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = encode(self.data)
        return self._text

    @property
    def type(self) -> str:
        return str(self.data["type"])

    @property
    def message_id(self) -> int:
        return int(self.data.get("message_id") or 0)


# --- Shared Redis clients ---------------------------------------------------------------------------------------
_sync_redis: Any = None


def _redis_sync() -> Any:
    """A thread-safe client for sync code (views, the stale-reply sweep); None without REDIS_URL."""
    global _sync_redis
    if not settings.REDIS_URL:
        return None
    if _sync_redis is None:
        import redis

        _sync_redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=10, socket_connect_timeout=5)
    return _sync_redis


def buffer_key(message_id: int) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:reply:{message_id}"


def alive_key(message_id: int) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:reply-alive:{message_id}"


# Without Redis there is one process: the text and liveness of running replies live here, readable from threads.
_local_text: dict[int, list[str]] = {}
_local_alive: set[int] = set()


def buffer_read_sync(message_id: int) -> str | None:
    """The text so far of a running reply (or of one that ended under a minute ago), for sync code."""
    client = _redis_sync()
    if client is None:
        parts = _local_text.get(message_id)
        return "".join(parts) if parts is not None else None
    raw = client.get(buffer_key(message_id))
    return raw.decode() if raw is not None else None


def alive_sync(message_ids: list[int]) -> set[int]:
    """Which of these replies still run somewhere (a heartbeat within ``ALIVE_TTL``)."""
    if not message_ids:
        return set()
    client = _redis_sync()
    if client is None:
        return {pk for pk in message_ids if pk in _local_alive}
    values = client.mget([alive_key(pk) for pk in message_ids])
    return {pk for pk, value in zip(message_ids, values, strict=True) if value is not None}


# --- One socket's outbox --------------------------------------------------------------------------------------------
TextReader = Callable[[int], Awaitable[str | None]]


class Watcher:
    """What one socket receives of the replies it watches. ``push`` never blocks; a writer task sends."""

    capacity = 64  # queued deltas beyond which the socket counts as behind: deltas dropped, one snapshot later

    def __init__(self, send: Callable[[str], Awaitable[None]], read_text: TextReader) -> None:
        self._send = send
        self._read_text = read_text  # the full text of a reply: reply buffer, else the saved message
        self.ends: dict[int, int] = {}  # message id → code points this socket has
        self._conversation_of: dict[int, int] = {}  # message id → conversation id, for the replies in ``ends``
        self._queue: deque[Frame] = deque()
        self._deltas = 0
        self._behind: dict[int, int] = {}  # message id → conversation id, to resync from the buffer
        self._wake = asyncio.Event()
        self._paused = 0
        self._task = asyncio.get_running_loop().create_task(self._run())

    def push(self, frame: Frame) -> None:
        if frame.type == "chat.delta":
            if frame.message_id in self._behind:
                return  # the coming snapshot brings this text
            if self._deltas >= self.capacity:
                self._fall_behind(frame)
                return
            self._deltas += 1
        self._queue.append(frame)
        self._wake.set()

    def _drop(self, unwanted: Callable[[Frame], bool]) -> None:
        """Remove queued frames, keeping the count of queued deltas right."""
        kept: deque[Frame] = deque()
        for queued in self._queue:
            if not unwanted(queued):
                kept.append(queued)
            elif queued.type == "chat.delta":
                self._deltas -= 1
        self._queue = kept

    def _fall_behind(self, frame: Frame) -> None:
        message_id = frame.message_id
        self._drop(lambda queued: queued.type == "chat.delta" and queued.message_id == message_id)
        self._behind[message_id] = int(frame.data["conversation_id"])
        self._wake.set()

    def push_front(self, frame: Frame) -> None:
        """Send before anything queued (a join's snapshot: queued deltas it covers are then skipped)."""
        self._queue.appendleft(frame)
        self._wake.set()

    def pause(self) -> None:
        """Hold frames while a join checks the conversation is the person's; ``purge`` drops them if not."""
        self._paused += 1

    def resume(self) -> None:
        self._paused -= 1
        self._wake.set()

    def purge(self, conversation_id: int) -> None:
        self._drop(lambda queued: queued.data.get("conversation_id") == conversation_id)
        for message_id in [m for m, c in self._behind.items() if c == conversation_id]:
            del self._behind[message_id]

    def resync_all(self) -> None:
        """Frames may have been lost (the subscriber reconnected): reread every reply this socket follows."""
        self._behind.update(self._conversation_of)
        self._wake.set()

    def close(self) -> None:
        self._task.cancel()

    async def _run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while (self._behind or self._queue) and not self._paused:
                    if self._behind:
                        message_id, conversation_id = self._behind.popitem()
                        await self._resync(conversation_id, message_id)
                        continue
                    frame = self._queue.popleft()
                    if frame.type == "chat.delta":
                        self._deltas -= 1
                        frame = self._merge(frame)
                    await self._deliver(frame)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.debug("socket writer ended", exc_info=True)  # the socket closed under it

    def _merge(self, frame: Frame) -> Frame:
        """Join the queued deltas that continue this one (same reply, contiguous): one frame instead of many."""
        queue = self._queue
        if not queue or queue[0].type != "chat.delta" or queue[0].message_id != frame.message_id:
            return frame
        data = dict(frame.data)
        texts = [data["text"]]
        while queue and queue[0].type == "chat.delta" and queue[0].message_id == frame.message_id:
            following = queue[0].data
            if following["offset"] != data["end"]:
                break
            queue.popleft()
            self._deltas -= 1
            texts.append(following["text"])
            data["end"] = following["end"]
        data["text"] = "".join(texts)
        return Frame(data)

    async def _deliver(self, frame: Frame) -> None:
        kind = frame.type
        if kind == "chat.delta" or kind == "chat.snapshot":
            message_id = frame.message_id
            have = self.ends.get(message_id, 0)
            end, offset = frame.data["end"], frame.data["offset"]
            if end <= have:
                return  # nothing new (an overlap with a snapshot)
            if offset > have:
                await self._resync(int(frame.data["conversation_id"]), message_id)
                return
            if offset < have:
                frame = Frame(dict(frame.data, offset=have, text=frame.data["text"][have - offset :]))
            self.ends[message_id] = end
            self._conversation_of[message_id] = int(frame.data["conversation_id"])
            await self._send(frame.text)
        elif kind == "chat.done":
            message_id = frame.message_id
            known = self.ends.get(message_id)
            if known is not None and known < frame.data["end"]:
                await self._resync(int(frame.data["conversation_id"]), message_id)
            self.ends.pop(message_id, None)
            self._conversation_of.pop(message_id, None)
            await self._send(frame.text)
        else:
            await self._send(frame.text)

    async def _resync(self, conversation_id: int, message_id: int) -> None:
        """Send what this socket is missing of a reply as one snapshot from its offset."""
        text = await self._read_text(message_id)
        have = self.ends.get(message_id, 0)
        if text is None or len(text) <= have:
            return
        self.ends[message_id] = len(text)
        self._conversation_of[message_id] = conversation_id
        frame = snapshot(conversation_id=conversation_id, message_id=message_id, text=text, offset=have)
        await self._send(encode(frame))


# --- The hub ----------------------------------------------------------------------------------------------------
class ReplyHub:
    """Fan-out and control for one event loop. Get it with ``hub()``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.origin = uuid.uuid4().hex[:12]  # frames this hub published come back from Redis: skip them
        self._watchers: dict[int, set[Watcher]] = {}
        self._running: dict[int, asyncio.Task[Any]] = {}
        self._pending: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self._queued = self._written = 0  # commands queued / sent (``drain`` waits for the difference)
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._client: Any = None
        self._writer: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._pubsub: Any = None
        self._subscribed: dict[str, asyncio.Event] = {}
        self._ready: asyncio.Event | None = None

    @property
    def redis(self) -> Any:
        if self._client is None and settings.REDIS_URL:
            import redis.asyncio as redis_asyncio

            # No read timeout on the subscriber: it waits for messages indefinitely (listen() blocks);
            # keepalive finds a dead server instead.
            self._client = redis_asyncio.from_url(
                settings.REDIS_URL, socket_connect_timeout=5, socket_keepalive=True, health_check_interval=30
            )
        return self._client

    # --- Redis writes, one pipeline per round trip --------------------------------------------------------------
    def queue(self, command: str, *args: Any, **kwargs: Any) -> None:
        if self.redis is None:
            return
        self._pending.append((command, args, kwargs))
        self._queued += 1
        if self._writer is None or self._writer.done():
            self._writer = self.loop.create_task(self._write_loop(), name="relay-writer")
        self._wake.set()

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending, []
                pipe = self.redis.pipeline(transaction=False)
                for command, args, kwargs in batch:
                    getattr(pipe, command)(*args, **kwargs)
                try:
                    await pipe.execute()
                except Exception:
                    # Sockets see a gap by offset and resync; the saved answer does not depend on Redis.
                    logger.warning("relay: Redis write of %d commands failed", len(batch), exc_info=True)
                finally:
                    self._written += len(batch)
                    self._progress.set()

    async def drain(self) -> None:
        """Wait until everything queued so far has been written to Redis (a read must see this process's
        appends). Only joins and resyncs wait here, never the reply."""
        target = self._queued
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                while self._written < target:
                    self._progress.clear()
                    await self._progress.wait()

    # --- Reply buffer -------------------------------------------------------------------------------------------
    def buffer_begin(self, message_id: int) -> None:
        """Start empty: whatever an earlier run left under this id must not leak in."""
        if self.redis is None:
            _local_text[message_id] = []
        else:
            self.queue("set", buffer_key(message_id), b"", ex=BUFFER_TTL)

    def buffer_append(self, message_id: int, text: str) -> None:
        if self.redis is None:
            _local_text.setdefault(message_id, []).append(text)
        else:
            self.queue("append", buffer_key(message_id), text.encode())

    def buffer_end(self, message_id: int) -> None:
        """Keep the final text a little longer for late resyncs, then forget it."""
        if self.redis is None:
            self.loop.call_later(BUFFER_AFTER_DONE, _local_text.pop, message_id, None)
        else:
            self.queue("expire", buffer_key(message_id), BUFFER_AFTER_DONE)

    async def buffer_read(self, message_id: int) -> str | None:
        if self.redis is None:
            parts = _local_text.get(message_id)
            return "".join(parts) if parts is not None else None
        await self.drain()  # what this process appended is readable
        raw = await self.redis.get(buffer_key(message_id))
        return raw.decode() if raw is not None else None

    # --- Liveness (the stale-reply sweep skips replies that still run) ----------------------------------------------
    def alive(self, message_id: int) -> None:
        if self.redis is None:
            _local_alive.add(message_id)
        else:
            self.queue("set", alive_key(message_id), b"1", ex=ALIVE_TTL)
            self.queue("expire", buffer_key(message_id), BUFFER_TTL)

    def not_alive(self, message_id: int) -> None:
        if self.redis is None:
            _local_alive.discard(message_id)
        else:
            self.queue("delete", alive_key(message_id))

    # --- Fan-out ------------------------------------------------------------------------------------------------
    def publish(self, conversation_id: int, frame: Frame) -> None:
        """To this process's watchers now, and through Redis to the other processes' (never awaits)."""
        for watcher in self._watchers.get(conversation_id, ()):
            watcher.push(frame)
        if self.redis is not None:
            self.queue("publish", conversation_channel(conversation_id), f"{self.origin}|{frame.text}")

    async def watch(self, conversation_id: int, watcher: Watcher) -> None:
        """From now on ``watcher`` gets the conversation's frames. Returns once a frame published anywhere after
        this call is sure to arrive (the subscription is confirmed): read the buffer only then."""
        self._watchers.setdefault(conversation_id, set()).add(watcher)
        if self.redis is not None:
            await self._subscribe(conversation_channel(conversation_id))

    async def unwatch(self, conversation_id: int, watcher: Watcher) -> None:
        watchers = self._watchers.get(conversation_id)
        if watchers is None:
            return
        watchers.discard(watcher)
        if not watchers:
            del self._watchers[conversation_id]
            if self._pubsub is not None:
                channel = conversation_channel(conversation_id)
                self._subscribed.pop(channel, None)
                with contextlib.suppress(Exception):
                    await self._pubsub.unsubscribe(channel)

    async def _subscribe(self, channel: str) -> None:
        await self.start()
        event = self._subscribed.get(channel)
        if event is None:
            event = self._subscribed[channel] = asyncio.Event()
            await self._pubsub.subscribe(channel)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), 5)

    async def start(self) -> None:
        """Subscribe to the control channel and start listening (once per hub; without Redis, nothing to do)."""
        if self.redis is None:
            return
        if self._ready is not None:
            await self._ready.wait()
            return
        self._ready = asyncio.Event()
        self._pubsub = self.redis.pubsub()
        self._subscribed[control_channel()] = asyncio.Event()
        await self._pubsub.subscribe(control_channel())
        self._listener = self.loop.create_task(self._listen(), name="relay-listener")
        self._ready.set()

    async def _listen(self) -> None:
        while True:
            try:
                async for message in self._pubsub.listen():
                    self._on_message(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Reconnected (redis-py subscribes again): what was published meanwhile is lost, so every
                # watcher rereads the replies it watches from the buffer.
                logger.warning("relay: subscriber connection lost; resubscribing", exc_info=True)
                await asyncio.sleep(0.5)
                for watchers in self._watchers.values():
                    for watcher in watchers:
                        watcher.resync_all()

    def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        raw = message.get("channel")
        channel = raw.decode() if isinstance(raw, bytes) else str(raw)
        if kind == "subscribe":
            event = self._subscribed.get(channel)
            if event is not None:
                event.set()
            return
        if kind != "message":
            return
        data = message["data"].decode()
        origin, _, body = data.partition("|")
        if channel == control_channel():
            self._on_control(body)
            return
        if origin == self.origin:
            return  # delivered locally already
        frame = Frame(json.loads(body), body)
        for watcher in self._watchers.get(int(frame.data["conversation_id"]), ()):
            watcher.push(frame)

    # --- Running replies and stop -------------------------------------------------------------------------------
    def register(self, message_id: int, task: asyncio.Task[Any]) -> None:
        self._running[message_id] = task
        task.add_done_callback(lambda _task: self._running.pop(message_id, None))
        if self.redis is not None and self._ready is None:
            self.loop.create_task(self.start())  # stop requests from other processes must reach this one

    @property
    def replies(self) -> int:
        """How many replies run on this loop (the engine widens its coalescing window with it)."""
        return len(self._running)

    async def stop(self, message_id: int) -> None:
        """Stop a reply wherever it runs: a task of this loop is cancelled; other processes are told."""
        if self._cancel(message_id):
            return
        if self.redis is not None:
            await self.redis.publish(control_channel(), f"{self.origin}|stop:{message_id}")

    def _cancel(self, message_id: int) -> bool:
        task = self._running.get(message_id)
        if task is None or task.done():
            return False
        task.cancel()
        return True

    def _on_control(self, body: str) -> None:
        command, _, value = body.partition(":")
        if command == "stop" and value.isdigit():
            self._cancel(int(value))

    async def close(self) -> None:
        for task in (self._listener, self._writer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
        self._client = self._pubsub = self._listener = self._writer = None


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ReplyHub] = weakref.WeakKeyDictionary()


def hub() -> ReplyHub:
    """The hub of the running event loop (Redis connections belong to one loop)."""
    loop = asyncio.get_running_loop()
    current = _hubs.get(loop)
    if current is None:
        current = _hubs[loop] = ReplyHub(loop)
    return current


async def reset() -> None:
    """Close this loop's hub (tests: each test has its own loop and Redis prefix)."""
    loop = asyncio.get_running_loop()
    current = _hubs.pop(loop, None)
    if current is not None:
        await current.close()
