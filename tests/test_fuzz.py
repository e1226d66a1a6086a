"""Fuzzing the doors with Hypothesis: whatever arrives, as JSON API bodies, Slack payloads or websocket frames, the
answer is a 2xx/4xx or an error frame, never a 500 or a dead socket, and nothing of another tenant changes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.models import Conversation, Message
from config.asgi import application
from slack.models import SlackEvent, SlackWorkspace
from tenants.models import Tenant, User
from tests.conftest import signed_in
from tests.slack.conftest import SECRET_A, deliver

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
# Fields the doors read, with hostile values: odd types, NUL, lone surrogates, huge numbers.
HOSTILE = st.text(max_size=60) | st.sampled_from(["\x00", "\ud800", "a" * 40_000])
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["chat.send", "chat.join", "chat.stop", "chat.retry", "notice.ack", "ping"]) | HOSTILE,
        "text": HOSTILE | JSON,
        "title": HOSTILE | JSON,
        "system_prompt": HOSTILE | JSON,
        "conversation_id": st.integers() | HOSTILE | JSON,
        "model_version_id": st.integers() | HOSTILE | JSON,
        "request_id": HOSTILE | JSON,
        "after": JSON,
        "version": st.integers() | JSON,
    },
)
BODIES = FIELDS | JSON
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def as_json(value: Any) -> str:
    return json.dumps(value, allow_nan=True)


@FUZZ
@given(body=BODIES, action=st.sampled_from(["rename", "settings", "delete"]))
def test_json_api_bodies(body: Any, action: str, user_a: User, user_b: User, tenant_b: Tenant) -> None:
    theirs, _ = Conversation.objects.get_or_create(tenant=tenant_b, user=user_b, title="B's")
    mine, _ = Conversation.objects.get_or_create(tenant=user_a.tenant, user=user_a, title="mine")
    client = signed_in(user_a)
    for conversation in (mine, theirs):
        url = f"/api/conversations/{conversation.pk}/{action}/"
        response = client.post(url, as_json(body), content_type="application/json")
        assert response.status_code in (200, 400, 404, 409), (url, response.status_code)
        assert response["Content-Type"] == "application/json"
    assert Conversation.objects.get(pk=theirs.pk).title == "B's"  # never another tenant's row


@FUZZ
@given(event=JSON | FIELDS, kind=st.sampled_from(["event_callback", "url_verification", None]))
def test_slack_payloads(event: Any, kind: str | None, tenant_a: Tenant, tenant_b: Tenant) -> None:
    SlackWorkspace.objects.get_or_create(
        slug="alpha",
        defaults={"tenant": tenant_a, "team_id": "TALPHA", "app_id": "AALPHA", "signing_secret": SECRET_A},
    )
    payload: dict[str, Any] = {"team_id": "TALPHA", "api_app_id": "AALPHA", "event_id": "Ev-fuzz", "event": event}
    if kind is not None:
        payload["type"] = kind
    response = deliver(Client(), "alpha", as_json(payload).encode(), secret=SECRET_A)
    assert response.status_code in (200, 400, 401), response.status_code
    assert not SlackEvent.objects.filter(tenant=tenant_b).exists()


@pytest.mark.django_db(transaction=True)
@FUZZ
@given(frames=st.lists((BODIES.map(as_json) | HOSTILE).filter(bool), min_size=1, max_size=4))
def test_websocket_frames(frames: list[str], user_a: User, user_b: User) -> None:
    client = signed_in(user_a)

    async def exchange() -> None:
        cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
        headers = [(b"host", b"localhost"), (b"origin", b"http://localhost"), (b"cookie", cookie)]
        socket = WebsocketCommunicator(application, "/ws/", headers=headers)
        connected, _ = await socket.connect()
        assert connected
        assert (await socket.receive_json_from(timeout=5))["type"] == "session.ready"
        for frame in frames:
            await socket.send_to(text_data=frame)
        await socket.send_to(text_data='{"type": "ping"}')
        while True:  # whatever came back, the socket still answers: every frame got its reply or error
            reply = await socket.receive_json_from(timeout=10)
            assert reply["type"] in {"error", "pong", "chat.accepted", "chat.snapshot", "chat.done", "notice.updated"}
            if reply["type"] == "error":
                assert reply["code"] != "server_error", reply
            if reply["type"] == "pong":
                break
        await socket.disconnect()

    async_to_sync(exchange)()
    # No model is configured for these tenants, so nothing can have started an answer.
    assert not Message.objects.filter(role=Message.Role.ASSISTANT).exists()
    assert not Conversation.objects.filter(user=user_b).exists()
