"""Failover between a model version's deployments: only before the first token, every attempt reported."""

from __future__ import annotations

import socket

from llm.client import Attempt, Error, Finish, RequestInfo
from tests.llm.conftest import OTHER_KEY, collect, deployment, gpt4o, of_type, only_error, text_of
from tests.upstream.server import UpstreamServer, drop, hang, normal, rate_limit, server_error


def _pair(upstream: UpstreamServer, **primary: object) -> tuple:
    return (
        deployment(upstream, "gpt-4o", id=1, **primary),  # type: ignore[arg-type]
        deployment(upstream, "gpt-4o-fallback", id=2),
    )


async def test_primary_rate_limited_fallback_answers(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", rate_limit(retry_after=30))
    upstream.script("gpt-4o-fallback", normal("from the fallback"))

    events = await collect(gpt4o(*_pair(upstream)))

    assert text_of(events) == "from the fallback"
    assert of_type(events, Error) == []
    assert events[-1] == Finish("stop", "ok")
    first, second = of_type(events, Attempt)
    assert (first.outcome, first.error_kind, first.status_code) == ("failed_over", "rate_limited", 429)
    assert (first.deployment_id, first.deployment_name, first.api_version) == (1, "gpt-4o", "2024-10-21")
    assert first.endpoint_host == upstream.url.removeprefix("http://")
    assert first.kind == "azure_dated"
    assert first.first_token_ms is None
    assert first.request_id
    assert (second.outcome, second.deployment_id, second.error_kind) == ("ok", 2, None)
    assert second.started_at >= first.started_at
    assert len(of_type(events, RequestInfo)) == 2  # one per attempt, for the audit


async def test_primary_server_error_once_fallback_answers(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", server_error())

    events = await collect(gpt4o(*_pair(upstream)))

    assert [a.outcome for a in of_type(events, Attempt)] == ["failed_over", "ok"]
    assert events[-1] == Finish("stop", "ok")
    # Next reply: the primary is healthy again and answers first.
    events = await collect(gpt4o(*_pair(upstream)))
    assert [(a.outcome, a.deployment_id) for a in of_type(events, Attempt)] == [("ok", 1)]


async def test_primary_timeout_before_first_token_fails_over(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", hang(seconds=3))

    events = await collect(gpt4o(*_pair(upstream)))

    first, second = of_type(events, Attempt)
    assert (first.outcome, first.error_kind) == ("failed_over", "timeout")
    assert second.outcome == "ok"
    assert events[-1] == Finish("stop", "ok")


async def test_primary_unreachable_fails_over(upstream: UpstreamServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"

    events = await collect(gpt4o(*_pair(upstream, endpoint=dead)))

    assert [(a.outcome, a.error_kind) for a in of_type(events, Attempt)] == [
        ("failed_over", "connection"),
        ("ok", None),
    ]
    assert events[-1] == Finish("stop", "ok")


async def test_all_deployments_fail_gives_exactly_one_error(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", rate_limit(retry_after=5))
    upstream.script("gpt-4o-fallback", server_error())

    events = await collect(gpt4o(*_pair(upstream)))

    error = only_error(events)
    assert events[-1] is error
    assert error.kind == "upstream_error"  # the last failure's kind
    assert error.message == "The AI service is busy or unavailable right now. Please try again in a moment."
    assert error.retryable is True
    assert "gpt-4o #1: rate_limited" in error.detail
    assert "gpt-4o-fallback #2: upstream_error" in error.detail
    assert [a.outcome for a in of_type(events, Attempt)] == ["failed_over", "error"]
    assert of_type(events, Finish) == []


async def test_failure_after_the_first_token_does_not_fail_over(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", drop(after_tokens=2))

    events = await collect(gpt4o(*_pair(upstream)))

    assert text_of(events) == "Hello! This"
    assert len(upstream.requests) == 1  # the fallback was never asked: the user already saw text
    assert upstream.requests_to("gpt-4o-fallback") == []
    assert [a.outcome for a in of_type(events, Attempt)] == ["error"]
    assert only_error(events).kind == "connection"
    assert events[-1] == Finish("truncated", "truncated")


async def test_non_failover_errors_end_at_once(upstream: UpstreamServer) -> None:
    events = await collect(gpt4o(*_pair(upstream, key=OTHER_KEY)))

    assert only_error(events).kind == "auth"
    assert upstream.requests_to("gpt-4o-fallback") == []
    assert [a.outcome for a in of_type(events, Attempt)] == ["error"]


async def test_model_without_deployments() -> None:
    events = await collect(gpt4o())

    assert only_error(events).kind == "deployment_not_found"
