"""The chat engine: owns a reply from the saved question to the saved, audited answer.

It knows nothing of websockets or Slack. A door (the websocket consumer, the Slack task) starts a turn through the
services, then hands it here with a ``ReplySink`` that tells the world about progress:

* ``LiveSink`` (web): coalesced deltas through this process's ``ReplyHub`` (chat.relay) to every watching socket
  on any daphne process, and the text so far in the reply buffer so a socket can join mid-reply;
* the Slack door brings its own sink (placeholder message updated as text arrives).

The reply runs as its own asyncio task (``ReplyRun``), not inside a consumer: closing the tab or losing the network
does not stop it. Stop is explicit (``request_stop``): the task is cancelled, in this process directly, in another
through the relay's control channel. The hot path (upstream event → coalesced frame → sockets) never awaits
anything but the upstream: no thread hop, no database, no Redis round trip per delta.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from chat import relay
from chat.errors import filter_note
from chat.outcome import ReplyOutcome
from chat.rendering import render_markdown
from chat.services import TurnStart, chat_reply_finalize
from llm.client import ChatParams, aclose_clients, estimate_tokens, stream_chat
from llm.client import errors as llm_errors
from ops import metrics

logger = logging.getLogger("officeai.chat")

# After the first token (sent at once), deltas are batched for a window: the browser is not flooded, and the server
# pays per frame, not per token. The window grows with the replies this process runs (1 ms each), so its total
# frame rate stays near FRAMES_PER_SECOND under load instead of growing with the number of replies.
COALESCE_MIN = 0.04
COALESCE_MAX = 0.25
FRAMES_PER_SECOND = 1000


def coalesce_window(running: int) -> float:
    return min(COALESCE_MAX, max(COALESCE_MIN, running / FRAMES_PER_SECOND))


class ReplySink(Protocol):
    """Where a reply's progress goes. ``delta`` is called on the hot path and must not block: a sink with slow
    work (Slack's HTTP updates) schedules it and catches up in ``done``."""

    async def started(self, start: TurnStart) -> None: ...
    def delta(self, start: TurnStart, offset: int, end: int, text: str) -> None: ...
    async def done(self, start: TurnStart, outcome: ReplyOutcome, message_html: str) -> None: ...


# --- Web sink -------------------------------------------------------------------------------------------------------
@dataclass
class LiveSink:
    """Fans a reply out to every socket watching the conversation, on any daphne process."""

    hub: relay.ReplyHub = field(default_factory=relay.hub)

    async def started(self, start: TurnStart) -> None:
        self.hub.buffer_begin(start.assistant_message_id)

    def delta(self, start: TurnStart, offset: int, end: int, text: str) -> None:
        # Buffer first (queued in order on one pipeline): a socket that resyncs after seeing this delta reads it.
        self.hub.buffer_append(start.assistant_message_id, text)
        self.hub.publish(
            start.conversation_id,
            relay.Frame(
                {
                    "type": "chat.delta",
                    "conversation_id": start.conversation_id,
                    "message_id": start.assistant_message_id,
                    "offset": offset,
                    "end": end,
                    "text": text,
                }
            ),
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
        self.hub.publish(start.conversation_id, relay.Frame(frame))
        self.hub.buffer_end(start.assistant_message_id)


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
    """``chat.done`` (docs/websocket-protocol.md), live or rebuilt from the saved message for a late joiner. ``note``
    is the plain sentence under an answer the content filter cut."""
    return {
        "type": "chat.done",
        "note": filter_note(status),
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
class ReplyRun:
    """One reply: stream the answer, coalesce deltas, keep it alive for the stale sweep, finalise (status, usage,
    audit) in one database call. Database writes per reply are fixed (the turn's three, then the answer's two),
    whatever its length or duration."""

    def __init__(
        self,
        start: TurnStart,
        sink: ReplySink,
        *,
        params: ChatParams | None = None,
        channel: str = "web",
        channel_detail: dict[str, Any] | None = None,
        client: dict[str, Any] | None = None,
        finalize: Callable[..., Any] = chat_reply_finalize,
        deadline: float | None = None,
    ) -> None:
        self.start = start
        # Seconds the whole reply may take (the Slack door: its Celery task has a time limit, and the person must
        # get a final message before it): then it ends as cut off, saved and posted like any other answer.
        self.deadline = deadline
        self.sink = sink
        self.params = params or ChatParams(user=str(start.user_id or ""))
        self.channel = channel
        self.channel_detail = channel_detail
        self.client = client
        self.finalize = finalize
        self.outcome = ReplyOutcome()
        self.hub = relay.hub()
        self._pending: list[str] = []
        self._sent = 0  # code points handed to the sink
        self._timer: asyncio.TimerHandle | None = None
        self._heartbeat: asyncio.TimerHandle | None = None

    async def run(self) -> ReplyOutcome:
        message_id = self.start.assistant_message_id
        loop = asyncio.get_running_loop()
        stopped = False
        budget = asyncio.timeout(self.deadline)  # None: no limit
        self._beat()
        metrics.reply_started()
        try:
            await self.sink.started(self.start)
            events = stream_chat(self.start.spec, self.start.prompt, self.params)
            try:
                async with budget:
                    async for event in events:
                        added = self.outcome.apply(event)
                        if not added:
                            continue
                        self._pending.append(added)
                        if self._sent == 0 and self._timer is None:
                            self.flush()  # the first token goes out at once
                        elif self._timer is None:
                            self._timer = loop.call_later(coalesce_window(self.hub.replies), self.flush)
            finally:
                with contextlib.suppress(Exception):
                    await events.aclose()  # closes the upstream HTTP response, also on cancel
        except TimeoutError:
            if not budget.expired():  # not our deadline: an unexpected fault, handled like the others below
                logger.exception("reply %s: stream failed", message_id)
            else:
                detail = f"the reply took longer than its {self.deadline:g} s budget"
                late = llm_errors.make_error(llm_errors.TIMEOUT, detail=detail, partial=self.outcome.length > 0)
                self.outcome.apply(late)
        except asyncio.CancelledError:
            stopped = True  # request_stop, or the server shutting down
        except Exception:
            # The client layer turns upstream faults into events; anything else still ends in a saved answer.
            logger.exception("reply %s: stream failed", message_id)
        finally:
            if self._heartbeat is not None:
                self._heartbeat.cancel()
        if stopped or not self.outcome.finished:
            self.outcome.finish("stopped" if stopped else "truncated")
        self._report()
        try:
            await asyncio.shield(self._finish())
        except asyncio.CancelledError:
            logger.warning("reply %s finalised while its task was cancelled", message_id)
        return self.outcome

    def _report(self) -> None:
        """The reply's numbers for /metrics (ops.metrics): plain values, no database."""
        outcome, timings = self.outcome, self.outcome.timings()
        tokens = outcome.usage.completion_tokens if outcome.usage and outcome.usage.completion_tokens else 0
        errors = [a["error_kind"] for a in outcome.attempts if a.get("error_kind")]
        if outcome.error is not None and not outcome.attempts:
            errors.append(outcome.error.kind)
        metrics.reply_finished(
            model=self.start.model_label,
            channel=self.channel,
            status=outcome.status,
            ttft=timings["ttft_ms"] / 1000 if timings["ttft_ms"] is not None else None,
            duration=timings["duration_ms"] / 1000 if timings["duration_ms"] is not None else None,
            tokens=tokens or (estimate_tokens(outcome.text) if outcome.text else 0),
            error_kinds=errors,
            failovers=sum(1 for a in outcome.attempts if a.get("outcome") == "failed_over"),
        )

    def flush(self) -> None:
        """Hand the pending text to the sink as one delta (sync: called by the coalescing timer too)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        end = self._sent + len(text)
        try:
            self.sink.delta(self.start, self._sent, end, text)
        except Exception:
            logger.exception("reply %s: sink failed on a delta", self.start.assistant_message_id)
        self._sent = end

    def _beat(self) -> None:
        """Tell the stale-reply sweep this reply still runs (Redis, every ALIVE_EVERY seconds; never the DB)."""
        self.hub.alive(self.start.assistant_message_id)
        self._heartbeat = asyncio.get_running_loop().call_later(relay.ALIVE_EVERY, self._beat)

    async def _finish(self) -> None:
        # Shielded: a cancel (stop, shutdown) must not lose the saved answer or its audit entry.
        self.flush()
        start, outcome = self.start, self.outcome

        def save_and_render() -> str:
            self.finalize(
                start=start,
                outcome=outcome,
                channel=self.channel,
                channel_detail=self.channel_detail,
                client=self.client,
            )
            return render_markdown(outcome.text)

        try:
            html = await relay.db_async(save_and_render)()
        finally:
            self.hub.not_alive(start.assistant_message_id)
        await self.sink.done(start, outcome, html)


async def run_reply(start: TurnStart, sink: ReplySink, **kwargs: Any) -> ReplyOutcome:
    """Run one reply to its end in the current task (the Slack door runs it this way)."""
    return await ReplyRun(start, sink, **kwargs).run()


async def run_reply_detached(start: TurnStart, sink: ReplySink, **kwargs: Any) -> ReplyOutcome:
    """``run_reply`` on an event loop that ends with it (a Celery task's ``async_to_sync``): the relay's writes
    (liveness) reach Redis, and its connections and the loop's openai clients are closed before the loop goes."""
    try:
        return await run_reply(start, sink, **kwargs)
    finally:
        await relay.hub().drain()
        await relay.reset()
        await aclose_clients()  # this loop's upstream connections: left open they pile up in CLOSE-WAIT


def launch(start: TurnStart, sink: ReplySink, **kwargs: Any) -> asyncio.Task[ReplyOutcome]:
    """Run the reply as a task of this process's loop, independent of the socket that asked for it."""
    task = asyncio.create_task(run_reply(start, sink, **kwargs), name=f"reply-{start.assistant_message_id}")
    relay.hub().register(start.assistant_message_id, task)

    def report(done: asyncio.Task[ReplyOutcome]) -> None:
        if not done.cancelled() and done.exception() is not None:
            logger.error("reply %s failed", start.assistant_message_id, exc_info=done.exception())

    task.add_done_callback(report)
    return task


async def request_stop(message_id: int) -> None:
    """Stop a reply wherever it runs (chat.relay's control channel reaches the other processes)."""
    await relay.hub().stop(message_id)
