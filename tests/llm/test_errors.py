"""Each upstream failure through stream_chat: the right kind, a clear user message, retryability and retry-after."""

from __future__ import annotations

import socket
import time

import pytest

from llm.client import Attempt, ChatParams, Error, Finish, ProviderKind, TextDelta, Usage
from tests.llm.conftest import (
    KEY,
    OTHER_KEY,
    assert_ends_with,
    collect,
    deployment,
    gpt4o,
    of_type,
    only_error,
    text_of,
)
from tests.upstream.server import (
    UpstreamServer,
    bad_key,
    deployment_not_found,
    hang,
    in_stream_error,
    prompt_filtered,
    rate_limit,
    server_error,
    stall,
    stream_tokens,
)


async def test_prompt_filtered(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", prompt_filtered("violence"))

    events = await collect(gpt4o(deployment(upstream), deployment(upstream, "gpt-4o-fallback", id=2)))

    error = only_error(events)
    assert error.kind == "prompt_filtered"
    assert error.message == "Your message was blocked by the content safety filter. Please rephrase it and try again."
    assert error.retryable is False
    assert error.status_code == 400
    assert error.code == "content_filter"
    assert "categories: violence" in error.detail
    assert upstream.requests_to("gpt-4o-fallback") == []  # the same prompt would be blocked anywhere
    assert_ends_with(events, Error)


async def test_wrong_key_is_an_auth_error(upstream: UpstreamServer) -> None:
    events = await collect(gpt4o(deployment(upstream, key=OTHER_KEY)))

    error = only_error(events)
    assert error.kind == "auth"
    assert error.message == "The AI service rejected the credentials. Please tell your administrator."
    assert error.retryable is False
    assert error.status_code == 401
    assert "Access denied due to invalid subscription key" in error.detail
    assert error.request_id


async def test_scripted_auth_and_not_found_answers(upstream: UpstreamServer) -> None:
    # A deployment deleted or a key rotated while the app still has the old settings.
    upstream.script("gpt-4o", bad_key(), deployment_not_found())
    model = gpt4o(deployment(upstream))

    assert only_error(await collect(model)).kind == "auth"
    assert only_error(await collect(model)).kind == "deployment_not_found"
    assert (await collect(model))[-1] == Finish("stop", "ok")


async def test_deployment_not_found(upstream: UpstreamServer) -> None:
    events = await collect(gpt4o(deployment(upstream, "gpt-4o-typo")))

    error = only_error(events)
    assert error.kind == "deployment_not_found"
    assert error.message == (
        "This AI model is not available right now (its deployment was not found). Please tell your administrator."
    )
    assert error.retryable is False
    assert (error.status_code, error.code) == (404, "DeploymentNotFound")


@pytest.mark.parametrize("status", [400, 404])
async def test_api_version_unsupported(status: int) -> None:
    with UpstreamServer(key=KEY, api_version_status=status) as upstream:
        upstream.add_deployment("gpt-4o")
        events = await collect(gpt4o(deployment(upstream, api_version="2023-03-15-preview")))

    error = only_error(events)
    assert error.kind == "api_version_unsupported"
    assert error.message == (
        "This AI model is set up with an API version the service does not support. Please tell your administrator."
    )
    assert error.retryable is False
    assert error.status_code == status
    assert upstream.requests[-1].query["api-version"] == "2023-03-15-preview"


async def test_unsupported_parameter(upstream: UpstreamServer) -> None:
    # A reasoning deployment behind a model version whose flags say max_tokens: Azure's 400 unsupported_parameter.
    events = await collect(gpt4o(deployment(upstream, "o3-mini")))

    error = only_error(events)
    assert error.kind == "unsupported_parameter"
    assert error.message == (
        "This AI model does not accept one of the settings it was sent. Please tell your administrator."
    )
    assert error.retryable is False
    assert (error.status_code, error.code) == (400, "unsupported_parameter")
    assert "'max_tokens' is not supported with this model" in error.detail


async def test_unsupported_value_is_an_unsupported_parameter(upstream: UpstreamServer) -> None:
    model = gpt4o(deployment(upstream, "o3-mini"), token_param="max_completion_tokens")

    events = await collect(model, params=ChatParams(temperature=0.2))

    error = only_error(events)
    assert (error.kind, error.code) == ("unsupported_parameter", "unsupported_value")
    assert "'temperature' does not support 0.2" in error.detail


async def test_rate_limited_with_retry_after_header(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", rate_limit(retry_after=2))

    events = await collect(gpt4o(deployment(upstream)))

    error = only_error(events)
    assert error.kind == "rate_limited"
    assert error.message == "The AI service is receiving too many requests. Please try again in 2 seconds."
    assert error.retryable is True
    assert error.retry_after == 2
    assert error.status_code == 429
    assert len(upstream.requests) == 1  # max_retries=0: no hidden retries inside the openai library


async def test_rate_limited_retry_after_from_the_message(upstream: UpstreamServer) -> None:
    # The captured Azure 429 had no retry-after header; the body says "Please retry after 86400 seconds".
    upstream.script("gpt-4o", rate_limit(retry_after=86400, header=False))

    error = only_error(await collect(gpt4o(deployment(upstream))))

    assert error.kind == "rate_limited"
    assert error.retry_after == 86400
    assert error.message == (
        "The usage quota of this AI model is used up for now. Please try again later or choose another model."
    )


async def test_rate_limited_openai_style_message(upstream: UpstreamServer) -> None:
    upstream.script(
        "gpt-4o", rate_limit(retry_after=1, header=False, message="Rate limit is exceeded. Try again in 1 seconds.")
    )

    error = only_error(await collect(gpt4o(deployment(upstream, kind=ProviderKind.OPENAI_COMPATIBLE))))

    assert error.retry_after == 1
    assert error.message == "The AI service is receiving too many requests. Please try again in a moment."


async def test_server_error(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", server_error())

    error = only_error(await collect(gpt4o(deployment(upstream))))

    assert error.kind == "upstream_error"
    assert error.message == "The AI service had an internal error. Please try again."
    assert error.retryable is True
    assert error.status_code == 500


async def test_timeout_before_any_response(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", hang(seconds=3))
    started = time.monotonic()

    events = await collect(gpt4o(deployment(upstream, first_token_timeout=0.5)))

    assert time.monotonic() - started < 2.5  # first_token_timeout is 0.5 s; the hang lasts 3 s
    error = only_error(events)
    assert error.kind == "timeout"
    assert error.message == "The AI service did not answer in time. Please try again."
    assert error.retryable is True
    assert "no response within 0.5 s" in error.detail
    assert of_type(events, Finish) == []


async def test_timeout_when_the_stream_starts_but_no_token_comes(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", stall(after_tokens=0, seconds=3))  # prompt annotation and role chunk, then nothing

    events = await collect(gpt4o(deployment(upstream, first_token_timeout=0.5)))

    error = only_error(events)
    assert error.kind == "timeout"
    assert "no first token within 0.5 s" in error.detail
    assert_ends_with(events, Error)


async def test_stall_mid_stream_keeps_the_text_and_ends_truncated(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", stall(after_tokens=3, seconds=3))
    started = time.monotonic()

    events = await collect(gpt4o(deployment(upstream)))

    assert time.monotonic() - started < 1.5  # stall_timeout is 0.3 s
    assert text_of(events) == "Hello! This is"
    error = only_error(events)
    assert error.kind == "stall"
    assert error.message == "The AI service stopped responding in the middle of the answer, so it may be incomplete."
    assert error.retryable is True
    assert of_type(events, Usage)[0].estimated is True
    assert events[-1] == Finish("truncated", "truncated")
    assert of_type(events, Attempt)[0].error_kind == "stall"


async def test_total_timeout_cuts_a_long_answer(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", stream_tokens(100, rate=10))  # 10 s in all, each chunk well within the stall timeout

    events = await collect(gpt4o(deployment(upstream, total_timeout=0.6, stall_timeout=2.0)))

    error = only_error(events)
    assert error.kind == "timeout"
    assert error.message == "The answer took too long and was cut off."
    assert 3 <= len(of_type(events, TextDelta)) < 100
    assert events[-1] == Finish("truncated", "truncated")


async def test_in_stream_error_after_text(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", in_stream_error(after_tokens=2))

    events = await collect(gpt4o(deployment(upstream)))

    assert text_of(events) == "Hello! This"
    error = only_error(events)
    assert error.kind == "stream_error"
    assert error.message == "The AI service reported an error, so the answer may be incomplete."
    assert "The server had an error while processing your request." in error.detail
    assert events[-1] == Finish("truncated", "truncated")


async def test_in_stream_error_before_text(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", in_stream_error(after_tokens=0))

    events = await collect(gpt4o(deployment(upstream)))

    error = only_error(events)
    assert error.kind == "stream_error"
    assert error.message == "The AI service reported an error while answering. Please try again."
    assert error.retryable is True
    assert_ends_with(events, Error)


async def test_connection_refused(upstream: UpstreamServer) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    events = await collect(gpt4o(deployment(upstream, endpoint=f"http://127.0.0.1:{port}")))

    error = only_error(events)
    assert error.kind == "connection"
    assert error.message == "The AI service could not be reached. Please try again."
    assert error.retryable is True
    assert "ConnectError" in error.detail or "Connection" in error.detail
