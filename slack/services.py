"""Writes and processing of the Slack door.

``slack_event_receive`` runs in the request: it only stores the event (deduplicated on workspace + event_id) and
hands it to Celery after commit. ``slack_event_process`` runs in the task: it reads the thread, starts a turn like
the web does (same Conversation/Message rows, same engine, same ``llm.chat`` audit entry with channel ``slack``) and
answers in the thread through ``SlackSink``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from audit.models import Channel
from chat.engine import run_reply_detached
from chat.errors import error_text
from chat.models import Conversation, Message
from chat.search import search_text_for
from chat.selectors import message_active_tail_id, notice_current
from chat.services import (
    ChatRefused,
    TurnStart,
    conversation_lock,
    model_resolve,
    speaker_key,
    title_from,
    turn_begin,
    validate_text,
)
from ops import queue
from slack.client import slack_client
from slack.context import HUMAN_SUBTYPES, Turn, slack_to_plain, strip_bot_mention, thread_turns
from slack.models import SlackEvent, SlackWorkspace
from slack.mrkdwn import escape
from slack.selectors import slack_user_get_by_email
from slack.sink import (
    SLACK_ERRORS,
    SlackSink,
    answer_text,
    placeholder_text,
    post_answer,
    post_placeholder,
    slack_error_text,
)
from tenants.models import User

logger = logging.getLogger("officeai.slack")

SUBSCRIBED_TYPES = frozenset({"app_mention", "message"})
MAX_THREAD_PAGES = 50
MAX_NAME_LOOKUPS = 30
STRANDED_AFTER = timedelta(minutes=2)


class SlackUnavailable(Exception):  # noqa: N818 - the task retries on it
    """A Slack Web API call failed (after the client's own 429/connection retries)."""


# --- Receiving (in the request) -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Receipt:
    """What the events endpoint answers Slack."""

    status: int
    body: dict[str, Any]


def event_ignore_reason(*, workspace: SlackWorkspace, event: dict[str, Any]) -> str:
    """Why an event is not a new human message for us to answer ("" if it is)."""
    kind = event.get("type")
    if kind not in SUBSCRIBED_TYPES:
        return "unsubscribed event type"
    user = event.get("user")
    if event.get("bot_id") or event.get("subtype") == "bot_message" or (user and user == workspace.bot_user_id):
        return "bot message"
    if event.get("subtype") not in (None, *HUMAN_SUBTYPES):
        return "not a new message"
    if kind == "message" and event.get("channel_type") != "im":
        return "not a direct message"
    if not all(isinstance(event.get(name), str) and event.get(name) for name in ("user", "channel", "ts")):
        return "incomplete event"
    return ""


@transaction.atomic
def slack_workspace_save(*, workspace: SlackWorkspace, acting_user: User) -> SlackWorkspace:
    """Save a company's Slack app edited in the admin console: platform operators for any company, a company's
    admins for their own only (the workspace is forced onto their company). The admin records the audit entry
    (secrets as fingerprints) in the same transaction."""
    if not acting_user.is_superuser:
        if not acting_user.is_tenant_admin:
            raise PermissionDenied("only platform operators and company admins manage Slack workspaces")
        workspace.tenant_id = acting_user.tenant_id
    workspace.save()
    return workspace


def slack_event_receive(*, workspace: SlackWorkspace, payload: object, retry_num: str | None = None) -> Receipt:
    """Answer a verified Events API request: the challenge, an ignore, or store-and-enqueue (at most once)."""
    if not isinstance(payload, dict):
        return Receipt(400, {"error": "the body is not a JSON object"})
    kind = payload.get("type")
    if kind == "url_verification":
        challenge = payload.get("challenge")
        if not isinstance(challenge, str):
            return Receipt(400, {"error": "url_verification without a challenge"})
        return Receipt(200, {"challenge": challenge})
    event = payload.get("event")
    event_id = payload.get("event_id")
    if kind != "event_callback" or not isinstance(event, dict) or not isinstance(event_id, str) or not event_id:
        return Receipt(400, {"error": "not an Events API event: expected type event_callback with event and event_id"})
    if payload.get("team_id") != workspace.team_id or payload.get("api_app_id") != workspace.app_id:
        logger.warning(
            "slack event for workspace %s has team %r / app %r, configured %r / %r: refused",
            workspace.slug,
            payload.get("team_id"),
            payload.get("api_app_id"),
            workspace.team_id,
            workspace.app_id,
        )
        return Receipt(401, {"error": "invalid request"})
    reason = event_ignore_reason(workspace=workspace, event=event)
    if reason:
        return Receipt(200, {"ok": True, "ignored": reason})
    created = slack_event_store(workspace=workspace, event_id=event_id, event=event)
    if not created:
        logger.info("slack event %s:%s again (retry %s): already stored", workspace.slug, event_id, retry_num)
        return Receipt(200, {"ok": True, "duplicate": True})
    return Receipt(200, {"ok": True})


PROCESS_TASK = "slack.tasks.slack_event_process_task"


def task_time_limits() -> tuple[int, int]:
    """The Slack task's soft and hard Celery time limits: above the reply's own budget (SLACK_REPLY_BUDGET), with
    room to read the thread before and post the answer after, so the reply always ends by itself first."""
    soft = int(settings.SLACK_REPLY_BUDGET) + 120
    return soft, soft + 60


def event_enqueue(event_pk: int) -> None:
    """Queue the event for ``slack.tasks`` once the row is committed. The task is looked up by name: the task module
    imports this one, so this one does not import it back (docs/architecture.md)."""
    queue.enqueue_on_commit(PROCESS_TASK, event_pk)  # not queued: the stranded-event sweep sends it again


@transaction.atomic
def slack_event_store(*, workspace: SlackWorkspace, event_id: str, event: dict[str, Any]) -> bool:
    """Store the event once and enqueue it after commit; False if this event_id was already stored."""
    row, created = SlackEvent.objects.get_or_create(
        workspace=workspace,
        event_id=event_id,
        defaults={"tenant_id": workspace.tenant_id, "event_type": str(event.get("type")), "payload": event},
    )
    if created:
        event_enqueue(row.pk)
    return created


# --- Processing (in the task) -------------------------------------------------------------------------------------
def slack_key(*, workspace: SlackWorkspace, channel: str, thread_ts: str) -> str:
    return f"{workspace.slug}:{channel}:{thread_ts}"


def shares_files(event: dict[str, Any]) -> bool:
    return isinstance(event.get("files"), list) and bool(event["files"])


def files_notice(*, workspace: SlackWorkspace) -> str:
    """The answer to files shared in Slack: they are not read here, and where they belong (the web UI)."""
    with translation.override(workspace.notice_language):
        text = gettext(
            "Files shared in Slack are not read. Confidential material belongs in the web version of Office AI: "
            "attach the file there, with your question."
        )
        if settings.OFFICE_AI_URL:
            text += f"\n<{settings.OFFICE_AI_URL}|{gettext('Open Office AI')}>"
    return text


def slack_footer(*, workspace: SlackWorkspace) -> str:
    """The tenant's Slack notice in the workspace's language (or the built-in one), with the search tip."""
    notice = notice_current(tenant=workspace.tenant)
    text = notice.slack_text(workspace.notice_language).strip() if notice else ""
    with translation.override(workspace.notice_language):
        if not text:
            text = gettext(
                "Confidential information belongs in the web version of Office AI, not in Slack. Do not paste it here."
            )
        if "-from:" not in text:
            tip = gettext("Tip: add %(filter)s to a Slack search to hide this bot's messages.") % {
                "filter": f"`-from:@{workspace.bot_name or 'officeai'}`"
            }
            text = f"{text}\n{tip}"
    return text


@dataclass(frozen=True)
class SlackPerson:
    user_id: str
    name: str
    email: str


class People:
    """users.info, once per person per event. Names are cosmetic (errors give the id); the speaker's email is not."""

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._known: dict[str, SlackPerson] = {}

    def get(self, user_id: str, *, strict: bool = False) -> SlackPerson:
        if user_id in self._known:
            return self._known[user_id]
        if not strict and len(self._known) >= MAX_NAME_LOOKUPS:
            return SlackPerson(user_id, user_id, "")
        try:
            data = self.client.users_info(user=user_id).get("user") or {}
        except SlackApiError as exc:
            if strict and exc.response.get("error") not in ("user_not_found", "missing_scope"):
                raise
            data = {}
        except SLACK_ERRORS:
            if strict:
                raise
            data = {}
        profile = data.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or data.get("name") or user_id
        person = SlackPerson(user_id, str(name), str(profile.get("email") or "").lower())
        self._known[user_id] = person
        return person

    def name_of(self, user_id: str) -> str:
        return self.get(user_id).name


def thread_messages(*, client: WebClient, channel: str, thread_ts: str) -> list[dict[str, Any]]:
    """Every message of the thread, parent first, following ``response_metadata.next_cursor``."""
    messages: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_THREAD_PAGES):
        response = client.conversations_replies(channel=channel, ts=thread_ts, cursor=cursor, limit=200)
        messages.extend(response.get("messages") or [])
        cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            break
    return messages


@transaction.atomic
def slack_turn_start(
    *,
    workspace: SlackWorkspace,
    event: SlackEvent,
    channel: str,
    thread_ts: str,
    message_ts: str,
    user: User | None,
    user_email: str,
    slack_member: str,
    text: str,
    turns: list[Turn],
) -> TurnStart:
    """Like the web's ``chat_turn_start``, for a Slack thread: the thread's Conversation (made on the first
    mention), the person's message, an empty streaming answer; the prompt is the thread, trimmed to the model."""
    tenant = workspace.tenant
    conversation, _created = Conversation.objects.get_or_create(
        tenant=tenant,
        slack_key=slack_key(workspace=workspace, channel=channel, thread_ts=thread_ts),
        defaults={"source": Conversation.Source.SLACK, "user": user, "title": title_from(text)},
    )
    conversation = conversation_lock(conversation)
    served = model_resolve(tenant=tenant, conversation=conversation, model_version_id=workspace.model_version_id)
    user_message = Message.objects.create(
        tenant=tenant,
        conversation=conversation,
        parent_id=message_active_tail_id(tenant=tenant, conversation=conversation),
        role=Message.Role.USER,
        content=text,
        search_text=search_text_for(text),
        slack_ts=message_ts,
    )
    # The thread, not the stored history, is the context (other people's messages, the bot's replies as posted).
    start = turn_begin(
        tenant=tenant,
        conversation=conversation,
        model_version=served.version,
        user_message=user_message,
        user=user,
        history=[Message(role=turn.role, content=turn.content) for turn in turns],
        deployments=served.deployments,
        speaker=speaker_key(user=user, slack_team=workspace.team_id, slack_member=slack_member),
        speaker_email=user_email,
    )
    SlackEvent.objects.filter(pk=event.pk).update(reply_message_id=start.assistant_message_id)
    return replace(start, user_email=start.user_email or user_email)


def _claim(*, event_pk: int) -> SlackEvent | None:
    with transaction.atomic():
        event = (
            SlackEvent.objects.select_for_update()
            .filter(pk=event_pk, status=SlackEvent.Status.QUEUED)
            .select_related("workspace", "workspace__tenant")
            .first()
        )
        if event is None:
            return None  # done, failed or being processed elsewhere: at most once
        event.status = SlackEvent.Status.PROCESSING
        event.attempts += 1
        event.save(update_fields=["status", "attempts", "updated_at"])
        return event


def _set_status(*, event_pk: int, status: str, error: str = "") -> None:
    SlackEvent.objects.filter(pk=event_pk).update(status=status, error=error, updated_at=timezone.now())


def slack_event_process(*, event_pk: int) -> str:
    """Answer one stored event. Slack failures before the model is called release the event for the task's retry
    (``SlackUnavailable``); the model is called at most once per event."""
    event = _claim(event_pk=event_pk)
    if event is None:
        return "skipped"
    workspace = event.workspace
    try:
        with translation.override(workspace.notice_language):
            return _process(event=event, workspace=workspace)
    except SLACK_ERRORS as exc:
        error = slack_error_text(exc)
        _set_status(event_pk=event_pk, status=SlackEvent.Status.QUEUED, error=error)
        logger.warning("slack event %s: %s; will retry", event.event_id, error)
        raise SlackUnavailable(error) from exc
    except Exception as exc:
        _set_status(event_pk=event_pk, status=SlackEvent.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
        raise


def _process(*, event: SlackEvent, workspace: SlackWorkspace) -> str:
    data = event.payload
    channel, ts, slack_user_id = str(data["channel"]), str(data["ts"]), str(data["user"])
    thread_ts = str(data.get("thread_ts") or ts)
    direct = data.get("channel_type") == "im"
    client = slack_client(token=workspace.bot_token)
    footer = slack_footer(workspace=workspace)

    if event.reply_message_id:  # answered before, only posting failed: post the saved answer, no model call
        return _redeliver(event=event, client=client, channel=channel, thread_ts=thread_ts, footer=footer)

    if shares_files(data):
        # Slack stays text-only: the files are not read, and the person is told where they belong.
        client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=files_notice(workspace=workspace))
        if not strip_bot_mention(str(data.get("text") or ""), bot_user_id=workspace.bot_user_id).strip():
            _set_status(event_pk=event.pk, status=SlackEvent.Status.DONE)
            return "files"

    people = People(client)
    speaker = people.get(slack_user_id, strict=True)
    user = slack_user_get_by_email(tenant=workspace.tenant, email=speaker.email)
    bot = workspace.bot_user_id
    try:
        text = validate_text(
            slack_to_plain(strip_bot_mention(str(data.get("text") or ""), bot_user_id=bot), name_of=people.name_of)
        )
    except ChatRefused as refusal:
        return _refuse(event=event, client=client, channel=channel, thread_ts=thread_ts, footer=footer, refusal=refusal)

    messages = thread_messages(client=client, channel=channel, thread_ts=thread_ts) if data.get("thread_ts") else []
    turns = thread_turns(
        messages=messages,
        current=data,
        bot_user_id=bot,
        bot_id=workspace.bot_id,
        direct=direct,
        include_others=workspace.include_thread_context,
        placeholder=placeholder_text(),
        name_of=people.name_of,
    )
    placeholder_ts = post_placeholder(client=client, channel=channel, thread_ts=thread_ts)
    try:
        start = slack_turn_start(
            workspace=workspace,
            event=event,
            channel=channel,
            thread_ts=thread_ts,
            message_ts=ts,
            user=user,
            user_email=speaker.email,
            slack_member=slack_user_id,
            text=text,
            turns=turns,
        )
    except ChatRefused as refusal:
        return _refuse(
            event=event,
            client=client,
            channel=channel,
            thread_ts=thread_ts,
            footer=footer,
            refusal=refusal,
            placeholder_ts=placeholder_ts,
        )
    sink = SlackSink(client=client, channel=channel, thread_ts=thread_ts, footer=footer, placeholder_ts=placeholder_ts)
    detail = {
        "workspace": workspace.slug,
        "team_id": workspace.team_id,
        "channel": channel,
        "thread_ts": thread_ts,
        "slack_user_id": slack_user_id,
        "slack_user_email": speaker.email,
    }
    async_to_sync(run_reply_detached)(
        start, sink, channel=Channel.SLACK, channel_detail=detail, client={}, deadline=settings.SLACK_REPLY_BUDGET
    )
    if sink.error:
        # The answer is saved and audited; only Slack did not take it. slack_reprocess posts it again.
        _set_status(event_pk=event.pk, status=SlackEvent.Status.FAILED, error=sink.error)
        logger.error("slack event %s answered but not delivered: %s", event.event_id, sink.error)
        return "failed"
    _set_status(event_pk=event.pk, status=SlackEvent.Status.DONE)
    return "done"


def _refuse(
    *,
    event: SlackEvent,
    client: WebClient,
    channel: str,
    thread_ts: str,
    footer: str,
    refusal: ChatRefused,
    placeholder_ts: str = "",
) -> str:
    """A turn that cannot start (too long, busy, no model) is a clear reply in the thread, never silence."""
    text = f":warning: {escape(str(refusal.message))}"
    post_answer(
        client=client, channel=channel, thread_ts=thread_ts, text=text, footer=footer, placeholder_ts=placeholder_ts
    )
    _set_status(event_pk=event.pk, status=SlackEvent.Status.DONE, error=f"refused: {refusal.code}")
    return "refused"


def _redeliver(*, event: SlackEvent, client: WebClient, channel: str, thread_ts: str, footer: str) -> str:
    message = Message.objects.filter(tenant=event.tenant_id, pk=event.reply_message_id or 0).first()
    if message is None or message.status == Message.Status.STREAMING:
        _set_status(event_pk=event.pk, status=SlackEvent.Status.FAILED, error="the saved answer is not available")
        return "failed"
    error = error_text(message.error_code, message.error_params, message.error_message)
    text = answer_text(text=message.content, status=message.status, error_message=error)
    post_answer(
        client=client, channel=channel, thread_ts=thread_ts, text=text, footer=footer, placeholder_ts=message.slack_ts
    )
    _set_status(event_pk=event.pk, status=SlackEvent.Status.DONE)
    return "redelivered"


@transaction.atomic
def slack_event_fail(*, event_pk: int, error: str) -> None:
    """Retries exhausted: keep the event, with its error, for ``slack_reprocess``."""
    logger.error("slack event id=%s failed for good: %s", event_pk, error)
    _set_status(event_pk=event_pk, status=SlackEvent.Status.FAILED, error=error)


def slack_event_requeue(*, event_pks: list[int]) -> int:
    """Failed (or stranded queued) events back to the queue; each is still processed at most once at a time."""
    done = 0
    for pk in event_pks:
        with transaction.atomic():
            updated = SlackEvent.objects.filter(
                pk=pk, status__in=(SlackEvent.Status.FAILED, SlackEvent.Status.QUEUED)
            ).update(status=SlackEvent.Status.QUEUED, updated_at=timezone.now())
            if updated:
                event_enqueue(pk)
                done += 1
    return done


def slack_stranded_requeue(*, now: datetime | None = None) -> int:
    """The beat sweep's safety net. Queued events whose enqueue was lost (broker down at commit) are sent again.
    Events left in PROCESSING by a worker that died (hard time limit, OOM, a kill) past the task's hard limit go back
    to the queue: a saved answer is re-posted, the model is not called twice for it."""
    now = now or timezone.now()
    stuck_cutoff = now - timedelta(seconds=task_time_limits()[1] + 60)
    stuck = list(
        SlackEvent.objects.filter(status=SlackEvent.Status.PROCESSING, updated_at__lt=stuck_cutoff).values_list(
            "pk", flat=True
        )
    )
    if stuck:
        SlackEvent.objects.filter(pk__in=stuck, status=SlackEvent.Status.PROCESSING).update(
            status=SlackEvent.Status.QUEUED, updated_at=now
        )
        logger.warning("slack events %s were stuck in processing: queued again", stuck)
    queued = SlackEvent.objects.filter(status=SlackEvent.Status.QUEUED, updated_at__lt=now - STRANDED_AFTER)
    pks = [*queued.values_list("pk", flat=True), *stuck]
    return slack_event_requeue(event_pks=pks)
