"""SlackSink: a reply shown in a Slack thread as it is written (placeholder, throttled ``chat.update``), then the
final mrkdwn text, split over several messages when long, the notice at the end.

Slack failures never escape into the engine (the answer is saved and audited regardless): they are kept in
``error`` and the task records the event as failed, so ``slack_reprocess`` can post the saved answer later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from django.utils.translation import gettext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from chat.models import Message
from chat.outcome import ReplyOutcome
from chat.services import TurnStart, message_slack_ts_record
from slack.context import FOOTER_SEPARATOR
from slack.mrkdwn import MESSAGE_LIMIT, escape, split_text, to_mrkdwn

logger = logging.getLogger("officeai.slack")

UPDATE_INTERVAL = 1.0  # chat.update is Tier 3 (~50/min per workspace): about one update a second per reply
SLACK_ERRORS = (SlackApiError, SlackClientError, OSError)


def placeholder_text() -> str:
    return gettext("_Thinking…_")


def slack_error_text(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return f"slack api error: {exc.response.get('error') or exc.response.status_code}"
    return f"slack unreachable: {type(exc).__name__}"


def with_footer(text: str, footer: str) -> str:
    return f"{text}{FOOTER_SEPARATOR}{footer}" if footer else text


def post_placeholder(*, client: WebClient, channel: str, thread_ts: str) -> str:
    response = client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=placeholder_text())
    return str(response["ts"])


def post_answer(
    *, client: WebClient, channel: str, thread_ts: str, text: str, footer: str, placeholder_ts: str
) -> list[str]:
    """Post ``text`` (mrkdwn) in the thread: the first part replaces the placeholder, the rest follow as new
    messages; the footer goes at the end of the last part. Returns the ts of every part."""
    parts = split_text(text or " ", MESSAGE_LIMIT)
    parts[-1] = with_footer(parts[-1], footer)
    posted: list[str] = []
    for index, part in enumerate(parts):
        if index == 0 and placeholder_ts:
            client.chat_update(channel=channel, ts=placeholder_ts, text=part)
            posted.append(placeholder_ts)
        else:
            response = client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=part, unfurl_links=False, unfurl_media=False
            )
            posted.append(str(response["ts"]))
    return posted


def answer_text(*, text: str, status: str, error_message: str = "") -> str:
    """The final message: the answer in mrkdwn, and why it ended if it did not end well (never empty)."""
    text = to_mrkdwn(text)
    note = ""
    if error_message:
        note = escape(error_message)
    elif status == Message.Status.COMPLETION_FILTERED:
        note = gettext("The rest of the answer was withheld by the content filter.")
    elif status == Message.Status.LENGTH:
        note = gettext("The answer reached the model's length limit.")
    elif status == Message.Status.TRUNCATED:
        note = gettext("The answer was cut off.")
    elif status == Message.Status.STOPPED:
        note = gettext("The answer was stopped.")
    elif not text.strip():
        note = gettext("The model returned an empty answer.")
    if note:
        text = f"{text}\n\n:warning: {note}" if text.strip() else f":warning: {note}"
    return text


@dataclass
class SlackSink:
    client: WebClient
    channel: str
    thread_ts: str
    footer: str
    placeholder_ts: str = ""
    interval: float = UPDATE_INTERVAL
    error: str = ""
    posted: list[str] = field(default_factory=list)
    _parts: list[str] = field(default_factory=list)
    _last_update: float = 0.0
    _updating: asyncio.Task[None] | None = None

    async def started(self, start: TurnStart) -> None:
        if not self.placeholder_ts:
            try:
                self.placeholder_ts = await asyncio.to_thread(
                    post_placeholder, client=self.client, channel=self.channel, thread_ts=self.thread_ts
                )
            except SLACK_ERRORS as exc:
                self._fail(exc)
        self._last_update = time.monotonic()
        if self.placeholder_ts:
            await database_sync_to_async(message_slack_ts_record)(
                tenant_id=start.tenant_id, message_id=start.assistant_message_id, ts=self.placeholder_ts
            )

    def delta(self, start: TurnStart, offset: int, end: int, text: str) -> None:
        # Called on the engine's hot path: the HTTP update runs as its own task, one at a time.
        self._parts.append(text)
        if not self.placeholder_ts or time.monotonic() - self._last_update < self.interval:
            return
        if self._updating is not None and not self._updating.done():
            return
        self._last_update = time.monotonic()
        preview = to_mrkdwn("".join(self._parts))
        if len(preview) > MESSAGE_LIMIT:
            preview = "…" + preview[-MESSAGE_LIMIT:]
        self._updating = asyncio.get_running_loop().create_task(self._update(preview + " …"))

    async def _update(self, text: str) -> None:
        try:
            await asyncio.to_thread(self.client.chat_update, channel=self.channel, ts=self.placeholder_ts, text=text)
        except SLACK_ERRORS as exc:
            logger.warning("slack progress update failed: %s", slack_error_text(exc))  # the final post decides
        self._last_update = time.monotonic()

    async def done(self, start: TurnStart, outcome: ReplyOutcome, message_html: str) -> None:
        if self._updating is not None:
            with contextlib.suppress(Exception):
                await self._updating  # the final text must not be overwritten by a late progress update
        try:
            self.posted = await asyncio.to_thread(
                post_answer,
                client=self.client,
                channel=self.channel,
                thread_ts=self.thread_ts,
                text=answer_text(
                    text=outcome.text,
                    status=outcome.status,
                    error_message=str(outcome.error.message) if outcome.error else "",
                ),
                footer=self.footer,
                placeholder_ts=self.placeholder_ts,
            )
        except SLACK_ERRORS as exc:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        self.error = slack_error_text(exc)
        logger.warning("slack post failed in %s: %s", self.channel, self.error)
