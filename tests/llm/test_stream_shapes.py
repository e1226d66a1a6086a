"""Azure's real stream shapes (azure-wire.md A3/A5) through stream_chat, against the real test upstream."""

from __future__ import annotations

import pytest

from llm.client import Attempt, Error, FilterAnnotation, Finish, ProviderKind, RequestInfo, TextDelta, Usage
from tests.llm.conftest import (
    assert_ends_with,
    collect,
    deployment,
    gpt4o,
    of_type,
    only_error,
    text_of,
)
from tests.upstream import server as scenarios
from tests.upstream.server import DEFAULT_TEXT, UpstreamServer, drop, filter_mid_answer, normal


async def test_normal_azure_stream_starts_with_prompt_annotation_and_ends_with_usage(upstream: UpstreamServer) -> None:
    events = await collect(gpt4o(deployment(upstream)))

    assert text_of(events) == DEFAULT_TEXT
    assert isinstance(events[0], RequestInfo)
    # The empty-choices first chunk becomes a prompt annotation (no IndexError), before any text.
    prompt = of_type(events, FilterAnnotation)[0]
    assert prompt.stage == "prompt"
    assert prompt.results["jailbreak"] == {"filtered": False, "detected": False}
    assert events.index(prompt) < events.index(of_type(events, TextDelta)[0])
    # Every content chunk repeats the same completion results; they are reported once.
    completion = [a for a in of_type(events, FilterAnnotation) if a.stage == "completion"]
    assert len(completion) == 1
    assert completion[0].results["violence"] == {"filtered": False, "severity": "safe"}
    # The usage chunk (empty choices) is the upstream's count, not an estimate.
    (usage,) = of_type(events, Usage)
    assert usage.estimated is False
    assert usage.completion_tokens == len(DEFAULT_TEXT.split())
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.reasoning_tokens == 0
    (attempt,) = of_type(events, Attempt)
    assert attempt.outcome == "ok"
    assert attempt.first_token_ms is not None
    assert attempt.first_token_ms <= attempt.duration_ms
    assert attempt.request_id
    assert of_type(events, Error) == []
    assert events[-1] == Finish("stop", "ok")


async def test_annotation_only_chunks_without_delta(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", scenarios.annotations("one two three four"))

    events = await collect(gpt4o(deployment(upstream)))

    assert text_of(events) == "one two three four"
    # The server really sent the delta-less chunks: prompt, role, 4 content, 4 annotation, stop, usage, [DONE].
    assert upstream.requests[-1].chunks_sent == 13
    assert events[-1] == Finish("stop", "ok")
    assert of_type(events, Error) == []


async def test_content_filter_mid_answer_keeps_the_text_already_sent(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", filter_mid_answer(after_tokens=3))

    events = await collect(gpt4o(deployment(upstream)))

    assert text_of(events) == "Hello! This is"
    assert events[-1] == Finish("content_filter", "completion_filtered")
    flagged = [a for a in of_type(events, FilterAnnotation) if "protected_material_text" in a.results]
    assert flagged == [
        FilterAnnotation("completion", {"protected_material_text": {"detected": True, "filtered": True}})
    ]
    assert of_type(events, Error) == []
    # No usage chunk followed, so the usage is an estimate.
    assert of_type(events, Usage)[0].estimated is True


async def test_usage_is_estimated_when_the_model_cannot_report_it_in_the_stream(upstream: UpstreamServer) -> None:
    upstream.add_deployment("gpt-4o", usage_in_stream=False)  # rejects stream_options, like old api-versions

    events = await collect(gpt4o(deployment(upstream), usage_in_stream=False))

    assert "stream_options" not in upstream.requests[-1].json
    (usage,) = of_type(events, Usage)
    assert usage.estimated is True
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert events[-1] == Finish("stop", "ok")


@pytest.mark.parametrize("clean", [False, True], ids=["connection-aborted", "body-ended-without-done"])
async def test_stream_closed_without_done_or_finish_reason_is_truncated(upstream: UpstreamServer, clean: bool) -> None:
    upstream.script("gpt-4o", drop(after_tokens=3, clean=clean))

    events = await collect(gpt4o(deployment(upstream)))

    assert text_of(events) == "Hello! This is"
    error = only_error(events)
    assert error.kind == "connection"
    assert error.message == "The connection to the AI service was lost, so the answer may be incomplete."
    assert error.retryable is True
    assert of_type(events, Attempt)[0].outcome == "error"
    assert of_type(events, Usage)[0].estimated is True
    assert events[-1] == Finish("truncated", "truncated")
    assert events.index(error) < len(events) - 1


async def test_stream_closed_before_any_text_is_an_error_not_a_silent_empty_answer(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", drop(after_tokens=0, clean=True))

    events = await collect(gpt4o(deployment(upstream)))

    assert text_of(events) == ""
    error = only_error(events)
    assert error.kind == "connection"
    assert error.message == "The AI service could not be reached. Please try again."
    assert of_type(events, Finish) == []
    assert_ends_with(events, Error)


async def test_openai_compatible_stream_has_no_azure_annotations(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", normal("plain OpenAI stream"))

    events = await collect(gpt4o(deployment(upstream, kind=ProviderKind.OPENAI_COMPATIBLE)))

    assert text_of(events) == "plain OpenAI stream"
    assert of_type(events, FilterAnnotation) == []
    assert of_type(events, Usage)[0].estimated is False
    assert events[-1] == Finish("stop", "ok")


async def test_a_slow_stream_is_not_a_stall(upstream: UpstreamServer) -> None:
    # 10 chunks/s for 1 s in all: longer than the first-token timeout, each gap well within the stall timeout.
    upstream.script("gpt-4o", normal("a b c d e f g h i j", rate=10))

    events = await collect(gpt4o(deployment(upstream, first_token_timeout=0.5, stall_timeout=1.0)))

    assert text_of(events) == "a b c d e f g h i j"
    assert events[-1] == Finish("stop", "ok")
