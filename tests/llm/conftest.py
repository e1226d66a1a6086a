"""Fixtures for the client layer: a real upstream server, specs pointing at it, and event helpers."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, TypeVar

import pytest
from django.utils import translation

from llm.client import (
    ChatParams,
    DeploymentSpec,
    Error,
    Finish,
    LLMEvent,
    ModelSpec,
    ProviderKind,
    TextDelta,
    aclose_clients,
    stream_chat,
)
from tests.upstream.server import UpstreamServer

KEY = "sk-test-SECRET-0123456789abcdef"
OTHER_KEY = "sk-test-OTHER-fedcba9876543210"
MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Say hello."},
]
# Short enough for quick tests, long enough that a loaded 2-core CI machine does not time out a healthy answer.
FAST = {"connect_timeout": 2.0, "first_token_timeout": 1.5, "stall_timeout": 1.0, "total_timeout": 8.0}

E = TypeVar("E")


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    # The project's default language is Japanese; the assertions below read the English source strings.
    with translation.override("en"):
        yield


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    with UpstreamServer(key=KEY) as server:
        server.add_deployment("gpt-4o")
        server.add_deployment("gpt-4o-fallback")
        server.add_deployment("o3-mini", reasoning=True)
        yield server


@pytest.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    # Each test has its own event loop; close the pooled connections made in it.
    yield
    await aclose_clients()


def deployment(
    upstream: UpstreamServer,
    name: str = "gpt-4o",
    *,
    id: int = 1,
    kind: ProviderKind = ProviderKind.AZURE_DATED,
    key: str = KEY,
    api_version: str = "2024-10-21",
    endpoint: str | None = None,
    proxy: str = "",
    **timeouts: float,
) -> DeploymentSpec:
    if set(timeouts) - set(FAST):
        raise TypeError(f"unknown timeouts: {sorted(set(timeouts) - set(FAST))}")
    if endpoint is None:
        endpoint = upstream.url + "/v1" if kind is ProviderKind.OPENAI_COMPATIBLE else upstream.url
    return DeploymentSpec(
        id=id,
        label=f"{name} #{id}",
        kind=kind,
        endpoint=endpoint,
        deployment_name=name,
        api_version=api_version if kind is ProviderKind.AZURE_DATED else "",
        api_key=key,
        proxy=proxy,
        connect_timeout=timeouts.get("connect_timeout", FAST["connect_timeout"]),
        first_token_timeout=timeouts.get("first_token_timeout", FAST["first_token_timeout"]),
        stall_timeout=timeouts.get("stall_timeout", FAST["stall_timeout"]),
        total_timeout=timeouts.get("total_timeout", FAST["total_timeout"]),
    )


def gpt4o(*deployments: DeploymentSpec, **changes: Any) -> ModelSpec:
    spec = ModelSpec(
        label="GPT-4o (2024-11-20)",
        family="gpt-4o",
        version="2024-11-20",
        token_param="max_tokens",
        temperature_allowed=True,
        system_role="system",
        streaming=True,
        usage_in_stream=True,
        reasoning_efforts=(),
        context_window=128_000,
        max_output_tokens=16_384,
        deployments=deployments,
    )
    return dataclasses.replace(spec, **changes)


def o3mini(*deployments: DeploymentSpec, **changes: Any) -> ModelSpec:
    spec = ModelSpec(
        label="o3-mini (2025-01-31)",
        family="o3-mini",
        version="2025-01-31",
        token_param="max_completion_tokens",
        temperature_allowed=False,
        system_role="developer",
        streaming=True,
        usage_in_stream=True,
        reasoning_efforts=("low", "medium", "high"),
        context_window=200_000,
        max_output_tokens=100_000,
        deployments=deployments,
    )
    return dataclasses.replace(spec, **changes)


async def collect(
    model: ModelSpec, messages: Sequence[dict[str, Any]] = MESSAGES, params: ChatParams | None = None
) -> list[LLMEvent]:
    async with contextlib.aclosing(stream_chat(model, list(messages), params or ChatParams())) as events:
        return [event async for event in events]


def of_type(events: Sequence[LLMEvent], cls: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, cls)]


def text_of(events: Sequence[LLMEvent]) -> str:
    return "".join(e.text for e in of_type(events, TextDelta))


def only_error(events: Sequence[LLMEvent]) -> Error:
    found = of_type(events, Error)
    assert len(found) == 1, found
    return found[0]


def assert_ends_with(events: Sequence[LLMEvent], cls: type[Finish] | type[Error]) -> None:
    assert isinstance(events[-1], cls), events[-1]
