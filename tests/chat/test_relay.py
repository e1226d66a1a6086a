"""The reply relay under pressure: sockets that fall behind are resynced, gaps are repaired, stop reaches another
process without polling, and a reply costs a fixed number of database writes and no new connections."""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from collections import Counter
from datetime import timedelta
from typing import Any, cast

import aiohttp
import pytest
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.test import Client
from django.utils import timezone, translation

from audit.models import AuditOutbox
from chat import relay
from chat.consumers import ChatConsumer
from chat.models import Conversation, Message
from chat.outcome import ReplyOutcome
from chat.relay import Frame, Watcher
from chat.services import chat_reply_finalize, chat_stale_replies_close, chat_turn_start
from llm.models import ModelVersion
from tenants.models import Tenant, User
from tests.chat.test_consumer import assemble, open_socket, saved, until
from tests.live import DaphneServer
from tests.upstream import server as up

pytestmark = pytest.mark.django_db(transaction=True)
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture(autouse=True)
async def _fresh_hub() -> Any:
    yield
    await relay.reset()


def words(n: int) -> str:
    return "".join(f" w{i}" for i in range(n))


# --- A socket that falls behind -------------------------------------------------------------------------------------
async def test_sockets_over_capacity_are_resynced_and_every_text_equals_the_saved_answer(
    client_a: Client,
    client_b: Client,
    gpt4o: ModelVersion,
    o3mini: ModelVersion,
    upstream: up.UpstreamServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each socket may queue one delta; its writer is slowed to 100 ms a frame while deltas come every 40 ms: the
    # outboxes overflow over and over, deltas are dropped, and only a snapshot from the buffer can repair them.
    monkeypatch.setattr(Watcher, "capacity", 1)
    original = ChatConsumer._send_text

    async def slow_send(self: ChatConsumer, text: str) -> None:
        await asyncio.sleep(0.1)
        await original(self, text)

    monkeypatch.setattr(ChatConsumer, "_send_text", slow_send)
    upstream.script("gpt-4o", *[up.stream_tokens(150, rate=200) for _ in range(3)])
    upstream.script("o3-mini", up.stream_tokens(150, rate=200))
    sockets = [await open_socket(client_a) for _ in range(3)] + [await open_socket(client_b)]
    for index, socket in enumerate(sockets):
        await socket.send_json_to({"type": "chat.send", "conversation_id": None, "text": f"Count {index}"})
    accepted = [(await until(socket, "chat.accepted"))[0] for socket in sockets]
    # A second tab of A's first conversation joins mid-reply, also over capacity.
    _, early = await until(sockets[0], "chat.delta")
    watcher = await open_socket(client_a)
    await watcher.send_json_to({"type": "chat.join", "conversation_id": accepted[0]["conversation"]["id"]})
    results = [await until(socket, "chat.done", wait=30) for socket in [*sockets, watcher]]
    results[0] = (results[0][0], early + results[0][1])

    snapshots = 0
    for index, (done, frames) in enumerate(results):
        own = accepted[index if index < len(sockets) else 0]
        text, end = assemble(frames)  # fails on any gap the client would see
        message = await saved(own["assistant_message_id"])
        assert message.status == Message.Status.OK
        assert text == message.content == words(150)
        assert done["end"] == end == len(text)
        snapshots += sum(1 for frame in frames if frame["type"] == "chat.snapshot")
        # Tenant B's socket saw only its own reply; A's sockets never saw B's.
        assert {frame.get("conversation_id") for frame in frames if "conversation_id" in frame} == {
            own["conversation"]["id"]
        }
    assert snapshots > 4  # the repair path really ran (not merely merged deltas)
    for socket in [*sockets, watcher]:
        await socket.disconnect()


async def test_watcher_repairs_a_gap_trims_overlaps_and_completes_before_done() -> None:
    """Frames lost on the way (a dropped pub/sub message) are fetched from the reply text, once, in order."""
    sent: list[dict[str, Any]] = []
    full = "Hello, 世界! and the rest."

    async def send(text: str) -> None:
        sent.append(json.loads(text))

    async def read_text(message_id: int) -> str | None:
        assert message_id == 7
        return full

    watcher = Watcher(send, read_text)

    def delta(offset: int, end: int) -> Frame:
        return Frame(
            {
                "type": "chat.delta",
                "conversation_id": 3,
                "message_id": 7,
                "offset": offset,
                "end": end,
                "text": full[offset:end],
            }
        )

    watcher.push(delta(0, 5))
    watcher.push(delta(9, 12))  # 5..9 lost: a gap
    watcher.push(delta(3, 14))  # overlaps what the snapshot brought
    watcher.push(Frame({"type": "chat.done", "conversation_id": 3, "message_id": 7, "end": len(full)}))
    for _ in range(100):
        if sent and sent[-1]["type"] == "chat.done":
            break
        await asyncio.sleep(0.01)
    watcher.close()
    text, end = assemble(sent)
    assert text == full
    assert end == len(full)
    assert [f["type"] for f in sent] == ["chat.delta", "chat.snapshot", "chat.done"]
    assert sent[1]["offset"] == 5  # from what the socket had, not from the start
    assert "世界" in sent[1]["text"]
    assert "\\u4e16" not in relay.encode(sent[1])  # UTF-8 frames, not \\u escapes


# --- Stop across processes ------------------------------------------------------------------------------------------
def test_stop_from_another_process_reaches_the_reply_through_the_control_channel(
    client_a: Client, client_b: Client, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.stream_tokens(600, rate=30))
    cookie = client_a.cookies["sessionid"].value
    cookie_b = client_b.cookies["sessionid"].value

    async def socket(session: aiohttp.ClientSession, server: DaphneServer, sessionid: str) -> Any:
        ws = await session.ws_connect(
            server.ws_url, headers={"Origin": "http://127.0.0.1", "Cookie": f"sessionid={sessionid}"}
        )
        assert json.loads((await ws.receive(timeout=10)).data)["type"] == "session.ready"
        return ws

    async def until_type(ws: Any, kind: str) -> dict[str, Any]:
        while True:
            frame = json.loads((await ws.receive(timeout=20)).data)
            if frame["type"] == kind:
                return frame

    async def scenario(one: DaphneServer, two: DaphneServer) -> tuple[dict[str, Any], dict[str, Any], int, Any]:
        async with aiohttp.ClientSession() as session:
            ws_one = await socket(session, one, cookie)
            await ws_one.send_json({"type": "chat.send", "conversation_id": None, "text": "Talk for a while"})
            accepted = await until_type(ws_one, "chat.accepted")
            await until_type(ws_one, "chat.delta")
            conversation_id = accepted["conversation"]["id"]
            # Tenant B cannot stop A's reply from either process: the conversation is not found for them.
            ws_b = await socket(session, two, cookie_b)
            await ws_b.send_json({"type": "chat.stop", "conversation_id": conversation_id})
            refused = await until_type(ws_b, "error")
            ws_two = await socket(session, two, cookie)
            await ws_two.send_json({"type": "chat.join", "conversation_id": conversation_id, "after": None})
            await until_type(ws_two, "chat.snapshot")
            await ws_two.send_json({"type": "chat.stop", "conversation_id": conversation_id})
            done_two = await until_type(ws_two, "chat.done")
            done_one = await until_type(ws_one, "chat.done")
            for ws in (ws_one, ws_two, ws_b):
                await ws.close()
            return done_one, done_two, accepted["assistant_message_id"], refused

    with DaphneServer(redis_url=REDIS_URL) as one, DaphneServer(redis_url=REDIS_URL) as two:
        done_one, done_two, message_id, refused = asyncio.run(scenario(one, two))
    assert refused["code"] == "not_found"
    assert done_one["status"] == done_two["status"] == "stopped"
    message = Message.objects.get(pk=message_id)
    assert message.status == Message.Status.STOPPED
    assert 0 < len(message.content.split()) < 600  # stopped well before the 20 s answer ended
    assert done_one["end"] == done_two["end"] == len(message.content)
    assert upstream.wait_for(lambda: upstream.requests_to("gpt-4o")[-1].disconnected)


# --- Database cost of a turn ----------------------------------------------------------------------------------------
@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every SQL statement run on any thread (the engine's database work runs on executor threads), by verb and
    table: ``Counter({"INSERT chat_message": 2, ...})``."""
    seen: Counter[str] = Counter()
    lock = threading.Lock()
    original = CursorWrapper._execute  # type: ignore[attr-defined]  # private: the one place every statement passes

    def counting(self: CursorWrapper, sql: str, params: Any, *ignored: Any) -> Any:
        match = re.match(r'\s*(INSERT INTO|UPDATE|DELETE FROM|SELECT)\s.*?(?:FROM\s+)?"(\w+)"', sql, re.S)
        if match:
            verb = match.group(1).split()[0]
            with lock:
                seen[f"{verb} {match.group(2)}"] += 1
        return original(self, sql, params, *ignored)

    monkeypatch.setattr(CursorWrapper, "_execute", counting)
    return seen


def writes(seen: Counter[str], tables: tuple[str, ...]) -> int:
    return sum(
        n for key, n in seen.items() if key.split()[0] in ("INSERT", "UPDATE", "DELETE") and key.split()[1] in tables
    )


async def test_a_long_reply_costs_a_fixed_number_of_writes_and_queries(
    client_a: Client, user_b: User, gpt4o: ModelVersion, upstream: up.UpstreamServer, statements: Counter[str]
) -> None:
    # 150 tokens at 40/s: almost 4 s of streaming, long enough for any periodic checkpoint to show.
    upstream.script("gpt-4o", up.stream_tokens(150, rate=40))
    socket = await open_socket(client_a)
    statements.clear()
    await socket.send_json_to({"type": "chat.send", "conversation_id": None, "text": "Go on"})
    await until(socket, "chat.accepted")
    during = Counter(statements)
    done, _ = await until(socket, "chat.done", wait=20)
    assert done["status"] == "ok"
    total = Counter(statements)
    reply_writes = writes(total, ("chat_message", "chat_conversation"))
    # user message, assistant message, conversation (turn start); answer, conversation (finalise)
    assert reply_writes <= 5, dict(total)
    assert total["INSERT audit_auditoutbox"] == 1
    # Nothing touches the database while the text streams: everything after chat.accepted is the finalisation.
    streamed = total - during
    assert sum(streamed.values()) <= 12, streamed
    assert sum(total.values()) <= 40, total
    await socket.disconnect()


async def test_turns_reuse_pooled_connections(
    client_a: Client, user_b: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    socket = await open_socket(client_a)

    async def turn(text: str) -> None:
        await socket.send_json_to({"type": "chat.send", "conversation_id": None, "text": text})
        done, _ = await until(socket, "chat.done")
        assert done["status"] == "ok"

    for index in range(3):
        await turn(f"warm {index}")
    if connection.vendor != "postgresql":
        # SQLite (the embedded mode) has no pool: each thread opens its file; still no error and every turn saved.
        answers = Message.objects.filter(role=Message.Role.ASSISTANT, status=Message.Status.OK)
        assert await relay.db_async(answers.count)() == 3
        await socket.disconnect()
        return
    pool = cast(DatabaseWrapper, connection).pool
    before = pool.get_stats()["connections_num"]
    for index in range(10):
        await turn(f"steady {index}")
    stats = pool.get_stats()
    assert stats["connections_num"] == before  # no new PostgreSQL connection for ten more turns
    # Every turn's connection went back. Two may stay out: the test's own thread, and asgiref's thread-sensitive
    # thread used by the handshake, whose connection channels' test communicator keeps open (it stubs out
    # channels.db.close_old_connections while a test waits on it; daphne does not).
    assert stats["pool_size"] - stats["pool_available"] <= 2
    await socket.disconnect()


# --- Liveness and the stale-reply sweep -----------------------------------------------------------------------------
async def test_the_stale_sweep_skips_live_replies_and_keeps_the_buffered_text_of_dead_ones(
    user_a: User, user_b: User, gpt4o: ModelVersion, o3mini: ModelVersion
) -> None:
    starts = [
        await relay.db_async(chat_turn_start)(tenant=user.tenant, user=user, conversation_id=None, text="hi")
        for user in (user_a, user_b)
    ]
    hub = relay.hub()
    for start, text in zip(starts, ("Alpha's partial", "Beta's partial"), strict=True):
        hub.buffer_begin(start.assistant_message_id)
        hub.buffer_append(start.assistant_message_id, text)
        hub.alive(start.assistant_message_id)
    await hub.drain()
    ids = [s.assistant_message_id for s in starts]
    # Both started long ago and never wrote to the database since: only liveness tells they still run.
    await relay.db_async(Message.objects.filter(pk__in=ids).update)(updated_at=timezone.now() - timedelta(minutes=10))
    assert await relay.db_async(chat_stale_replies_close)() == 0

    hub.not_alive(ids[0])  # the process running A's reply died: its heartbeat stops
    await hub.drain()
    assert await relay.db_async(chat_stale_replies_close)() == 1
    closed = await relay.db_async(Message.objects.get)(pk=ids[0])
    assert closed.status == Message.Status.TRUNCATED
    assert closed.content == "Alpha's partial"  # from the reply buffer, not a checkpoint
    still = await relay.db_async(Message.objects.get)(pk=ids[1])
    assert still.status == Message.Status.STREAMING
    entries = await relay.db_async(list)(AuditOutbox.objects.filter(event_type="llm.chat"))
    assert [(e.tenant_id, e.payload["response_text"]) for e in entries] == [(user_a.tenant_id, "Alpha's partial")]
    assert entries[0].payload["prompt_messages"] == [{"role": "user", "content": "hi"}]  # the question is kept
    assert closed.error_code == "interrupted"
    hub.not_alive(ids[1])
    await hub.drain()


def test_an_answer_the_sweep_closed_is_not_saved_or_audited_again(
    user_a: User, user_b: User, gpt4o: ModelVersion
) -> None:
    start = chat_turn_start(tenant=user_a.tenant, user=user_a, conversation_id=None, text="hi")
    Message.objects.filter(pk=start.assistant_message_id).update(updated_at=timezone.now() - timedelta(minutes=10))
    assert chat_stale_replies_close() == 1
    outcome = ReplyOutcome()
    outcome.finish("ok")
    assert chat_reply_finalize(start=start, outcome=outcome) is False
    assert Message.objects.get(pk=start.assistant_message_id).status == Message.Status.TRUNCATED
    assert AuditOutbox.objects.filter(event_type="llm.chat").count() == 1


def test_a_slack_answer_the_sweep_closes_keeps_its_thread_and_question_in_the_audit(
    user_a: User, user_b: User, tenant_a: Tenant, gpt4o: ModelVersion
) -> None:
    conversation = Conversation.objects.create(
        tenant=tenant_a, user=None, source=Conversation.Source.SLACK, slack_key="alpha:C1:1700000000.000100"
    )
    Message.objects.create(tenant=tenant_a, conversation=conversation, role=Message.Role.USER, content="summarise")
    answer = Message.objects.create(
        tenant=tenant_a,
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        status=Message.Status.STREAMING,
        model_label=gpt4o.label,
    )
    Message.objects.filter(pk=answer.pk).update(updated_at=timezone.now() - timedelta(minutes=10))
    with translation.override("en"):
        assert chat_stale_replies_close() == 1
    answer.refresh_from_db()
    assert answer.error_message == "The answer was interrupted on the server. Ask again to try once more."
    entry = AuditOutbox.objects.get(event_type="llm.chat")
    assert entry.tenant_id == tenant_a.pk
    assert entry.channel == "slack"
    assert entry.payload["channel_detail"] == {"workspace": "alpha", "channel": "C1", "thread_ts": "1700000000.000100"}
    assert entry.payload["prompt_messages"] == [{"role": "user", "content": "summarise"}]
