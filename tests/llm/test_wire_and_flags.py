"""What goes on the wire: URL, auth header and api-version per provider kind; the body per capability flags."""

from __future__ import annotations

import dataclasses

import pytest

from llm.client import ChatParams, DeploymentSpec, Finish, ProviderKind, RequestInfo, TextDelta, Usage, build_request
from llm.client.request import map_system_role
from tests.llm.conftest import KEY, MESSAGES, collect, deployment, gpt4o, o3mini, of_type, text_of
from tests.upstream.server import DEFAULT_TEXT, UpstreamServer, bad_key, rate_limit, stall


async def test_azure_dated_sends_api_key_and_api_version(upstream: UpstreamServer) -> None:
    await collect(gpt4o(deployment(upstream, api_version="2024-12-01-preview")))

    (request,) = upstream.requests
    assert request.path == "/openai/deployments/gpt-4o/chat/completions"
    assert request.query == {"api-version": "2024-12-01-preview"}
    assert request.headers["api-key"] == KEY
    assert "authorization" not in request.headers


async def test_azure_dated_endpoint_pasted_with_openai_suffix(upstream: UpstreamServer) -> None:
    events = await collect(gpt4o(deployment(upstream, endpoint=upstream.url + "/openai/")))

    assert upstream.requests[-1].path == "/openai/deployments/gpt-4o/chat/completions"
    assert events[-1] == Finish("stop", "ok")


async def test_azure_v1_has_no_api_version_and_uses_the_deployment_as_model(upstream: UpstreamServer) -> None:
    events = await collect(gpt4o(deployment(upstream, kind=ProviderKind.AZURE_V1)))

    (request,) = upstream.requests
    assert request.path == "/openai/v1/chat/completions"
    assert "api-version" not in request.query
    assert request.json["model"] == "gpt-4o"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert text_of(events) == DEFAULT_TEXT


async def test_openai_compatible_sends_bearer(upstream: UpstreamServer) -> None:
    events = await collect(gpt4o(deployment(upstream, kind=ProviderKind.OPENAI_COMPATIBLE)))

    (request,) = upstream.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert "api-key" not in request.headers
    assert request.json["model"] == "gpt-4o"
    assert text_of(events) == DEFAULT_TEXT


@pytest.mark.parametrize("kind", list(ProviderKind))
async def test_the_key_never_appears_in_any_event(upstream: UpstreamServer, kind: ProviderKind) -> None:
    endpoint = "fake://?delay=0" if kind is ProviderKind.FAKE else None
    primary = deployment(upstream, kind=kind, endpoint=endpoint)
    fallback = deployment(upstream, "gpt-4o-fallback", id=2, kind=kind, endpoint=endpoint)
    upstream.script("gpt-4o", rate_limit(1))
    upstream.script("gpt-4o-fallback", bad_key())
    events = [
        *await collect(gpt4o(primary, fallback)),  # failover, then an auth error
        *await collect(gpt4o(dataclasses.replace(fallback, api_key="sk-wrong-key-1234"))),
        *await collect(gpt4o(primary)),
    ]
    upstream.script("gpt-4o", stall(2, 2))
    events += await collect(gpt4o(primary))

    assert events
    for event in events:
        assert KEY not in repr(event)
        assert "sk-wrong-key-1234" not in repr(event)
    assert KEY not in repr(primary)
    assert KEY not in str(primary)


def _last_body(upstream: UpstreamServer) -> dict:
    return upstream.requests[-1].json


async def test_o_series_sends_max_completion_tokens_no_temperature_and_developer(upstream: UpstreamServer) -> None:
    params = ChatParams(temperature=0.2, max_output_tokens=500, reasoning_effort="low", user="u-42")

    events = await collect(o3mini(deployment(upstream, "o3-mini")), params=params)

    body = _last_body(upstream)
    assert body["max_completion_tokens"] == 500
    assert "max_tokens" not in body
    assert "temperature" not in body
    assert body["reasoning_effort"] == "low"
    assert body["user"] == "u-42"
    assert [m["role"] for m in body["messages"]] == ["developer", "user"]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert events[-1] == Finish("stop", "ok")
    assert of_type(events, Usage)[0].reasoning_tokens == 64
    # The audit sees exactly what was sent.
    info = of_type(events, RequestInfo)[0]
    assert info.messages == body["messages"]
    assert {k: v for k, v in body.items() if k != "messages"} == info.params


async def test_gpt4o_sends_max_tokens_temperature_and_system(upstream: UpstreamServer) -> None:
    params = ChatParams(temperature=0.2, max_output_tokens=500, reasoning_effort="high")

    events = await collect(gpt4o(deployment(upstream)), params=params)

    body = _last_body(upstream)
    assert body["max_tokens"] == 500
    assert "max_completion_tokens" not in body
    assert body["temperature"] == 0.2
    assert "reasoning_effort" not in body  # not one of this model's efforts
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert events[-1] == Finish("stop", "ok")


async def test_unknown_reasoning_effort_is_not_sent(upstream: UpstreamServer) -> None:
    await collect(o3mini(deployment(upstream, "o3-mini")), params=ChatParams(reasoning_effort="minimal"))

    assert "reasoning_effort" not in _last_body(upstream)


async def test_output_limit_is_capped_by_the_model_and_defaults_to_it(upstream: UpstreamServer) -> None:
    model = gpt4o(deployment(upstream))
    await collect(model, params=ChatParams(max_output_tokens=1_000_000))
    assert _last_body(upstream)["max_tokens"] == 16_384
    await collect(model)
    assert _last_body(upstream)["max_tokens"] == 16_384


async def test_system_role_none_folds_the_system_prompt_into_the_first_user_message(upstream: UpstreamServer) -> None:
    upstream.add_deployment("o1-mini", reasoning=True, system_messages=False, streaming=False)
    model = o3mini(deployment(upstream, "o1-mini"), system_role="none", streaming=False, usage_in_stream=False)

    events = await collect(model)

    body = _last_body(upstream)
    assert body["messages"] == [{"role": "user", "content": "You are a helpful assistant.\n\nSay hello."}]
    assert events[-1] == Finish("stop", "ok")


async def test_streaming_off_makes_one_non_streamed_request(upstream: UpstreamServer) -> None:
    upstream.add_deployment("o1", reasoning=True, streaming=False)  # rejects stream=true

    events = await collect(o3mini(deployment(upstream, "o1"), streaming=False))

    (request,) = upstream.requests
    assert request.json["stream"] is False
    assert "stream_options" not in request.json
    assert of_type(events, TextDelta) == [TextDelta(DEFAULT_TEXT)]
    (usage,) = of_type(events, Usage)
    assert usage.estimated is False
    assert usage.reasoning_tokens == 64
    assert events[-1] == Finish("stop", "ok")


async def test_streaming_model_on_a_deployment_that_cannot_stream_says_so(upstream: UpstreamServer) -> None:
    upstream.add_deployment("o1", reasoning=True, streaming=False)

    events = await collect(o3mini(deployment(upstream, "o1")))

    assert events[-1].kind == "unsupported_parameter"  # type: ignore[union-attr]
    assert "'stream' does not support true" in events[-1].detail  # type: ignore[union-attr]


# The request builder on its own ----------------------------------------------------------------------------------


def _spec() -> DeploymentSpec:
    return DeploymentSpec(1, "d", ProviderKind.AZURE_DATED, "https://x.example", "dep", "2024-10-21", "k")


def test_role_mapping_does_not_modify_the_callers_messages() -> None:
    messages = [dict(m) for m in MESSAGES]

    assert [m["role"] for m in map_system_role(messages, "developer")] == ["developer", "user"]
    assert [m["role"] for m in map_system_role([{"role": "developer", "content": "x"}], "system")] == ["system"]
    assert messages == MESSAGES


def test_fold_with_multimodal_content_and_without_a_user_message() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    folded = map_system_role(
        [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]}, {"role": "user", "content": [image]}],
        "none",
    )
    assert folded == [{"role": "user", "content": [{"type": "text", "text": "Be brief."}, image]}]
    assert map_system_role([{"role": "system", "content": "Only this."}], "none") == [
        {"role": "user", "content": "Only this."}
    ]


def test_build_request_for_a_model_without_streaming() -> None:
    model = o3mini(_spec(), streaming=False)
    request = build_request(model, _spec(), MESSAGES, ChatParams(max_output_tokens=10))

    assert request.params == {"model": "dep", "stream": False, "max_completion_tokens": 10}
    assert request.stream is False
