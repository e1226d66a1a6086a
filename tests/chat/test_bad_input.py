"""Bad input never reaches a 500 or a traceback: each case answers a 4xx or an error frame, and loses nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from chat.models import Conversation, Message
from llm.models import ModelVersion
from tenants.models import Tenant, User
from tests.chat.test_consumer import open_socket, until
from tests.conftest import signed_in

DEEP = "[" * 100_000
LONE = "\ud800"  # a lone surrogate: valid in JSON as an escape, not storable as UTF-8


@pytest.fixture
def mine(tenant_a: Tenant, user_a: User) -> Conversation:
    return Conversation.objects.create(tenant=tenant_a, user=user_a, title="mine")


def post_json(client: Client, url: str, body: str) -> Any:
    return client.post(url, body, content_type="application/json")


def test_api_refusals_are_json_4xx(mine: Conversation, user_a: User, user_b: User) -> None:
    client = signed_in(user_a)
    base = f"/api/conversations/{mine.pk}"
    deep = post_json(client, f"{base}/rename/", DEEP)
    assert (deep.status_code, deep.json()["error"]["code"]) == (400, "bad_json")
    lone = post_json(client, f"{base}/rename/", json.dumps({"title": "x" + LONE}))
    assert (lone.status_code, lone.json()["error"]["code"]) == (400, "bad_text")
    nul = post_json(client, f"{base}/settings/", json.dumps({"system_prompt": "a\x00b"}))
    assert (nul.status_code, nul.json()["error"]["code"]) == (400, "bad_text")
    mine.refresh_from_db()
    assert (mine.title, mine.system_prompt) == ("mine", "")  # nothing half-saved
    search = client.get("/api/conversations/?q=%00")
    assert search.status_code == 200
    assert search.json()["conversations"][0]["id"] == mine.pk
    wrong_method = client.get(f"{base}/rename/")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert wrong_method["Allow"] == "POST"
    # Missing and another person's look the same, in JSON.
    other = signed_in(user_b)
    for response in (client.get("/api/conversations/999999/"), other.get(f"{base}/")):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db(transaction=True)
async def test_websocket_bad_frames_get_error_frames_and_the_socket_stays(
    user_a: User, user_b: User, gpt4o: ModelVersion
) -> None:
    socket = await open_socket(await database_sync_to_async(signed_in)(user_a))
    await socket.send_to(text_data=DEEP)
    frame, _ = await until(socket, "error")
    assert frame["code"] == "bad_json"
    for field, value in (("text", "hi " + LONE), ("system_prompt", LONE)):
        body = {"type": "chat.send", "request_id": field, "conversation_id": None, "text": "hello", field: value}
        await socket.send_to(text_data=json.dumps(body))
        frame, _ = await until(socket, "error")
        assert (frame["code"], frame["request_id"]) == ("bad_text", field)
    await socket.send_json_to({"type": "ping"})
    pong, _ = await until(socket, "pong")
    assert pong == {"type": "pong"}
    await socket.disconnect()
    assert not await Message.objects.aexists()
