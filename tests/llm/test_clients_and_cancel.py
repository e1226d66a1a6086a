"""Client reuse per deployment, replacement on edit, and upstream release when the consumer goes away."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

import pytest

from llm.client import ChatParams, Finish, TextDelta, client_for, drop_client, stream_chat
from tests.llm.conftest import KEY, MESSAGES, OTHER_KEY, collect, deployment, gpt4o
from tests.upstream.server import UpstreamServer, stream_tokens


async def test_clients_are_reused_per_deployment(upstream: UpstreamServer) -> None:
    spec = deployment(upstream)
    model = gpt4o(spec)

    client = client_for(spec)
    await collect(model)
    await collect(model)

    assert client_for(spec) is client
    assert client_for(dataclasses.replace(spec)) is client  # an equal spec built afresh from the same row
    first, second = upstream.requests
    assert first.client_port == second.client_port  # the pooled connection was reused


async def test_a_changed_key_gets_a_new_client_without_restart(upstream: UpstreamServer) -> None:
    spec = deployment(upstream)
    old = client_for(spec)
    upstream.add_deployment("gpt-4o", key=OTHER_KEY)  # the admin rotated the key in Azure and then in the admin

    edited = dataclasses.replace(spec, api_key=OTHER_KEY)
    events = await collect(gpt4o(edited))

    assert client_for(edited) is not old
    assert events[-1] == Finish("stop", "ok")
    assert upstream.requests[-1].headers["api-key"] == OTHER_KEY
    assert upstream.requests[-1].headers["api-key"] != KEY


async def test_other_edits_also_replace_the_client(upstream: UpstreamServer) -> None:
    spec = deployment(upstream)
    old = client_for(spec)

    assert client_for(dataclasses.replace(spec, api_version="2024-12-01-preview")) is not old
    assert client_for(dataclasses.replace(spec, endpoint=upstream.url + "/")) is not old


async def test_drop_client(upstream: UpstreamServer) -> None:
    spec = deployment(upstream)
    old = client_for(spec)

    drop_client(spec.id)

    assert client_for(spec) is not old


async def test_closing_the_consumer_closes_the_upstream_connection(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", stream_tokens(500, rate=50))  # 10 s if nobody hung up
    received = []

    async with contextlib.aclosing(stream_chat(gpt4o(deployment(upstream)), MESSAGES, ChatParams())) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                received.append(event.text)
                if len(received) == 3:
                    break

    # Block this loop while waiting: only a close done inside aclose() itself (not a task scheduled for later,
    # e.g. by the async-generator finaliser) can be what the server sees.
    (request,) = upstream.requests
    assert upstream.wait_for(lambda: request.disconnected, 3)
    assert request.chunks_sent < 20
    assert not request.completed


async def test_cancelling_the_consumer_task_closes_the_upstream_connection(upstream: UpstreamServer) -> None:
    upstream.script("gpt-4o", stream_tokens(500, rate=50))
    started = asyncio.Event()

    async def consume() -> None:
        async for event in stream_chat(gpt4o(deployment(upstream)), MESSAGES, ChatParams()):
            if isinstance(event, TextDelta):
                started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 3)
    task.cancel()  # what the websocket consumer does on disconnect (STYLE.md 4.6)
    with pytest.raises(asyncio.CancelledError):
        await task

    (request,) = upstream.requests
    assert upstream.wait_for(lambda: request.disconnected, 3)  # blocking on purpose, as above
    assert not request.completed
