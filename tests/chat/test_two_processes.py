"""Two daphne processes behind one Redis: a reply started on one is watched live from a socket on the other."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import aiohttp
import pytest
from django.test import Client

from chat.models import Message
from llm.models import ModelVersion
from tests.live import DaphneServer
from tests.upstream import server as up

pytestmark = pytest.mark.django_db(transaction=True)
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


async def _socket(session: aiohttp.ClientSession, server: DaphneServer, cookie: str) -> Any:
    ws = await session.ws_connect(
        server.ws_url, headers={"Origin": "http://127.0.0.1", "Cookie": f"sessionid={cookie}"}
    )
    ready = json.loads((await ws.receive(timeout=10)).data)
    assert ready["type"] == "session.ready"
    return ws


async def _frames_until(ws: Any, kind: str) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = json.loads((await ws.receive(timeout=20)).data)
        frames.append(frame)
        if frame["type"] == kind:
            return frames


def test_reply_on_one_process_is_watched_from_another(
    client_a: Client, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.stream_tokens(60, rate=40))
    cookie = client_a.cookies["sessionid"].value

    async def scenario(one: DaphneServer, two: DaphneServer) -> tuple[str, str, int]:
        async with aiohttp.ClientSession() as session:
            ws_one = await _socket(session, one, cookie)
            await ws_one.send_json({"type": "chat.send", "conversation_id": None, "text": "Across processes"})
            accepted = (await _frames_until(ws_one, "chat.accepted"))[-1]
            await _frames_until(ws_one, "chat.delta")
            ws_two = await _socket(session, two, cookie)
            await ws_two.send_json(
                {"type": "chat.join", "conversation_id": accepted["conversation"]["id"], "after": None}
            )
            frames = await _frames_until(ws_two, "chat.done")
            text, end = "", 0
            for frame in frames:
                if frame["type"] in ("chat.snapshot", "chat.delta"):
                    assert frame["offset"] <= end, "gap"
                    text += frame["text"][end - frame["offset"] :]
                    end = max(end, frame["end"])
            assert frames[0]["type"] == "chat.snapshot"
            await ws_one.close()
            await ws_two.close()
            return text, frames[-1]["status"], accepted["assistant_message_id"]

    with DaphneServer(redis_url=REDIS_URL) as one, DaphneServer(redis_url=REDIS_URL) as two:
        text, status, message_id = asyncio.run(scenario(one, two))
    assert status == "ok"
    saved = Message.objects.get(pk=message_id)
    assert saved.content == text
    assert len(text.split()) == 60
