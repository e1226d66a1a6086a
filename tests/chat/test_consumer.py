"""The websocket door and the chat engine, full stack, against the real test upstream."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from audit.models import AuditOutbox
from chat import relay
from chat.models import Conversation, Message
from config.asgi import application
from llm.models import ModelVersion
from tenants.models import Tenant, User
from tests.conftest import signed_in
from tests.upstream import server as up

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _fresh_redis_connection() -> Any:
    yield
    await relay.reset()


def headers(client: Client) -> list[tuple[bytes, bytes]]:
    return [
        (b"host", b"localhost"),
        (b"origin", b"http://localhost"),
        (b"accept-language", b"en"),
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
    ]


async def open_socket(client: Client) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(application, "/ws/", headers=headers(client))
    connected, _ = await socket.connect()
    assert connected
    ready = await socket.receive_json_from()
    assert ready["type"] == "session.ready"
    return socket


async def until(socket: WebsocketCommunicator, kind: str, wait: float = 10) -> tuple[dict[str, Any], list[dict]]:
    """Frames up to and including the first of type ``kind``."""
    seen = []
    while True:
        frame = await socket.receive_json_from(timeout=wait)
        seen.append(frame)
        if frame["type"] == kind:
            return frame, seen


def assemble(frames: list[dict[str, Any]], start: str = "", end: int = 0) -> tuple[str, int]:
    """Apply snapshot/delta frames with the protocol's offset rules; fails on a gap."""
    text = start
    for frame in frames:
        if frame["type"] not in ("chat.delta", "chat.snapshot"):
            continue
        assert frame["offset"] <= end, f"gap: have {end}, got offset {frame['offset']}"
        overlap = end - frame["offset"]
        text += frame["text"][overlap:]
        end = max(end, frame["end"])
    return text, end


@database_sync_to_async
def saved(message_id: int) -> Message:
    return Message.objects.get(pk=message_id)


@database_sync_to_async
def llm_entries() -> list[AuditOutbox]:
    return list(AuditOutbox.objects.filter(event_type="llm.chat").order_by("pk"))


async def wait_saved(message_id: int, wait: float = 10) -> Message:
    for _ in range(int(wait / 0.05)):
        message = await saved(message_id)
        if message.status != Message.Status.STREAMING:
            return message
        await asyncio.sleep(0.05)
    raise AssertionError("reply never finished")


async def test_streamed_reply_is_saved_and_audited(
    client_a: Client, gpt4o: ModelVersion, upstream: up.UpstreamServer, user_a: User
) -> None:
    upstream.script("gpt-4o", up.normal("Hello **there**, a streamed answer in several words.", rate=200))
    socket = await open_socket(client_a)
    await socket.send_json_to({"type": "chat.send", "request_id": "r1", "conversation_id": None, "text": "Hi!"})
    accepted, _ = await until(socket, "chat.accepted")
    assert accepted["request_id"] == "r1"
    assert accepted["model"]["label"] == "gpt-4o 2024-11-20"
    assert accepted["conversation"]["title"] == "Hi!"
    done, frames = await until(socket, "chat.done")
    text, end = assemble(frames)
    assert text == "Hello **there**, a streamed answer in several words."
    assert done["status"] == "ok"
    assert done["end"] == end == len(text)
    assert "<strong>there</strong>" in done["html"]
    assert done["model_label"] == "gpt-4o 2024-11-20"
    assert len([f for f in frames if f["type"] == "chat.delta"]) >= 1
    message = await saved(accepted["assistant_message_id"])
    assert message.content == text
    assert message.status == Message.Status.OK
    entries = await llm_entries()
    assert len(entries) == 1
    payload = entries[0].payload
    assert entries[0].status == "ok"
    assert entries[0].actor_email == user_a.email
    assert payload["response_text"] == text
    assert payload["prompt_messages"][-1] == {"role": "user", "content": "Hi!"}
    assert payload["deployment"]["deployment_name"] == "gpt-4o"
    assert payload["attempts"][0]["outcome"] == "ok"
    assert payload["timings"]["ttft_ms"] is not None
    await socket.disconnect()


async def test_follow_up_sends_history(client_a: Client, gpt4o: ModelVersion, upstream: up.UpstreamServer) -> None:
    socket = await open_socket(client_a)
    await socket.send_json_to(
        {"type": "chat.send", "conversation_id": None, "text": "First", "system_prompt": "Be brief."}
    )
    accepted, _ = await until(socket, "chat.accepted")
    await until(socket, "chat.done")
    conversation_id = accepted["conversation"]["id"]
    await socket.send_json_to({"type": "chat.send", "conversation_id": conversation_id, "text": "Second"})
    await until(socket, "chat.done")
    body = upstream.requests_to("gpt-4o")[-1].json
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert body["messages"][0]["content"] == "Be brief."
    assert body["messages"][-1]["content"] == "Second"
    await socket.disconnect()


async def test_stop_keeps_the_partial_answer(
    client_a: Client, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.stream_tokens(400, rate=40))
    socket = await open_socket(client_a)
    await socket.send_json_to({"type": "chat.send", "conversation_id": None, "text": "Long please"})
    accepted, _ = await until(socket, "chat.accepted")
    await until(socket, "chat.delta")
    await socket.send_json_to({"type": "chat.stop", "conversation_id": accepted["conversation"]["id"]})
    done, _ = await until(socket, "chat.done")
    assert done["status"] == "stopped"
    message = await saved(accepted["assistant_message_id"])
    assert message.status == Message.Status.STOPPED
    assert 0 < len(message.content) < 400 * 2
    assert (await llm_entries())[-1].status == "stopped"
    # The upstream connection was closed, not read to the end.
    assert upstream.wait_for(lambda: upstream.requests_to("gpt-4o")[-1].disconnected)
    await socket.disconnect()


async def test_disconnect_mid_reply_does_not_stop_it(
    client_a: Client, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.stream_tokens(30, rate=100))
    socket = await open_socket(client_a)
    await socket.send_json_to({"type": "chat.send", "conversation_id": None, "text": "Go"})
    accepted, _ = await until(socket, "chat.accepted")
    await until(socket, "chat.delta")
    await socket.disconnect()
    message = await wait_saved(accepted["assistant_message_id"])
    assert message.status == Message.Status.OK
    assert len(message.content.split()) == 30
    assert len(await llm_entries()) == 1


async def test_reconnect_mid_reply_gets_the_rest_without_gaps_or_duplicates(
    client_a: Client, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.stream_tokens(60, rate=60))
    first = await open_socket(client_a)
    await first.send_json_to({"type": "chat.send", "conversation_id": None, "text": "Go"})
    accepted, _ = await until(first, "chat.accepted")
    _, frames = await until(first, "chat.delta")
    _, more = await until(first, "chat.delta")
    have, end = assemble(frames + more)
    await first.disconnect()  # the tab is refreshed
    await asyncio.sleep(0.2)
    second = await open_socket(client_a)
    await second.send_json_to(
        {
            "type": "chat.join",
            "conversation_id": accepted["conversation"]["id"],
            "after": {"message_id": accepted["assistant_message_id"], "end": end},
        }
    )
    done, rest = await until(second, "chat.done")
    assert rest[0]["type"] == "chat.snapshot"
    assert rest[0]["offset"] == end
    text, final_end = assemble(rest, have, end)
    message = await saved(accepted["assistant_message_id"])
    assert text == message.content
    assert final_end == done["end"] == len(message.content)
    await second.disconnect()


async def test_fresh_join_mid_reply_starts_from_a_snapshot(
    client_a: Client, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.stream_tokens(40, rate=50))
    first = await open_socket(client_a)
    await first.send_json_to({"type": "chat.send", "conversation_id": None, "text": "Go"})
    accepted, _ = await until(first, "chat.accepted")
    _, early = await until(first, "chat.delta")
    second = await open_socket(client_a)  # a second tab
    await second.send_json_to({"type": "chat.join", "conversation_id": accepted["conversation"]["id"], "after": None})
    _, frames_b = await until(second, "chat.done")
    _, frames_a = await until(first, "chat.done")
    frames_a = early + frames_a
    text_b, _ = assemble(frames_b)
    text_a, _ = assemble(frames_a)
    message = await saved(accepted["assistant_message_id"])
    assert text_a == text_b == message.content
    await first.disconnect()
    await second.disconnect()


async def test_join_after_the_reply_ended_sends_the_saved_done(
    client_a: Client, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    socket = await open_socket(client_a)
    await socket.send_json_to({"type": "chat.send", "conversation_id": None, "text": "Go"})
    accepted, _ = await until(socket, "chat.accepted")
    done, _ = await until(socket, "chat.done")
    await socket.send_json_to(
        {
            "type": "chat.join",
            "conversation_id": accepted["conversation"]["id"],
            "after": {"message_id": accepted["assistant_message_id"], "end": 3},
        }
    )
    late, _ = await until(socket, "chat.done")
    assert late["html"] == done["html"]
    assert late["status"] == "ok"
    await socket.disconnect()


@pytest.mark.parametrize(
    ("scenario", "status", "code", "audit_status"),
    [
        (up.prompt_filtered(), "prompt_filtered", "prompt_filtered", "prompt_filtered"),
        (up.bad_key(), "error", "auth", "error"),
        (up.deployment_not_found(), "error", "deployment_not_found", "error"),
        (up.filter_mid_answer(after_tokens=3), "completion_filtered", None, "completion_filtered"),
        (up.drop(after_tokens=3), "truncated", "connection", "truncated"),
    ],
)
async def test_upstream_faults_end_in_a_clear_status_and_an_audit_entry(
    client_a: Client,
    gpt4o: ModelVersion,
    upstream: up.UpstreamServer,
    scenario: up.Scenario,
    status: str,
    code: str | None,
    audit_status: str,
) -> None:
    upstream.script("gpt-4o", scenario)
    socket = await open_socket(client_a)
    await socket.send_json_to({"type": "chat.send", "conversation_id": None, "text": "Something"})
    accepted, _ = await until(socket, "chat.accepted")
    done, _ = await until(socket, "chat.done")
    assert done["status"] == status
    if code:
        assert done["error"]["code"] == code
        assert done["error"]["message"]
    message = await saved(accepted["assistant_message_id"])
    assert message.status == status
    entries = await llm_entries()
    assert [e.status for e in entries] == [audit_status]
    await socket.disconnect()


async def test_rate_limited_primary_fails_over(
    client_a: Client, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.rate_limit(retry_after=1))
    socket = await open_socket(client_a)
    await socket.send_json_to({"type": "chat.send", "conversation_id": None, "text": "Hi"})
    done, _ = await until(socket, "chat.done")
    assert done["status"] == "ok"
    attempts = (await llm_entries())[0].payload["attempts"]
    assert [a["outcome"] for a in attempts] == ["failed_over", "ok"]
    assert attempts[1]["deployment_name"] == "gpt-4o-eu"
    await socket.disconnect()


async def test_second_send_while_answering_is_busy(
    client_a: Client, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.stream_tokens(50, rate=50))
    socket = await open_socket(client_a)
    await socket.send_json_to({"type": "chat.send", "conversation_id": None, "text": "One"})
    accepted, _ = await until(socket, "chat.accepted")
    conversation_id = accepted["conversation"]["id"]
    await socket.send_json_to(
        {"type": "chat.send", "request_id": "r2", "conversation_id": conversation_id, "text": "Two"}
    )
    error, _ = await until(socket, "error")
    assert error["code"] == "busy"
    assert error["request_id"] == "r2"
    await socket.send_json_to({"type": "chat.stop", "conversation_id": conversation_id})
    await until(socket, "chat.done")
    await socket.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "chat.send", "conversation_id": None, "text": "   "}, "empty"),
        ({"type": "chat.send", "conversation_id": None, "text": "x" * 32_001}, "too_long"),
        ({"type": "chat.send", "conversation_id": "1", "text": "hi"}, "bad_frame"),
        (
            {"type": "chat.send", "conversation_id": None, "text": "hi", "model_version_id": 999_999},
            "model_unavailable",
        ),
        ({"type": "chat.join", "conversation_id": 999_999, "after": None}, "not_found"),
        ({"type": "chat.join", "conversation_id": 1, "after": {"message_id": "x"}}, "bad_frame"),
        ({"type": "chat.regenerate", "conversation_id": 999_999}, "not_found"),
        ({"type": "chat.bogus"}, "unknown_type"),
    ],
)
async def test_bad_frames_get_error_frames_and_nothing_is_saved(
    client_a: Client, gpt4o: ModelVersion, frame: dict[str, Any], code: str
) -> None:
    socket = await open_socket(client_a)
    await socket.send_json_to({**frame, "request_id": "bad"})
    error, _ = await until(socket, "error")
    assert error["code"] == code
    assert error["message"]
    assert await database_sync_to_async(Message.objects.count)() == 0
    await socket.send_json_to({"type": "ping"})
    assert (await until(socket, "pong"))[0] == {"type": "pong"}
    await socket.disconnect()


async def test_retired_or_forbidden_model_is_refused(
    client_b: Client, gpt4o: ModelVersion, o3mini: ModelVersion
) -> None:
    socket = await open_socket(client_b)  # tenant B may use o3-mini, not gpt-4o
    await socket.send_json_to(
        {"type": "chat.send", "conversation_id": None, "text": "hi", "model_version_id": gpt4o.pk}
    )
    assert (await until(socket, "error"))[0]["code"] == "model_unavailable"
    await database_sync_to_async(ModelVersion.objects.filter(pk=o3mini.pk).update)(status="retired")
    await socket.send_json_to(
        {"type": "chat.send", "conversation_id": None, "text": "hi", "model_version_id": o3mini.pk}
    )
    assert (await until(socket, "error"))[0]["code"] == "model_unavailable"
    await socket.disconnect()


async def test_flooding_is_rate_limited(client_a: Client, gpt4o: ModelVersion) -> None:
    socket = await open_socket(client_a)
    for _ in range(40):
        await socket.send_json_to({"type": "ping"})
    codes = []
    for _ in range(40):
        frame = await socket.receive_json_from()
        codes.append(frame.get("code", frame["type"]))
    assert "rate_limited" in codes
    assert codes.count("pong") >= 20
    await socket.disconnect()


async def test_other_users_and_tenants_conversations_are_not_found(
    client_a: Client, client_b: Client, gpt4o: ModelVersion, o3mini: ModelVersion, tenant_a: Tenant, user_a: User
) -> None:
    socket_a = await open_socket(client_a)
    await socket_a.send_json_to({"type": "chat.send", "conversation_id": None, "text": "secret of A"})
    accepted, _ = await until(socket_a, "chat.accepted")
    await until(socket_a, "chat.done")
    conversation_id = accepted["conversation"]["id"]
    colleague = await database_sync_to_async(
        lambda: User.objects.create(tenant=tenant_a, email="carol@alpha.example")
    )()
    for intruder in (client_b, await database_sync_to_async(signed_in)(colleague)):
        socket = await open_socket(intruder)
        for frame in (
            {"type": "chat.join", "conversation_id": conversation_id, "after": None},
            {"type": "chat.send", "conversation_id": conversation_id, "text": "let me in"},
            {"type": "chat.stop", "conversation_id": conversation_id},
            {"type": "chat.regenerate", "conversation_id": conversation_id},
            {"type": "chat.edit", "conversation_id": conversation_id, "text": "x"},
        ):
            await socket.send_json_to(frame)
            error, seen = await until(socket, "error")
            assert error["code"] == "not_found"
            assert all("secret of A" not in str(f) for f in seen)
        await socket.disconnect()
    count = await database_sync_to_async(lambda: Conversation.objects.get(pk=conversation_id).messages.count())()
    assert count == 2
    await socket_a.disconnect()


async def test_notice_updates_reach_open_pages_of_the_right_tenants(
    client_a: Client, client_b: Client, tenant_b: Tenant, user_a: User
) -> None:
    from chat.models import Notice, NoticeAcknowledgement
    from chat.services import notice_save

    socket_a = await open_socket(client_a)
    socket_b = await open_socket(client_b)
    notice = await database_sync_to_async(notice_save)(notice=Notice(web_text_en="Keep secrets out of Slack."))
    for socket in (socket_a, socket_b):
        update, _ = await until(socket, "notice.updated")
        assert update["notice"]["text"] == "Keep secrets out of Slack."
        assert update["notice"]["acknowledged"] is False
    # A company's own override reaches only that company.
    await database_sync_to_async(notice_save)(notice=Notice(tenant=tenant_b, web_text_en="Beta: ask legal first."))
    update_b, _ = await until(socket_b, "notice.updated")
    assert update_b["notice"]["text"] == "Beta: ask legal first."
    assert await socket_a.receive_nothing(timeout=0.3)
    await socket_a.send_json_to({"type": "notice.ack", "version": notice.version})
    await socket_a.send_json_to({"type": "ping"})
    await until(socket_a, "pong")
    assert await database_sync_to_async(NoticeAcknowledgement.objects.filter(user=user_a).count)() == 1
    await socket_a.send_json_to({"type": "notice.ack", "version": 99})
    assert (await until(socket_a, "error"))[0]["code"] == "not_found"
    await socket_a.disconnect()
    await socket_b.disconnect()
