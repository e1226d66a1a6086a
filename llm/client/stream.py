"""``stream_chat``: the one function that streams a reply, whichever provider serves the model version.

Guards against Azure's real stream shapes (azure-wire.md A3/A5): the first chunk has empty ``choices`` and only
``prompt_filter_results``; annotation chunks have a choice without ``delta``; ``finish_reason: content_filter`` may
end an answer midway; the usage chunk has empty ``choices``; and a stream that closes without ``[DONE]`` ends
silently in the openai library, so a missing ``finish_reason`` is what marks it truncated.

Consumers should iterate inside ``contextlib.aclosing(stream_chat(...))`` (or run it in a task they cancel): closing
or cancelling the generator leaves the ``async with`` around the upstream stream, which closes the HTTP response.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from llm.client import errors
from llm.client.clients import client_for
from llm.client.fake import fake_answer, fake_delay, fake_words
from llm.client.request import PreparedRequest, build_request
from llm.client.tokens import estimate_messages_tokens, estimate_tokens
from llm.client.types import (
    Attempt,
    ChatParams,
    DeploymentSpec,
    Error,
    FilterAnnotation,
    Finish,
    LLMEvent,
    ModelSpec,
    ProviderKind,
    RequestInfo,
    TextDelta,
    Usage,
)

logger = logging.getLogger(__name__)


@dataclass
class _AttemptState:
    """What one attempt learned; the attempt's generator fills it, ``stream_chat`` decides what happens next."""

    deployment: DeploymentSpec
    started_at: datetime
    start: float  # loop.time()
    messages: list[dict[str, Any]] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)
    first_token: float | None = None
    finish_reason: str | None = None
    usage: Any = None  # what the upstream reported: openai CompletionUsage, or the chunk's raw JSON object
    request_id: str | None = None
    error: Error | None = None

    @property
    def text_sent(self) -> bool:
        return bool(self.pieces)

    def attempt(self, outcome: Literal["ok", "failed_over", "error"], end: float) -> Attempt:
        deployment = self.deployment
        error = self.error
        return Attempt(
            deployment_id=deployment.id,
            deployment_label=deployment.label,
            endpoint_host=deployment.host,
            kind=deployment.kind.value,
            api_version=deployment.api_version if deployment.kind is ProviderKind.AZURE_DATED else "",
            deployment_name=deployment.deployment_name,
            outcome=outcome,
            error_kind=error.kind if error else None,
            status_code=error.status_code if error else None,
            request_id=self.request_id or (error.request_id if error else None),
            started_at=self.started_at,
            first_token_ms=None if self.first_token is None else (self.first_token - self.start) * 1000,
            duration_ms=(end - self.start) * 1000,
        )

    def usage_event(self) -> Usage:
        usage = self.usage
        if usage is not None:
            details = _field(usage, "completion_tokens_details")
            reasoning = _field(details, "reasoning_tokens") if details is not None else None
            prompt_details = _field(usage, "prompt_tokens_details")
            cached = _field(prompt_details, "cached_tokens") if prompt_details is not None else None
            return Usage(
                prompt_tokens=_field(usage, "prompt_tokens") or 0,
                completion_tokens=_field(usage, "completion_tokens") or 0,
                total_tokens=_field(usage, "total_tokens") or 0,
                reasoning_tokens=reasoning,
                estimated=False,
                cached_tokens=cached,
            )
        prompt = estimate_messages_tokens(self.messages)
        completion = estimate_tokens("".join(self.pieces))
        return Usage(prompt, completion, prompt + completion, None, estimated=True)


def _field(value: Any, name: str) -> Any:
    """A field of an openai model (non-streamed answers) or of a raw JSON object (streamed chunks)."""
    return value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)


def _finish(reason: str) -> Finish:
    if reason == "content_filter":
        return Finish(reason, "completion_filtered")
    if reason == "length":
        return Finish(reason, "length")
    return Finish(reason, "ok")


async def stream_chat(
    model: ModelSpec, messages: Sequence[Mapping[str, Any]], params: ChatParams
) -> AsyncGenerator[LLMEvent, None]:
    """Stream a reply for ``messages`` from ``model``, failing over between its deployments before the first token.

    See llm.client.types for the order of events; the last event is always a ``Finish`` or an ``Error``.
    """
    deployments = model.deployments
    if not deployments:
        yield errors.make_error(errors.DEPLOYMENT_NOT_FOUND, detail=f"model version {model.label!r} has no deployment")
        return
    loop = asyncio.get_running_loop()
    failures: list[str] = []
    for index, deployment in enumerate(deployments):
        state = _AttemptState(deployment=deployment, started_at=datetime.now(UTC), start=loop.time())
        attempt = _fake_attempt if deployment.kind is ProviderKind.FAKE else _http_attempt
        # aclosing: if our consumer closes us at a ``yield``, close the attempt (and its HTTP response) right
        # away, rather than whenever the async-generator finaliser gets to it.
        async with contextlib.aclosing(attempt(model, deployment, messages, params, state)) as events:
            async for event in events:
                yield event
        end = loop.time()
        error = state.error
        if error is None:
            yield state.attempt("ok", end)
            yield state.usage_event()
            yield _finish(state.finish_reason or "stop")
            return
        failures.append(f"{deployment.label}: {error.kind}: {error.detail}")
        is_last = index == len(deployments) - 1
        if error.kind in errors.FAILOVER_KINDS and not state.text_sent and not is_last:
            logger.info("LLM failover from %s (%s)", deployment.label, error.kind)
            yield state.attempt("failed_over", end)
            continue
        yield state.attempt("error", end)
        if state.text_sent:
            yield error
            yield state.usage_event()
            yield Finish("truncated", "truncated")
        elif index > 0 and error.kind in errors.FAILOVER_KINDS:
            # Every deployment failed in a way worth retrying later: say so, once, with the last failure's kind.
            yield Error(
                kind=error.kind,
                message=errors.translate(errors.MSG_ALL_FAILED),
                retryable=True,
                status_code=error.status_code,
                code=error.code,
                retry_after=error.retry_after,
                request_id=error.request_id,
                detail="; ".join(failures),
            )
        else:
            yield error
        return


# Attempts ----------------------------------------------------------------------------------------------------------


def _request_info(request: PreparedRequest) -> RequestInfo:
    return RequestInfo(params=dict(request.params), messages=[dict(m) for m in request.messages])


async def _fake_attempt(
    model: ModelSpec,
    deployment: DeploymentSpec,
    messages: Sequence[Mapping[str, Any]],
    params: ChatParams,
    state: _AttemptState,
) -> AsyncGenerator[LLMEvent, None]:
    request = build_request(model, deployment, messages, params)
    state.messages = request.messages
    yield _request_info(request)
    delay = fake_delay(deployment.endpoint)
    loop = asyncio.get_running_loop()
    for word in fake_words(fake_answer(request.messages)):
        if delay:
            await asyncio.sleep(delay)
        if state.first_token is None:
            state.first_token = loop.time()
        state.pieces.append(word)
        yield TextDelta(word)
    state.finish_reason = "stop"


async def _http_attempt(
    model: ModelSpec,
    deployment: DeploymentSpec,
    messages: Sequence[Mapping[str, Any]],
    params: ChatParams,
    state: _AttemptState,
) -> AsyncGenerator[LLMEvent, None]:
    request = build_request(model, deployment, messages, params)
    state.messages = request.messages
    yield _request_info(request)
    key = deployment.api_key
    # The openai overloads cannot be matched against a built kwargs dict; the request builder is the contract.
    create: Any = client_for(deployment).chat.completions.create
    loop = asyncio.get_running_loop()
    total_deadline = state.start + deployment.total_timeout

    if not request.stream:
        # The whole answer arrives at once (models that cannot stream), so only the total timeout applies.
        try:
            async with asyncio.timeout_at(total_deadline):
                completion = await create(**request.kwargs())
        except TimeoutError:
            state.error = errors.make_error(
                errors.TIMEOUT, detail=f"no answer within {deployment.total_timeout:g} s (non-streamed)"
            )
            return
        except Exception as exc:
            state.error = errors.error_from_exception(exc, api_key=key)
            return
        state.request_id = getattr(completion, "_request_id", None)
        for item in getattr(completion, "prompt_filter_results", None) or ():
            if isinstance(item, Mapping):
                yield FilterAnnotation("prompt", dict(item.get("content_filter_results") or {}))
        choice = completion.choices[0] if completion.choices else None
        if choice is None:
            state.error = errors.make_error(errors.STREAM_ERROR, detail="the response had no choices")
            return
        results = getattr(choice, "content_filter_results", None)
        if results:
            yield FilterAnnotation("completion", dict(results))
        text = choice.message.content if choice.message is not None else None
        if text:
            state.first_token = loop.time()
            state.pieces.append(text)
            yield TextDelta(text)
        state.finish_reason = choice.finish_reason or "stop"
        state.usage = completion.usage
        return

    first_deadline = min(state.start + deployment.first_token_timeout, total_deadline)
    try:
        async with asyncio.timeout_at(first_deadline):
            stream = await create(**request.kwargs())
    except TimeoutError:
        state.error = errors.make_error(
            errors.TIMEOUT, detail=f"no response within {deployment.first_token_timeout:g} s (first-token timeout)"
        )
        return
    except Exception as exc:
        state.error = errors.error_from_exception(exc, api_key=key)
        return

    headers = stream.response.headers
    state.request_id = headers.get("x-request-id") or headers.get("apim-request-id")
    # Chunks as the JSON objects they are: otherwise the library builds a pydantic model per chunk, the larger part
    # of a streamed reply's CPU (docs/performance.md). SSE framing, [DONE] and in-stream errors stay the library's.
    # ``_cast_to`` is read when iteration starts; tests/llm pins the wire shapes this loop relies on.
    stream._cast_to = object
    last_completion_filter: Any = None
    # ``async with`` closes the HTTP response however this generator ends: finished, failed, closed or cancelled.
    async with stream:
        while True:
            # Until the first text the first-token deadline holds; after it, a stall deadline per chunk.
            deadline = min(loop.time() + deployment.stall_timeout, total_deadline) if state.pieces else first_deadline
            try:
                # A fresh timeout around each read only: never around a ``yield``, where the consumer runs.
                async with asyncio.timeout_at(deadline):
                    chunk = await stream.__anext__()
            except StopAsyncIteration:
                break
            except TimeoutError:
                if state.finish_reason is None:
                    state.error = _timeout_error(deployment, state, hit_total=deadline >= total_deadline)
                break  # after a finish_reason only the usage chunk or [DONE] was missing: the answer is complete
            except Exception as exc:
                if state.finish_reason is None:
                    state.error = errors.error_from_exception(exc, api_key=key, partial=state.text_sent)
                break

            # Azure's first chunk: no choices, prompt_filter_results only; the usage chunk: empty choices.
            if not isinstance(chunk, Mapping):
                continue
            prompt_results = chunk.get("prompt_filter_results")
            if prompt_results:
                for item in prompt_results:
                    if isinstance(item, Mapping):
                        yield FilterAnnotation("prompt", dict(item.get("content_filter_results") or {}))
            usage = chunk.get("usage")
            if usage is not None:
                state.usage = usage
            for choice in chunk.get("choices") or ():
                if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                    continue
                results = choice.get("content_filter_results")
                if results and results != last_completion_filter:
                    last_completion_filter = results
                    yield FilterAnnotation("completion", dict(results))
                delta = choice.get("delta")  # None in Azure's annotation-only chunks
                content = delta.get("content") if isinstance(delta, Mapping) else None
                if content:
                    if state.first_token is None:
                        state.first_token = loop.time()
                    state.pieces.append(content)
                    yield TextDelta(content)
                finish = choice.get("finish_reason")
                if finish and state.finish_reason != "content_filter":
                    state.finish_reason = finish

    if state.error is None and state.finish_reason is None:
        # Closed without finish_reason (and so without [DONE]): the library ends silently; we must not.
        state.error = errors.make_error(
            errors.CONNECTION,
            detail="the stream ended without a finish_reason or [DONE]",
            request_id=state.request_id,
            partial=state.text_sent,
        )


def _timeout_error(deployment: DeploymentSpec, state: _AttemptState, *, hit_total: bool) -> Error:
    if hit_total:
        detail = f"the answer was not complete within the total timeout of {deployment.total_timeout:g} s"
        return errors.make_error(errors.TIMEOUT, detail=detail, request_id=state.request_id, partial=state.text_sent)
    if not state.text_sent:
        detail = f"no first token within {deployment.first_token_timeout:g} s"
        return errors.make_error(errors.TIMEOUT, detail=detail, request_id=state.request_id)
    detail = f"no data for {deployment.stall_timeout:g} s after {len(state.pieces)} content chunks"
    return errors.make_error(errors.STALL, detail=detail, request_id=state.request_id, partial=True)
