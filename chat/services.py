"""Writes of the chat app: turns (the sync half of the chat engine) and their audit, conversations, notices."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from attachments.models import Attachment
from attachments.services import attachments_link
from audit.models import Channel
from audit.services import LLMCallRecord, audit_llm_chat, audit_record
from chat import relay
from chat.attached import (
    AttachmentRefused,
    attachment_json,
    attachment_record,
    attachments_by_message,
    attachments_choose,
    turn_contents,
)
from chat.branches import active_path
from chat.errors import error_params, error_text
from chat.events import (
    conversation_changed_on_commit,
    conversation_deleted_on_commit,
    conversation_updated_on_commit,
    folders_updated_on_commit,
)
from chat.groups import GLOBAL_GROUP, tenant_group
from chat.models import Conversation, Feedback, Folder, Message, Notice, NoticeAcknowledgement
from chat.outcome import ReplyOutcome
from chat.search import search_text_for
from chat.selectors import (
    answer_get,
    conversation_get,
    conversation_get_for_update,
    folder_get,
    folder_list,
    message_get,
)
from chat.usage import answer_usage, interrupted_usage
from llm.client import ModelSpec, ProviderKind, estimate_messages_tokens, estimate_tokens
from llm.models import Deployment, ModelVersion
from llm.selectors import ServedModel, models_served
from llm.specs import deployment_snapshot, model_spec
from ops import queue
from tenants.models import Tenant, User
from usage.limits import LimitReached, Limits, Ticket, budget_reserve, budget_settle
from usage.periods import local_day
from usage.prices import price_on
from usage.selectors import tenant_time_zone
from usage.services import usage_add

logger = logging.getLogger("officeai.chat")


# --- Chat turns ---------------------------------------------------------------------------------------------------
MAX_TEXT = 32_000
MAX_SYSTEM_PROMPT = 8_000
TITLE_LENGTH = 60


class ChatRefused(Exception):  # noqa: N818 - a refusal with a code the doors translate into their own errors
    """A turn that cannot start. ``code`` matches docs/websocket-protocol.md; ``message`` is for the person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class TurnStart:
    """Everything the engine needs to run one reply, read in the transaction that created it."""

    tenant_id: int
    user_id: int | None
    user_email: str
    conversation_id: int
    conversation_title: str
    user_message_id: int
    user_message_text: str
    assistant_message_id: int
    model_version_id: int
    model_label: str
    model_display_name: str
    spec: ModelSpec
    prompt: list[dict[str, str]]
    context_trimmed: int
    deployments: dict[int, dict[str, str]]
    speaker: str = ""
    speaker_email: str = ""
    time_zone: str = ""  # the company's: usage days and budget periods
    ticket: Ticket | None = None  # the budget reservation this answer holds
    conversation_updated_at: str = ""  # ISO, as this turn left it (chat.accepted)
    # Files in the prompt: the audit trail records this prompt (files named and hashed, not their contents) and
    # the question's files by name, type, size and hash (chat.attached).
    audit_prompt: list[dict[str, Any]] | None = None
    attachment_records: tuple[dict[str, Any], ...] = ()
    user_attachments: tuple[dict[str, Any], ...] = ()
    # An edit's question and a regenerated answer have earlier versions: the ids of all, oldest first (chat.branches).
    user_versions: tuple[int, ...] = ()
    answer_versions: tuple[int, ...] = ()
    title_wanted: bool = False  # a web conversation's first answer: once it is OK, the model names the conversation


def title_from(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1] + "…"


def storable(text: str) -> str:
    """``text`` if the database can store it: no NUL and no lone surrogate (JSON can carry both; UTF-8 cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ChatRefused(
            "bad_text", gettext("The text contains a broken character. Remove it and try again.")
        ) from None
    if "\x00" in text:
        raise ChatRefused("bad_text", gettext("The text contains a NUL character. Remove it and try again."))
    return text


def validate_text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ChatRefused("empty", gettext("Type a message first."))
    text = storable(text.strip())
    if len(text) > MAX_TEXT:
        raise ChatRefused(
            "too_long",
            gettext("The message is too long: %(n)s characters; the limit is %(max)s.")
            % {"n": f"{len(text):,}", "max": f"{MAX_TEXT:,}"},
        )
    return text


def prompt_budget(spec: ModelSpec) -> int:
    """Tokens the prompt may take: the context window less room for the answer."""
    return max(spec.context_window - spec.max_output_tokens, spec.context_window // 2)


def build_prompt(
    *, system_prompt: str, history: list[Message], spec: ModelSpec, contents: list[Any] | None = None
) -> tuple[list[dict[str, Any]], int]:
    """System prompt + the conversation, oldest turns dropped until it fits the context window (leaving room for
    the answer). ``contents``: what to send for each history message instead of its text (questions with files,
    chat.attached). Returns the messages and how many history messages were left out."""
    budget = prompt_budget(spec)
    head: list[dict[str, Any]] = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
    sent = contents if contents is not None else [m.content for m in history]
    turns: list[dict[str, Any]] = [{"role": m.role, "content": c} for m, c in zip(history, sent, strict=True)]
    trimmed = 0
    # Always keep the newest message (the question), even if it alone is over budget: the upstream then says so.
    while len(turns) > 1 and estimate_messages_tokens(head + turns) > budget:
        turns.pop(0)
        trimmed += 1
    while turns and turns[0]["role"] != "user" and len(turns) > 1:
        turns.pop(0)  # a conversation sent to the model starts with a user turn
        trimmed += 1
    return head + turns, trimmed


def _active_messages(conversation: Conversation) -> list[Message]:
    return list(conversation.messages.filter(superseded=False).defer("search_text").order_by("pk"))


def model_history(path: list[Message]) -> list[Message]:
    """What the model sees of the active path (``chat.branches``): failed and empty answers left out."""
    return [
        message
        for message in path
        if not (
            message.role == Message.Role.ASSISTANT
            and (
                message.status in (Message.Status.ERROR, Message.Status.PROMPT_FILTERED, Message.Status.STREAMING)
                or not message.content.strip()
            )
        )
    ]


def model_version_resolve(
    *, tenant: Tenant, conversation: Conversation, model_version_id: object | None
) -> ModelVersion:
    return model_resolve(tenant=tenant, conversation=conversation, model_version_id=model_version_id).version


def model_resolve(*, tenant: Tenant, conversation: Conversation, model_version_id: object | None) -> ServedModel:
    """The version a turn uses (asked for, else the conversation's, else the tenant's default) and its deployments,
    from one query. Unknown, retired, forbidden and undeployed versions are refused alike."""
    served = models_served(tenant=tenant)
    wanted = model_version_id if model_version_id not in (None, "") else conversation.model_version_id
    if wanted is not None:
        try:
            wanted_id = int(wanted)  # type: ignore[call-overload]
        except (ValueError, TypeError):
            wanted_id = None
        match = next((m for m in served if m.version.pk == wanted_id), None)
        if match is None:
            raise ChatRefused(
                "model_unavailable", gettext("That model is not available for your company. Choose another one.")
            )
        return match
    if not served:
        raise ChatRefused(
            "model_unavailable", gettext("No model is available for your company yet. Ask your administrator.")
        )
    return served[0]


def speaker_key(*, user: User | None, slack_team: str = "", slack_member: str = "") -> str:
    """Whom an answer is for (``Message.speaker``): the account when there is one, else the Slack member."""
    if user is not None:
        return f"user:{user.pk}"
    return f"slack:{slack_team}:{slack_member}" if slack_member else ""


LIMIT_FIELDS = (
    "budget__time_zone",
    "budget__monthly_tokens",
    "budget__monthly_cost",
    "budget__currency",
    "budget__user_daily_tokens",
    "budget__user_monthly_tokens",
    "budget__user_requests_per_minute",
    "budget__contact",
)
OVERRIDE_FIELDS = ("usage_limit__daily_tokens", "usage_limit__monthly_tokens", "usage_limit__requests_per_minute")


def account_check(*, tenant: Tenant, user: User | None, speaker: str = "") -> Limits:
    """Every turn, web or Slack, in one query: the person and the company are still active (a socket or a Slack
    thread can outlive a deactivation); the person has fewer answers running, web and Slack together, than their
    company allows (a Slack member with no account is counted by their Slack identity); and the company's budget
    and the person's limits, which ``usage.limits`` enforces next."""
    speaker = speaker or speaker_key(user=user)
    running = Coalesce(
        Subquery(
            Message.objects.filter(
                tenant=tenant, speaker=speaker, role=Message.Role.ASSISTANT, status=Message.Status.STREAMING
            )
            .exclude(speaker="")
            .order_by()
            .values("speaker")
            .annotate(n=Count("pk"))
            .values("n")
        ),
        0,
    )
    overrides: tuple[Any, ...] = (None, None, None)
    if user is None:  # a Slack member not linked to a user of the company
        row = (
            Tenant.objects.filter(pk=tenant.pk, is_active=True)
            .annotate(running=running)
            .values_list("max_concurrent_replies", "running", *LIMIT_FIELDS)
            .first()
        )
        if row is None:
            raise ChatRefused("account_inactive", gettext("Your company's access to Office AI has ended."))
    else:
        found = (
            User.objects.filter(pk=user.pk, tenant=tenant, is_active=True, tenant__is_active=True)
            .annotate(running=running)
            .values_list(
                "tenant__max_concurrent_replies", "running", *(f"tenant__{f}" for f in LIMIT_FIELDS), *OVERRIDE_FIELDS
            )
            .first()
        )
        if found is None:
            raise ChatRefused(
                "account_inactive", gettext("Your account or your company's access to Office AI has ended.")
            )
        row, overrides = found[: 2 + len(LIMIT_FIELDS)], found[2 + len(LIMIT_FIELDS) :]
    cap, count, tz, tokens, cost, currency, daily, monthly, rpm, contact = row
    if count >= cap:
        raise ChatRefused(
            "too_many_replies",
            ngettext(
                "You already have %(n)d answer being written. Wait for it, or stop it, then try again.",
                "You already have %(n)d answers being written. Wait for one, or stop one, then try again.",
                count,
            )
            % {"n": count},
        )
    own_daily, own_monthly, own_rpm = overrides
    return Limits(
        time_zone=tz or "",
        company_monthly_tokens=tokens,
        company_monthly_cost=cost,
        currency=currency or "",
        user_daily_tokens=own_daily if own_daily is not None else daily,
        user_monthly_tokens=own_monthly if own_monthly is not None else monthly,
        user_requests_per_minute=own_rpm if own_rpm is not None else rpm,
        contact=contact or "",
    )


def budget_check(
    *,
    tenant_id: int,
    speaker: str,
    limits: Limits,
    reply_id: int,
    prompt: list[dict[str, str]],
    spec: ModelSpec,
    model_version_id: int,
) -> Ticket | None:
    """The budgets and the per-minute limit, before the upstream call (``usage.limits``): a reservation, or the
    refusal that says what ran out, when it resets and whom to ask."""
    if not limits.enforced:
        return None
    price = None
    if limits.company_monthly_cost is not None:
        price = price_on(model_version_id=model_version_id, day=local_day(timezone.now(), limits.tz))
    try:
        return budget_reserve(
            tenant_id=tenant_id,
            speaker=speaker,
            limits=limits,
            reply_id=reply_id,
            prompt_tokens=estimate_messages_tokens(prompt),
            max_output_tokens=spec.max_output_tokens,
            price=price,
        )
    except LimitReached as wall:
        raise ChatRefused(wall.code, wall.message) from None


def turn_begin(
    *,
    tenant: Tenant,
    conversation: Conversation,
    model_version: ModelVersion,
    user_message: Message,
    user: User | None,
    history: list[Message] | None = None,
    deployments: list[Deployment],
    conversation_saved: bool = False,
    speaker: str = "",
    speaker_email: str = "",
    title_wanted: bool = False,
    attachments: list[Attachment] | None = None,
) -> TurnStart:
    """The shared second half of every turn (web, regenerate, Slack): busy check, spec, prompt, empty answer.
    ``history`` replaces the stored conversation as context (Slack: the thread as it is in Slack).
    ``conversation_saved``: the caller has just inserted the conversation as it should be (no second write).
    ``deployments``: the version's enabled deployments, primary first (``model_resolve``).
    An unsaved ``user_message`` is inserted together with the answer. ``speaker``/``speaker_email``: a Slack
    member with no account (``speaker_key``); people with an account are known by ``user``. ``title_wanted``: the
    model names the conversation once this answer is OK (``chat.titles``)."""
    speaker = speaker_key(user=user) if user is not None else speaker
    limits = account_check(tenant=tenant, user=user, speaker=speaker)
    streaming = Message.objects.filter(conversation=conversation, status=Message.Status.STREAMING)
    if not conversation_saved and streaming.exists():
        raise ChatRefused("busy", gettext("An answer is still being written in this conversation. Wait or stop it."))
    if not deployments:
        raise ChatRefused("model_unavailable", gettext("That model has no working deployment right now."))
    spec = model_spec(model_version, deployments=deployments)
    if history is None:
        # A new conversation's history is its first message: no query for it. The active path's last message is
        # what a new question follows (chat.branches).
        path = [] if conversation_saved else _active_messages(conversation)
        history = model_history(path)
        if user_message.pk is None:
            user_message.parent = path[-1] if path else None
            history.append(user_message)  # inserted below, before the answer
    current = list(attachments or [])
    if user_message.pk is None:
        user_message.attachment_count = len(current)
    contents, recorded = _contents_with_files(history, user_message, current, vision=model_version.vision)
    prompt, trimmed = build_prompt(
        system_prompt=conversation.system_prompt, history=history, spec=spec, contents=contents
    )
    audit_prompt = None
    if recorded is not None:
        audit_prompt = prompt[: len(prompt) - (len(history) - trimmed)] + [
            {"role": m.role, "content": r} for m, r in list(zip(history, recorded, strict=True))[trimmed:]
        ]
        question_tokens = estimate_messages_tokens(prompt[-1:]) if current else 0
        if question_tokens > (budget := prompt_budget(spec)):
            raise ChatRefused(
                "attachments_too_long",
                gettext(
                    "The attached files are too long for %(model)s: about %(tokens)s tokens, and it reads at most "
                    "%(max)s. Attach less, or choose a model with a larger context window."
                )
                % {"model": model_version.display_name, "tokens": f"{question_tokens:,}", "max": f"{budget:,}"},
            )
    if user_message.pk is None:
        user_message.search_text = search_text_for(user_message.content)  # what search finds (chat.search)
        user_message.save(force_insert=True)
    if current:
        attachments_link(attachments=current, message_id=user_message.pk)
    assistant = Message(
        tenant=tenant,
        conversation=conversation,
        parent=user_message,
        role=Message.Role.ASSISTANT,
        status=Message.Status.STREAMING,
        model_version=model_version,
        model_label=model_version.label,
        context_trimmed=trimmed,
        speaker=speaker,
        speaker_email=user.email if user is not None else speaker_email,
    )
    assistant.save(force_insert=True)
    # Last, with the answer's id as its reservation: a refusal rolls the rows above back with the caller's
    # transaction (and a reservation whose transaction rolled back is dropped by the reconcile).
    ticket = budget_check(
        tenant_id=tenant.pk,
        speaker=speaker,
        limits=limits,
        reply_id=assistant.pk,
        prompt=prompt,
        spec=spec,
        model_version_id=model_version.pk,
    )
    if not conversation_saved:
        conversation.model_version = model_version
        conversation.save(update_fields=["model_version", "title", "updated_at"])
    return TurnStart(
        tenant_id=tenant.pk,
        user_id=user.pk if user else None,
        user_email=user.email if user else "",
        conversation_id=conversation.pk,
        conversation_title=conversation.title,
        user_message_id=user_message.pk,
        user_message_text=user_message.content,
        assistant_message_id=assistant.pk,
        model_version_id=model_version.pk,
        model_label=model_version.label,
        model_display_name=model_version.display_name,
        spec=spec,
        prompt=prompt,
        context_trimmed=trimmed,
        deployments={d.pk: deployment_snapshot(d, model_version) for d in deployments},
        speaker=speaker,
        speaker_email=assistant.speaker_email,
        time_zone=limits.tz,
        ticket=ticket,
        conversation_updated_at=conversation.updated_at.isoformat() if conversation.updated_at else "",
        title_wanted=title_wanted,
        audit_prompt=audit_prompt,
        attachment_records=tuple(attachment_record(a) for a in current),
        user_attachments=tuple(attachment_json(a) for a in current),
    )


def _contents_with_files(
    history: list[Message], question: Message, current: list[Attachment], *, vision: bool
) -> tuple[list[Any] | None, list[str] | None]:
    """What the model is sent for each history message where files are involved, and what the trail records
    instead; (None, None) when no message has a file (no query then: ``attachment_count``)."""
    by_message = attachments_by_message(history, with_text=True)
    if not by_message and not current:
        return None, None
    sent, recorded = [], []
    for message in history:
        files = current if message is question and current else by_message.get(message.pk or 0, [])
        if files and message.role == Message.Role.USER:
            content, record = turn_contents(message.content, files, vision=vision)
        else:
            content = record = message.content
        sent.append(content)
        recorded.append(record)
    return sent, recorded


def conversation_lock(conversation: Conversation) -> Conversation:
    # One turn at a time per conversation, across processes: the row lock serialises the busy check.
    return Conversation.objects.select_for_update().get(pk=conversation.pk)


@transaction.atomic
def chat_turn_start(
    *,
    tenant: Tenant,
    user: User,
    conversation_id: object | None,
    text: object,
    model_version_id: object | None = None,
    system_prompt: object | None = None,
    attachment_ids: object | None = None,
) -> TurnStart:
    """Save the person's message (with the files chosen, ``attachment_ids``) and an empty assistant message marked
    streaming; the engine fills it."""
    text = validate_text(text)
    if conversation_id is None:
        prompt = storable(system_prompt.strip()) if isinstance(system_prompt, str) else ""
        if len(prompt) > MAX_SYSTEM_PROMPT:
            raise ChatRefused(
                "too_long",
                gettext("The system prompt is too long; the limit is %(max)s characters.")
                % {"max": f"{MAX_SYSTEM_PROMPT:,}"},
            )
        conversation = Conversation(tenant=tenant, user=user, title=title_from(text), system_prompt=prompt)
    else:
        try:
            conversation = conversation_lock(
                conversation_get(tenant=tenant, user=user, conversation_id=conversation_id)
            )
        except Http404:
            raise ChatRefused("not_found", gettext("This conversation does not exist.")) from None
    served = model_resolve(tenant=tenant, conversation=conversation, model_version_id=model_version_id)
    model_version = served.version
    try:
        files = attachments_choose(tenant=tenant, user=user, attachment_ids=attachment_ids, model_version=model_version)
    except AttachmentRefused as refused:
        raise ChatRefused(refused.code, refused.message) from None
    created = conversation.pk is None
    if created:
        conversation.model_version = model_version
        conversation.save(force_insert=True)  # one write: created with its model, nothing to update after
    # turn_begin checks that no answer is running before anything of the turn is written.
    user_message = Message(tenant=tenant, conversation=conversation, role=Message.Role.USER, content=text)
    if not conversation.title:
        conversation.title = title_from(text)
    start = turn_begin(
        tenant=tenant,
        conversation=conversation,
        model_version=model_version,
        user_message=user_message,
        user=user,
        conversation_saved=created,
        deployments=served.deployments,
        title_wanted=created and conversation.title_source == Conversation.TitleSource.FIRST_WORDS,
        attachments=files,
    )
    conversation_updated_on_commit(conversation)  # created, or moved up: every tab's sidebar
    return start


@transaction.atomic
def chat_turn_retry(
    *,
    tenant: Tenant,
    user: User,
    conversation_id: object,
    new_text: object | None = None,
    message_id: object | None = None,
    model_version_id: object | None = None,
) -> TurnStart:
    """Regenerate (``new_text`` None) the answer to the active path's last question, or edit-and-resend a question
    (``message_id``; the last one if None). Nothing is lost (``chat.branches``): an edit is a new version of the
    question under the same parent, a regenerated answer a new version under the same question; the earlier
    versions leave the active path and stay one arrow away."""
    try:
        conversation = conversation_lock(conversation_get(tenant=tenant, user=user, conversation_id=conversation_id))
    except Http404:
        raise ChatRefused("not_found", gettext("This conversation does not exist.")) from None
    if Message.objects.filter(conversation=conversation, status=Message.Status.STREAMING).exists():
        raise ChatRefused("busy", gettext("An answer is still being written in this conversation. Wait or stop it."))
    questions = conversation.messages.filter(role=Message.Role.USER)
    if message_id is None or new_text is None:
        question = questions.filter(superseded=False).order_by("pk").last()
        if question is None:
            raise ChatRefused("nothing_to_regenerate", gettext("There is no message to answer again."))
    else:
        try:
            question = questions.get(pk=int(message_id))  # type: ignore[call-overload]
        except (Message.DoesNotExist, ValueError, TypeError):
            raise ChatRefused("not_found", gettext("This message does not exist.")) from None
    if new_text is not None:
        question = Message.objects.create(
            tenant=tenant,
            conversation=conversation,
            parent_id=question.parent_id,
            role=Message.Role.USER,
            content=(text := validate_text(new_text)),
            search_text=search_text_for(text),
        )
    _activate(conversation, through=question.pk, descend=False)  # the path up to the question; the rest steps aside
    served = model_resolve(tenant=tenant, conversation=conversation, model_version_id=model_version_id)
    # The first answer failed and this one is asked for again: it may still give the conversation its title.
    title_wanted = (
        conversation.source == Conversation.Source.WEB
        and conversation.title_source == Conversation.TitleSource.FIRST_WORDS
        and not conversation.messages.filter(
            role=Message.Role.ASSISTANT, status__in=(Message.Status.OK, Message.Status.LENGTH)
        ).exists()
    )
    start = turn_begin(
        tenant=tenant,
        conversation=conversation,
        model_version=served.version,
        user_message=question,
        user=user,
        deployments=served.deployments,
        title_wanted=title_wanted,
    )
    if new_text is not None:
        siblings = conversation.messages.filter(parent_id=question.parent_id, role=Message.Role.USER)
        start = replace(start, user_versions=tuple(siblings.order_by("pk").values_list("pk", flat=True)))
    else:
        answers = conversation.messages.filter(parent_id=question.pk)
        start = replace(start, answer_versions=tuple(answers.order_by("pk").values_list("pk", flat=True)))
    conversation_updated_on_commit(conversation)  # moved up: every tab's sidebar
    return start


def _activate(conversation: Conversation, *, through: int, descend: bool) -> None:
    """Make the path through message ``through`` the active one (``chat.branches.active_path``): two UPDATEs at
    most, touching only the messages that change sides."""
    rows = list(conversation.messages.values_list("pk", "parent_id", "superseded"))
    active = set(active_path([(pk, parent) for pk, parent, _ in rows], through=through, descend=descend))
    leaving = [pk for pk, _, superseded in rows if not superseded and pk not in active]
    joining = [pk for pk, _, superseded in rows if superseded and pk in active]
    if leaving:
        Message.objects.filter(pk__in=leaving).update(superseded=True)
    if joining:
        Message.objects.filter(pk__in=joining).update(superseded=False)


@transaction.atomic
def conversation_version_show(*, tenant: Tenant, user: User, conversation_id: object, message_id: object) -> None:
    """The "< 1/2 >" arrows: show another version of a question or an answer. The path through it becomes the
    active one, with the newest version below it at each step; the model's context follows the page. Refused while
    an answer runs."""
    conversation = conversation_lock(conversation_get(tenant=tenant, user=user, conversation_id=conversation_id))
    if Message.objects.filter(conversation=conversation, status=Message.Status.STREAMING).exists():
        raise ChatRefused("busy", gettext("An answer is still being written in this conversation. Wait or stop it."))
    try:
        target = message_get(tenant=tenant, conversation=conversation, message_id=message_id)
    except Http404:
        raise ChatRefused("not_found", gettext("This message does not exist.")) from None
    _activate(conversation, through=target.pk, descend=True)
    conversation_updated_on_commit(conversation, reload=True)  # the person's other tabs show the same path


@transaction.atomic
def conversations_model_replace(*, old: ModelVersion, new: ModelVersion, tenant_ids: set[int]) -> int:
    """A retired version's conversations go on with its successor where the company may use it, elsewhere with
    the company's default (no version chosen). Their place in the sidebar (``updated_at``) does not change."""
    on_old = Conversation.objects.filter(model_version=old)
    moved = on_old.filter(tenant_id__in=tenant_ids).update(model_version=new)
    return moved + on_old.update(model_version=None)


# Looked up by name: chat.tasks imports chat.titles, which imports this module (docs/architecture.md).
TITLE_TASK = "chat.tasks.conversation_title_task"
TOUCHED_COLUMNS = ("title", "pinned", "folder_id", "source", "user_id", "title_source")


@dataclass(frozen=True)
class Touched:
    """A conversation as finishing an answer left it (``conversation_touch``)."""

    conversation_id: int
    updated_at: datetime
    title: str
    pinned: bool
    folder_id: int | None
    source: str
    user_id: int | None
    title_source: str


def conversation_touch(*, conversation_id: int, now: datetime) -> Touched | None:
    """Move the conversation up (``updated_at``) and read what its sidebar frame and its title need, in the one
    statement finalising an answer always made (``UPDATE … RETURNING``; two where the database lacks it)."""
    if connection.features.can_return_columns_from_insert:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(c) for c in TOUCHED_COLUMNS)
        # Only the quoted table and fixed column names are formatted in; both values are parameters.
        sql = (
            f"UPDATE {quote(Conversation._meta.db_table)} SET {quote('updated_at')} = %s "  # noqa: S608
            f"WHERE {quote('id')} = %s RETURNING {columns}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [connection.ops.adapt_datetimefield_value(now), conversation_id])
            row = cursor.fetchone()
    else:
        Conversation.objects.filter(pk=conversation_id).update(updated_at=now)
        row = Conversation.objects.filter(pk=conversation_id).values_list(*TOUCHED_COLUMNS).first()
    if row is None:
        return None
    title, pinned, folder_id, source, user_id, title_source = row
    return Touched(conversation_id, now, title, bool(pinned), folder_id, source, user_id, title_source)


def _answer_saved_events(*, start: TurnStart, outcome: ReplyOutcome, touched: Touched) -> None:
    """After commit: the conversation moved up in its owner's sidebars; a web conversation's first good answer
    asks the model for its title (``chat.titles``). No query: ``touched`` came back with the update."""
    in_sidebar = conversation_changed_on_commit(
        user_id=touched.user_id,
        source=touched.source,
        conversation_id=touched.conversation_id,
        title=touched.title,
        updated_at=touched.updated_at,
        pinned=touched.pinned,
        folder_id=touched.folder_id,
    )
    if not in_sidebar:
        return  # Slack threads are not in the sidebar and never get a model title
    if (
        start.title_wanted
        and outcome.status in (Message.Status.OK, Message.Status.LENGTH)
        and touched.title_source == Conversation.TitleSource.FIRST_WORDS
        and settings.CHAT_MODEL_TITLES
        and any(d.kind is not ProviderKind.FAKE for d in start.spec.deployments)  # the fake model names nothing
    ):
        queue.enqueue_on_commit(
            TITLE_TASK, start.tenant_id, start.conversation_id, start.assistant_message_id, off_thread=True
        )


@transaction.atomic
def chat_reply_finalize(
    *,
    start: TurnStart,
    outcome: ReplyOutcome,
    channel: str = Channel.WEB,
    channel_detail: dict[str, Any] | None = None,
    client: dict[str, Any] | None = None,
) -> bool:
    """Save the answer and its ``llm.chat`` audit entry in one transaction: one UPDATE for the answer (no read
    first), one for the conversation, the outbox row. Returns whether this call saved the answer."""
    now = timezone.now()
    turn, usage = answer_usage(start=start, outcome=outcome, channel=channel)
    saved = Message.objects.filter(pk=start.assistant_message_id, status=Message.Status.STREAMING).update(
        content=outcome.text,
        search_text=search_text_for(outcome.text),  # in Python, linear in the text: still the one UPDATE
        status=outcome.status,
        error_code=outcome.error.kind if outcome.error else "",
        error_params=error_params(retry_after=outcome.error.retry_after, partial=outcome.length > 0)
        if outcome.error
        else {},
        error_message=outcome.error.message if outcome.error else "",
        usage=usage,
        completed_at=outcome.completed_at,
        updated_at=now,
    )
    if not saved and Message.objects.filter(pk=start.assistant_message_id).exists():
        # The stale-reply sweep closed it (this process looked dead) and audited and counted the call already.
        logger.warning("reply %s was closed before it finished; its end is not saved", start.assistant_message_id)
        return False
    touched = conversation_touch(conversation_id=start.conversation_id, now=now)
    if touched is not None:
        _answer_saved_events(start=start, outcome=outcome, touched=touched)
    usage_add(turns=[turn])  # one upsert into the day's rollup, in this transaction
    tokens = turn.input_tokens + turn.output_tokens
    transaction.on_commit(
        lambda: budget_settle(start.ticket, tokens=tokens, micros=turn.cost_micros, currency=turn.currency),
        robust=True,
    )
    deployment = start.deployments.get(outcome.deployment_id) if outcome.deployment_id else None
    audit_llm_chat(
        record=LLMCallRecord(
            tenant_id=start.tenant_id,
            # The actor as the turn read it (id and email are all the trail keeps): no query for it.
            user=User(pk=start.user_id, email=start.user_email) if start.user_id else None,
            user_email=start.user_email,
            channel=channel,
            channel_detail=channel_detail or {},
            conversation_id=start.conversation_id,
            message_id=start.assistant_message_id,
            model_label=start.model_label,
            deployment=deployment or {"model_version": start.model_label},
            request_params=outcome.request_params,
            prompt_messages=start.audit_prompt or outcome.request_messages or start.prompt,
            attachments=list(start.attachment_records),
            response_text=outcome.text,
            finish_reason=outcome.finish_reason,
            status=outcome.audit_status,
            content_filter=outcome.filters,
            usage=outcome.usage_dict(),
            upstream_request_ids=outcome.request_ids,
            error=outcome.error_dict(),
            attempts=outcome.attempts,
            timings=outcome.timings(),
            client=client or {},
        )
    )
    return True


def message_slack_ts_record(*, tenant_id: int, message_id: int, ts: str) -> None:
    """The Slack message that shows this answer (re-posting and thread context find it by its ts)."""
    Message.objects.filter(tenant_id=tenant_id, pk=message_id).update(slack_ts=ts)


# --- Notices ------------------------------------------------------------------------------------------------------
NOTICE_TEXT_FIELDS = ("web_text_ja", "web_text_en", "slack_text_ja", "slack_text_en", "active")


def notice_save(*, notice: Notice) -> Notice:
    """Save a notice edited in the admin console; a changed text is a new version that people acknowledge again,
    and every open chat page shows it at once (websocket, after commit)."""
    if notice.pk:
        stored = Notice.objects.filter(pk=notice.pk).values(*NOTICE_TEXT_FIELDS).first() or {}
        if any(stored.get(f) != getattr(notice, f) for f in NOTICE_TEXT_FIELDS):
            notice.version += 1
    notice.save()
    transaction.on_commit(lambda: _notice_broadcast(notice.tenant_id), robust=True)
    return notice


def _notice_broadcast(tenant_id: int | None) -> None:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    group = tenant_group(tenant_id) if tenant_id else GLOBAL_GROUP
    async_to_sync(layer.group_send)(group, {"type": "notice.changed"})


@transaction.atomic
def notice_acknowledge(*, user: User, notice: Notice) -> bool:
    """Record that ``user`` read this version of the notice (once; audited). Returns False if already done."""
    _ack, created = NoticeAcknowledgement.objects.get_or_create(
        tenant_id=user.tenant_id, user=user, notice=notice, version=notice.version
    )
    if created:
        audit_record(
            event_type="notice.acknowledged",
            tenant=user.tenant_id,
            actor=user,
            channel=Channel.WEB,
            payload={
                "notice_id": notice.pk,
                "version": notice.version,
                "scope": "tenant" if notice.tenant_id else "global",
            },
        )
    return created


# --- Conversation management -------------------------------------------------------------------------------------
# Each change locks the row (``conversation_get_for_update``: the tenant and the person are checked again) and tells
# every open page of the person after commit (``chat.events``). Pinning and filing do not move a conversation up:
# ``updated_at`` is its last activity.
MAX_FOLDERS = 200
FOLDER_NAME_LENGTH = 100


def _bad_value(name: str, message: str) -> ChatRefused:
    return ChatRefused("bad_value", message % {"name": name})


@transaction.atomic
def conversation_rename(*, tenant: Tenant, user: User, conversation: Conversation, title: object) -> Conversation:
    """The person names the conversation: a model title never replaces it (``title_source`` person)."""
    if not isinstance(title, str) or not title.strip():
        raise ChatRefused("empty", gettext("Enter a title."))
    title = storable(" ".join(title.split())[:200])
    conversation = conversation_get_for_update(tenant=tenant, user=user, conversation_id=conversation.pk)
    conversation.title = title
    conversation.title_source = Conversation.TitleSource.PERSON
    conversation.save(update_fields=["title", "title_source", "updated_at"])
    conversation_updated_on_commit(conversation)
    return conversation


@transaction.atomic
def conversation_delete(*, tenant: Tenant, user: User, conversation: Conversation) -> None:
    """Deletes the conversation for its owner; the audit trail keeps every model call made in it."""
    conversation = conversation_get_for_update(tenant=tenant, user=user, conversation_id=conversation.pk)
    if Message.objects.filter(conversation=conversation, status=Message.Status.STREAMING).exists():
        raise ChatRefused("busy", gettext("Stop the running answer before deleting the conversation."))
    conversation_deleted_on_commit(conversation)
    conversation.delete()


@transaction.atomic
def conversation_pin(*, tenant: Tenant, user: User, conversation: Conversation, pinned: object) -> Conversation:
    """Pin (on top of the sidebar) or unpin a conversation."""
    if not isinstance(pinned, bool):
        raise _bad_value("pinned", gettext("“%(name)s” must be true or false."))
    conversation = conversation_get_for_update(tenant=tenant, user=user, conversation_id=conversation.pk)
    if conversation.pinned != pinned:
        conversation.pinned = pinned
        conversation.save(update_fields=["pinned"])
        conversation_updated_on_commit(conversation)
    return conversation


@transaction.atomic
def conversation_folder_set(
    *, tenant: Tenant, user: User, conversation: Conversation, folder_id: object
) -> Conversation:
    """Move a conversation into one of the person's folders, or out of any (``folder_id`` None). Another person's or
    company's folder is the same ``not_found`` as a missing one."""
    if folder_id is not None and (isinstance(folder_id, bool) or not isinstance(folder_id, int)):
        raise _bad_value("folder_id", gettext("“%(name)s” must be the id of a folder, or null."))
    folder = None
    if folder_id is not None:
        try:
            folder = folder_get(tenant=tenant, user=user, folder_id=folder_id)
        except Http404:
            raise ChatRefused("not_found", gettext("This folder does not exist.")) from None
    conversation = conversation_get_for_update(tenant=tenant, user=user, conversation_id=conversation.pk)
    if conversation.folder_id != folder_id:
        conversation.folder = folder
        conversation.save(update_fields=["folder"])
        conversation_updated_on_commit(conversation)
    return conversation


def _folder_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ChatRefused("empty", gettext("Enter a folder name."))
    name = storable(" ".join(name.split()))
    if len(name) > FOLDER_NAME_LENGTH:
        raise ChatRefused(
            "too_long",
            gettext("The folder name is too long: %(n)s characters; the limit is %(max)s.")
            % {"n": f"{len(name):,}", "max": f"{FOLDER_NAME_LENGTH:,}"},
        )
    return name


def _folder_locked(*, tenant: Tenant, user: User, folder_id: object) -> Folder:
    try:
        return folder_get(tenant=tenant, user=user, folder_id=folder_id, for_update=True)
    except Http404:
        raise ChatRefused("not_found", gettext("This folder does not exist.")) from None


def _folders_changed(*, tenant: Tenant, user: User) -> list[Folder]:
    """The person's folders after a change, in order; every open page of the person gets them after commit."""
    folders = list(folder_list(tenant=tenant, user=user))
    folders_updated_on_commit(user_id=user.pk, folders=folders)
    return folders


@transaction.atomic
def folder_create(*, tenant: Tenant, user: User, name: object) -> Folder:
    """A new folder at the end of the person's list (at most ``MAX_FOLDERS`` each)."""
    name = _folder_name(name)
    # The person's row is the lock: two tabs creating at once cannot both pass the count.
    list(User.objects.select_for_update().filter(pk=user.pk, tenant=tenant).values_list("pk", flat=True))
    positions = list(folder_list(tenant=tenant, user=user).values_list("position", flat=True))
    if len(positions) >= MAX_FOLDERS:
        raise ChatRefused(
            "too_many_folders",
            gettext("You already have %(max)s folders, the most one person can have. Delete one first.")
            % {"max": MAX_FOLDERS},
        )
    folder = Folder.objects.create(tenant=tenant, user=user, name=name, position=max(positions, default=-1) + 1)
    _folders_changed(tenant=tenant, user=user)
    return folder


@transaction.atomic
def folder_rename(*, tenant: Tenant, user: User, folder_id: object, name: object) -> Folder:
    name = _folder_name(name)
    folder = _folder_locked(tenant=tenant, user=user, folder_id=folder_id)
    if folder.name != name:
        folder.name = name
        folder.save(update_fields=["name"])
        _folders_changed(tenant=tenant, user=user)
    return folder


@transaction.atomic
def folder_delete(*, tenant: Tenant, user: User, folder_id: object) -> None:
    """Deletes the folder; its conversations stay, in no folder (pages drop the folder of a conversation whose
    folder is no longer in ``folders.updated``)."""
    folder = _folder_locked(tenant=tenant, user=user, folder_id=folder_id)
    folder.delete()  # Conversation.folder is SET_NULL
    _folders_changed(tenant=tenant, user=user)


@transaction.atomic
def folder_move(*, tenant: Tenant, user: User, folder_id: object, position: object) -> list[Folder]:
    """Put a folder at ``position`` (0 is the top; past the end is the end) and number the person's folders
    0, 1, 2… again. Returns them in their new order."""
    if isinstance(position, bool) or not isinstance(position, int):
        raise _bad_value("position", gettext("“%(name)s” must be a whole number."))
    # Every folder of the person locked, always in id order: two tabs reordering at once wait, never deadlock.
    locked = list(folder_list(tenant=tenant, user=user).order_by("pk").select_for_update())
    moved = next((f for f in locked if f.pk == folder_id and not isinstance(folder_id, bool)), None)
    if moved is None:
        raise ChatRefused("not_found", gettext("This folder does not exist."))
    folders = sorted((f for f in locked if f.pk != moved.pk), key=lambda f: (f.position, f.name, f.pk))
    folders.insert(max(0, min(position, len(folders))), moved)
    changed = []
    for index, folder in enumerate(folders):
        if folder.position != index:
            folder.position = index
            changed.append(folder)
    if changed:
        Folder.objects.bulk_update(changed, ["position"])
        folders_updated_on_commit(user_id=user.pk, folders=folders)
    return folders


@transaction.atomic
def conversation_configure(
    *, tenant: Tenant, conversation: Conversation, system_prompt: object, model_version_id: object
) -> Conversation:
    conversation = conversation_lock(conversation)
    if system_prompt is not None:
        if not isinstance(system_prompt, str) or len(system_prompt) > MAX_SYSTEM_PROMPT:
            raise ChatRefused(
                "too_long",
                gettext("The system prompt is too long; the limit is %(max)s characters.")
                % {"max": f"{MAX_SYSTEM_PROMPT:,}"},
            )
        conversation.system_prompt = storable(system_prompt.strip())
    if model_version_id not in (None, ""):
        conversation.model_version = model_version_resolve(
            tenant=tenant, conversation=conversation, model_version_id=model_version_id
        )
    conversation.save(update_fields=["system_prompt", "model_version", "updated_at"])
    conversation_updated_on_commit(conversation)  # moved up
    return conversation


# --- Recovery -----------------------------------------------------------------------------------------------------
STALE_AFTER = timedelta(minutes=3)


def _slack_detail(slack_key: str, answer: Message) -> dict[str, str]:
    """What the audit keeps of a Slack thread: the conversation's key (``workspace:channel:thread_ts``) and whom
    the answer was for (``Message.speaker``)."""
    if not slack_key:
        return {}
    workspace, _, rest = slack_key.partition(":")
    channel, _, thread_ts = rest.partition(":")
    detail = {"workspace": workspace, "channel": channel, "thread_ts": thread_ts}
    kind, _, member = answer.speaker.partition(":")
    if kind == "slack":
        detail["team_id"], _, detail["slack_user_id"] = member.partition(":")
    if answer.speaker_email:
        detail["slack_user_email"] = answer.speaker_email
    return detail


def _answer_for(answer: Message, conversation: Conversation) -> User | None:
    """The account an answer was for: its speaker, or (answers from before speakers were kept) the owner."""
    kind, _, user_id = answer.speaker.partition(":")
    if kind == "user" and user_id.isdigit():
        return User.objects.filter(pk=int(user_id), tenant_id=answer.tenant_id).first()
    return conversation.user if not answer.speaker else None


def chat_stale_replies_close(*, now: datetime | None = None) -> int:
    """Close answers whose process died mid-reply: started over STALE_AFTER ago and no heartbeat from a running
    reply (chat.relay liveness keys). Marked truncated with the text the reply buffer still holds, and audited, so
    no model call is left without its ``llm.chat`` entry."""
    cutoff = (now or timezone.now()) - STALE_AFTER
    closed = 0
    candidates = list(
        Message.objects.filter(status=Message.Status.STREAMING, updated_at__lt=cutoff).select_related("conversation")
    )
    alive = relay.alive_sync([m.pk for m in candidates])
    for message in candidates:
        if message.pk in alive:
            continue
        partial = relay.buffer_read_sync(message.pk)
        with transaction.atomic():
            locked = Message.objects.select_for_update().filter(pk=message.pk, status=Message.Status.STREAMING).first()
            if locked is None:
                continue
            if partial is not None and len(partial) > len(locked.content):
                locked.content = partial
            locked.search_text = search_text_for(locked.content)
            conversation = message.conversation
            slack = conversation.source == Conversation.Source.SLACK
            locked.status = Message.Status.TRUNCATED
            locked.error_code = "interrupted"
            locked.error_params = {"slack": slack}
            locked.error_message = error_text("interrupted", locked.error_params)
            locked.completed_at = timezone.now()
            question = (
                Message.objects.filter(conversation=conversation, role=Message.Role.USER, pk__lt=locked.pk)
                .order_by("-pk")
                .first()
            )
            prompt = [{"role": "system", "content": conversation.system_prompt}] if conversation.system_prompt else []
            if question is not None:
                prompt.append({"role": "user", "content": question.content})
            locked.conversation = conversation
            turn, locked.usage = interrupted_usage(
                answer=locked,
                channel=conversation.source,
                prompt_tokens=estimate_messages_tokens(prompt),
                completion_tokens=estimate_tokens(locked.content),
                tz=tenant_time_zone(tenant_id=locked.tenant_id),
            )
            locked.save(
                update_fields=[
                    "content",
                    "search_text",
                    "status",
                    "error_code",
                    "error_params",
                    "error_message",
                    "usage",
                    "completed_at",
                    "updated_at",
                ]
            )
            usage_add(turns=[turn])
            asker = _answer_for(locked, conversation)
            audit_llm_chat(
                record=LLMCallRecord(
                    tenant_id=locked.tenant_id,
                    user=asker,
                    user_email=asker.email if asker is not None else locked.speaker_email,
                    channel=conversation.source,
                    channel_detail=_slack_detail(conversation.slack_key, locked),
                    conversation_id=conversation.pk,
                    message_id=locked.pk,
                    model_label=locked.model_label,
                    deployment={"model_version": locked.model_label},
                    request_params={},
                    prompt_messages=prompt,  # the question at least: the exact request died with the process
                    response_text=locked.content,
                    finish_reason="interrupted",
                    status="truncated",
                    content_filter={},
                    usage=locked.usage,
                    upstream_request_ids=[],
                    error={"kind": "interrupted", "detail": "the serving process stopped mid-reply"},
                    attempts=[],
                    timings={"completed": locked.completed_at.isoformat()},
                    client={},
                )
            )
            closed += 1
    return closed


# --- Feedback -----------------------------------------------------------------------------------------------------
MAX_FEEDBACK_COMMENT = 2_000


@transaction.atomic
def feedback_save(
    *, tenant: Tenant, user: User, message_id: object, rating: object, comment: object = ""
) -> dict[str, Any]:
    """Thumbs up (1) or down (-1) on an answer, with an optional comment; 0 takes it back. Audited
    (``chat.feedback``): what people think of the answers is part of the record of what the model said."""
    answer = answer_get(tenant=tenant, user=user, message_id=message_id)
    if rating not in (1, -1, 0) or isinstance(rating, bool):
        raise ChatRefused("bad_rating", gettext("Choose thumbs up or thumbs down."))
    if not isinstance(comment, str):
        raise ChatRefused("bad_comment", gettext("The comment must be text."))
    comment = storable(comment.strip())
    if len(comment) > MAX_FEEDBACK_COMMENT:
        raise ChatRefused(
            "too_long",
            gettext("The comment is too long: %(n)s characters; the limit is %(max)s.")
            % {"n": f"{len(comment):,}", "max": f"{MAX_FEEDBACK_COMMENT:,}"},
        )
    if rating == 0:
        Feedback.objects.filter(tenant=tenant, user=user, message=answer).delete()
    else:
        Feedback.objects.update_or_create(
            tenant=tenant, user=user, message=answer, defaults={"rating": rating, "comment": comment}
        )
    audit_record(
        event_type="chat.feedback",
        tenant=tenant,
        actor=user,
        channel=Channel.WEB,
        model_label=answer.model_label,
        payload={
            "conversation_id": answer.conversation_id,
            "message_id": answer.pk,
            "rating": rating,
            "comment": comment,
        },
    )
    return {"rating": rating or None, "comment": comment if rating else ""}


def answer_title_call_record(*, tenant_id: int, answer_id: int, usage: dict[str, Any]) -> None:
    """Keep a title call's usage on the answer it titled (``chat.titles``): the rollup can be rebuilt from answers
    alone. Off the streaming path: once per conversation."""
    answer = Message.objects.select_for_update().filter(tenant_id=tenant_id, pk=answer_id).first()
    if answer is not None:
        answer.usage = {**(answer.usage or {}), "title_call": usage}
        answer.save(update_fields=["usage"])
