"""The built-in fake provider, the admin's test_connection, token estimates and use from sync code."""

from __future__ import annotations

import socket
import time

from asgiref.sync import async_to_sync

from llm.client import (
    Attempt,
    ChatParams,
    DeploymentSpec,
    Error,
    Finish,
    ProviderKind,
    RequestInfo,
    TextDelta,
    Usage,
    admin_message,
    estimate_messages_tokens,
    estimate_tokens,
    test_connection,
)
from llm.client.errors import make_error, retry_after_seconds
from llm.client.fake import fake_delay
from tests.llm.conftest import OTHER_KEY, collect, deployment, gpt4o, o3mini, of_type, text_of
from tests.upstream.server import UpstreamServer, rate_limit


def fake_spec(delay: str = "0") -> DeploymentSpec:
    return DeploymentSpec(9, "Fake", ProviderKind.FAKE, f"fake://?delay={delay}", "fake", "", "")


async def test_fake_provider_streams_a_deterministic_markdown_answer() -> None:
    messages = [{"role": "system", "content": "Be nice."}, {"role": "user", "content": "What is   Office AI?"}]

    events = await collect(gpt4o(fake_spec()), messages)
    again = await collect(gpt4o(fake_spec()), messages)

    answer = text_of(events)
    assert answer == text_of(again)
    assert answer.startswith("You said: “What is Office AI?”")
    assert "\n- a short list,\n" in answer
    assert "```python\n" in answer
    assert len(of_type(events, TextDelta)) > 20  # word by word
    assert isinstance(events[0], RequestInfo)
    assert of_type(events, Usage)[0].estimated is True
    assert of_type(events, Attempt)[0].endpoint_host == "fake"
    assert events[-1] == Finish("stop", "ok")


async def test_fake_provider_delay_comes_from_the_endpoint() -> None:
    assert fake_delay("fake://?delay=0.05") == 0.05
    assert fake_delay("fake://") == 0.02
    assert fake_delay("fake://?delay=x") == 0.02
    started = time.monotonic()
    events = await collect(gpt4o(fake_spec("0.005")))
    assert time.monotonic() - started >= 0.005 * len(of_type(events, TextDelta))


async def test_connection_ok(upstream: UpstreamServer) -> None:
    result = await test_connection(deployment(upstream), gpt4o())

    assert result.ok is True
    assert result.error is None
    assert result.latency_ms is not None
    assert result.latency_ms > 0
    assert result.upstream_model == "gpt-4o-2024-11-20"
    assert "gpt-4o-2024-11-20" in result.admin_message
    (request,) = upstream.requests
    assert request.json["stream"] is False
    assert request.json["max_tokens"] == 16


async def test_connection_without_a_model_sends_no_token_parameter(upstream: UpstreamServer) -> None:
    result = await test_connection(deployment(upstream, "o3-mini"), None)

    assert result.ok is True
    assert result.upstream_model == "o3-mini-2025-01-31"
    assert set(upstream.requests[-1].json) == {"model", "stream", "messages"}


async def test_connection_with_a_bad_key(upstream: UpstreamServer) -> None:
    result = await test_connection(deployment(upstream, key=OTHER_KEY), None)

    assert result.ok is False
    assert result.error is not None
    assert result.error.kind == "auth"
    assert "rejected the API key (HTTP 401)" in result.admin_message
    assert OTHER_KEY not in result.admin_message
    assert OTHER_KEY not in repr(result)


async def test_connection_with_a_missing_deployment(upstream: UpstreamServer) -> None:
    result = await test_connection(deployment(upstream, "gpt-4o-typo"), None)

    assert result.ok is False
    assert result.error is not None
    assert result.error.kind == "deployment_not_found"
    assert "Deployment “gpt-4o-typo” was not found at 127.0.0.1:" in result.admin_message


async def test_connection_with_an_unsupported_api_version(upstream: UpstreamServer) -> None:
    result = await test_connection(deployment(upstream, api_version="2023-05-15"), None)

    assert result.error is not None
    assert result.error.kind == "api_version_unsupported"
    assert "API version “2023-05-15” is not supported" in result.admin_message


async def test_connection_finds_wrong_capability_flags(upstream: UpstreamServer) -> None:
    result = await test_connection(deployment(upstream, "o3-mini"), gpt4o())

    assert result.error is not None
    assert result.error.kind == "unsupported_parameter"
    assert "'max_tokens' is not supported with this model" in result.admin_message
    assert "capability flags" in result.admin_message
    # With the right flags it passes.
    assert (await test_connection(deployment(upstream, "o3-mini"), o3mini())).ok is True


async def test_connection_rate_limited_and_unreachable(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", rate_limit(retry_after=20))
    limited = await test_connection(deployment(upstream), None)
    assert "Quota or rate limit exceeded" in limited.admin_message
    assert "20 s" in limited.admin_message

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    unreachable = await test_connection(deployment(upstream, endpoint=f"http://127.0.0.1:{port}"), None)
    assert unreachable.error is not None
    assert unreachable.error.kind == "connection"
    assert f"127.0.0.1:{port} is unreachable" in unreachable.admin_message


async def test_connection_to_the_fake_provider() -> None:
    result = await test_connection(fake_spec(), None)

    assert result.ok is True
    assert result.upstream_model == "fake-model"


def test_sync_code_uses_the_same_server_and_layer() -> None:
    # What the admin's save does: a sync caller, the upstream in its own thread, a short-lived loop per call.
    with UpstreamServer(key="k") as upstream:
        upstream.add_deployment("gpt-4o")
        spec = deployment(upstream, key="k")
        assert async_to_sync(test_connection)(spec, None).ok is True
        assert async_to_sync(test_connection)(spec, None).ok is True
        events = async_to_sync(collect)(gpt4o(spec))
    assert events[-1] == Finish("stop", "ok")


def test_admin_message_for_every_kind() -> None:
    spec = fake_spec()
    for kind in ("stall", "stream_error", "upstream_error", "timeout", "bad_request", "prompt_filtered"):
        assert admin_message(make_error(kind, detail="why"), spec)
    assert "Raise the quota" in admin_message(make_error("rate_limited"), spec)
    assert isinstance(make_error("timeout"), Error)


def test_retry_after_parsing() -> None:
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after_seconds({"retry-after": "7"}) == 7
    assert (retry_after_seconds({"retry-after": "Wed, 21 Oct 2099 07:28:00 GMT"}) or 0) > 0
    assert retry_after_seconds({}, "Rate limit is exceeded. Try again in 2 seconds.") == 2
    assert retry_after_seconds({}, "Please try again in 20ms.") == 0.02
    assert retry_after_seconds({}, "Please retry after 86400 seconds.") == 86400
    assert retry_after_seconds({}, "no hint") is None


def test_token_estimates_work_offline() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd" * 10) == 10
    assert estimate_tokens("日本語です") == 5
    assert estimate_tokens("Hello 世界") == 2 + 2
    assert estimate_messages_tokens([{"role": "user", "content": "abcd"}]) == 3 + 4 + 1
    image = {"type": "image_url", "image_url": {"url": "data:,"}}
    assert estimate_messages_tokens([{"role": "user", "content": [image]}]) == 3 + 4 + 85


async def test_params_do_not_leak_between_calls(upstream: UpstreamServer) -> None:
    model = gpt4o(deployment(upstream))
    await collect(model, params=ChatParams(temperature=0.5))
    await collect(model)
    assert "temperature" not in upstream.requests[-1].json
