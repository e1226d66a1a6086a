"""Titles summarised by the model: after the first good answer of a web conversation, the same model version names
the conversation in a few words, in the language of the question.

Queued by ``chat_reply_finalize`` (``TITLE_TASK``, after commit); the Celery task runs ``conversation_title_make``:

1. read (``title_subject``): nothing happens unless the title is still the first words of the question, the
   conversation is a web one, and the person and their company are active;
2. one small non-streamed call, outside any transaction, bounded by ``CHAT_TITLE_TIMEOUT``;
3. one transaction: the call's ``llm.chat`` audit entry (``channel_detail.purpose`` = ``title``) and its usage, and
   the title (``title_source`` model) unless the person renamed the conversation meanwhile, then
   ``conversation.updated`` to every open page of the person after commit.

Any failure (timeout, upstream error, empty answer) keeps the first words; it is logged and audited, never shown.
The budget is not reserved for so small a call; it is counted in the usage rollup like any answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.http import Http404

from audit.models import Channel
from audit.services import LLMCallRecord, audit_llm_chat
from chat.events import conversation_updated_on_commit
from chat.models import Conversation
from chat.outcome import ReplyOutcome
from chat.selectors import TitleSubject, conversation_get_for_update, title_subject
from chat.services import ChatRefused, answer_title_call_record, speaker_key, storable, title_from
from chat.usage import answer_usage
from llm.client import ChatParams, ModelSpec, aclose_clients, stream_chat
from llm.client import errors as llm_errors
from llm.selectors import models_served
from llm.specs import deployment_snapshot, model_spec
from tenants.models import Tenant, User
from usage.selectors import tenant_time_zone
from usage.services import usage_add

logger = logging.getLogger("officeai.chat")

TITLE_MAX_TOKENS = 60  # a title of up to ~60 characters, Japanese included
TITLE_REASONING_TOKENS = 1_000  # reasoning models spend their limit thinking first: room for a short thought
QUESTION_CHARS = 2_000  # of the question sent to the model (its gist is at the start)
ANSWER_CHARS = 600  # of the answer: what the conversation turned out to be about
INSTRUCTIONS = (
    "You name chat conversations. Reply with a title for the conversation below and nothing else: at most 60 "
    "characters, one line, no quotation marks, no full stop at the end. Write it in the language of the "
    "person's question. Do not answer the question."
)
QUOTES = "\"'\u201c\u201d\u2018\u2019「」『』«»`*#"  # quotation marks a model may wrap a title in


@dataclass(frozen=True)
class TitleJob:
    """One title call: what it is about and what serves it (and, as ``chat.usage.Turn``, what the rollup reads)."""

    tenant: Tenant
    user: User
    tenant_id: int
    conversation_id: int
    speaker: str
    speaker_email: str
    model_label: str
    model_version_id: int
    time_zone: str
    deployments: dict[int, dict[str, str]]
    spec: ModelSpec
    prompt: list[dict[str, str]]
    params: ChatParams


def title_prompt(*, question: str, answer: str) -> list[dict[str, str]]:
    """Instructions as a system message (``llm.client.request`` sends it as the model takes it: system, developer,
    or folded into the question), then the conversation so far, shortened."""
    text = f"Question:\n{question[:QUESTION_CHARS]}"
    if answer.strip():
        text += f"\n\nStart of the answer:\n{answer[:ANSWER_CHARS]}"
    return [{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": text}]


def title_clean(text: str) -> str:
    """The model's answer as a title: its first non-empty line, without quotes, a "Title:" label or a full stop,
    at most ``TITLE_LENGTH`` characters. Empty when nothing usable is left."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    label, colon, rest = line.partition(":")
    if colon and label.strip().lower() in ("title", "タイトル", "件名"):
        line = rest
    tidy = ""
    while tidy != line:  # 「…」。 and "…." alike: quotes and full stops, outside in
        tidy, line = line, line.strip().strip(QUOTES).rstrip("。.")
    try:
        return title_from(storable(line)) if line else ""
    except ChatRefused:  # a NUL or a lone surrogate: keep the first words
        return ""


def _bounded(spec: ModelSpec, seconds: float) -> ModelSpec:
    """The spec for the title call: one non-streamed request per deployment, every timeout capped at ``seconds``."""
    deployments = tuple(
        dataclasses.replace(
            d,
            connect_timeout=min(d.connect_timeout, seconds),
            first_token_timeout=min(d.first_token_timeout, seconds),
            total_timeout=min(d.total_timeout, seconds),
        )
        for d in spec.deployments
    )
    return dataclasses.replace(spec, streaming=False, deployments=deployments)


def title_job(*, subject: TitleSubject) -> TitleJob | None:
    """The call for ``subject`` with the model version of its answer, if the company may still use it."""
    conversation = subject.conversation
    user = conversation.user
    assert user is not None  # title_subject reads only conversations of an active person
    served = next(
        (m for m in models_served(tenant=conversation.tenant) if m.version.pk == subject.model_version_id), None
    )
    if served is None or not served.deployments:
        logger.info("title of conversation %s: its model is no longer available", conversation.pk)
        return None
    version = served.version
    spec = _bounded(model_spec(version, deployments=served.deployments), settings.CHAT_TITLE_TIMEOUT)
    if spec.reasoning_efforts:
        effort = next((e for e in ("minimal", "low") if e in spec.reasoning_efforts), spec.reasoning_efforts[0])
        params = ChatParams(max_output_tokens=TITLE_REASONING_TOKENS, reasoning_effort=effort, user=str(user.pk))
    else:
        params = ChatParams(max_output_tokens=TITLE_MAX_TOKENS, temperature=0.2, user=str(user.pk))
    return TitleJob(
        tenant=conversation.tenant,
        user=user,
        tenant_id=conversation.tenant_id,
        conversation_id=conversation.pk,
        speaker=speaker_key(user=user),
        speaker_email=user.email,
        model_label=version.label,
        model_version_id=version.pk,
        time_zone=tenant_time_zone(tenant_id=conversation.tenant_id),
        deployments={d.pk: deployment_snapshot(d, version) for d in served.deployments},
        spec=spec,
        prompt=title_prompt(question=subject.question, answer=subject.answer),
        params=params,
    )


async def title_call(job: TitleJob) -> ReplyOutcome:
    """The model's answer, however the call ends (the outcome then holds the error). Its own event loop's clients
    are closed before it returns."""
    outcome = ReplyOutcome()
    try:
        async with asyncio.timeout(settings.CHAT_TITLE_TIMEOUT):
            async with contextlib.aclosing(stream_chat(job.spec, job.prompt, job.params)) as events:
                async for event in events:
                    outcome.apply(event)
    except TimeoutError:
        detail = f"no title within {settings.CHAT_TITLE_TIMEOUT:g} s"
        outcome.apply(llm_errors.make_error(llm_errors.TIMEOUT, detail=detail, partial=outcome.length > 0))
    except Exception as exc:  # the client layer turns upstream faults into events: this is a fault of ours
        logger.exception("title of conversation %s: the call failed", job.conversation_id)
        outcome.apply(llm_errors.make_error(llm_errors.STREAM_ERROR, detail=f"{type(exc).__name__}: {exc}"))
    finally:
        await aclose_clients()
    if not outcome.finished:
        outcome.finish("error" if not outcome.length else "truncated")
    return outcome


@transaction.atomic
def conversation_title_record(*, job: TitleJob, outcome: ReplyOutcome, answer_id: int | None = None) -> str:
    """Audit and count the title call, and name the conversation with its answer unless the person renamed it
    meanwhile (or it was deleted). Returns the title set, or "" (the first words stay). The call's usage is also
    kept on the answer it titled (``usage.title_call``), so ``usage_rebuild`` counts it as the live rollup did."""
    turn, usage = answer_usage(start=job, outcome=outcome, channel=Channel.WEB)
    usage_add(turns=[turn])
    if answer_id is not None:
        answer_title_call_record(tenant_id=job.tenant_id, answer_id=answer_id, usage=usage)
    audit_llm_chat(
        record=LLMCallRecord(
            tenant_id=job.tenant_id,
            user=job.user,
            user_email=job.user.email,
            channel=Channel.WEB,
            channel_detail={"purpose": "title"},
            conversation_id=job.conversation_id,
            message_id=None,
            model_label=job.model_label,
            deployment=job.deployments.get(outcome.deployment_id or 0) or {"model_version": job.model_label},
            request_params=outcome.request_params,
            prompt_messages=outcome.request_messages or job.prompt,
            response_text=outcome.text,
            finish_reason=outcome.finish_reason,
            status=outcome.audit_status,
            content_filter=outcome.filters,
            usage=usage,
            upstream_request_ids=outcome.request_ids,
            error=outcome.error_dict(),
            attempts=outcome.attempts,
            timings=outcome.timings(),
            client={},
        )
    )
    title = title_clean(outcome.text) if outcome.status in ("ok", "length") else ""
    if not title:
        logger.info("title of conversation %s: none from the model (%s)", job.conversation_id, outcome.status)
        return ""
    try:
        conversation = conversation_get_for_update(
            tenant=job.tenant, user=job.user, conversation_id=job.conversation_id
        )
    except Http404:  # deleted meanwhile
        return ""
    if conversation.title_source != Conversation.TitleSource.FIRST_WORDS:
        return ""  # the person named it meanwhile: theirs stays
    conversation.title = title
    conversation.title_source = Conversation.TitleSource.MODEL
    conversation.save(update_fields=["title", "title_source"])  # a title is not activity: updated_at stays
    conversation_updated_on_commit(conversation)
    return title


def conversation_title_make(*, tenant_id: int, conversation_id: int, answer_id: int) -> str:
    """The title task's body. Never raises: whatever fails, the first words stay (logged)."""
    try:
        subject = title_subject(tenant_id=tenant_id, conversation_id=conversation_id, answer_id=answer_id)
        job = title_job(subject=subject) if subject is not None else None
        if job is None:
            return ""
        outcome = asyncio.run(title_call(job))  # a loop of its own, whichever thread this runs on
        return conversation_title_record(job=job, outcome=outcome, answer_id=answer_id)
    except Exception:
        logger.exception("title of conversation %s failed; the first words stay", conversation_id)
        return ""
