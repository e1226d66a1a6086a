"""A sidebar that stays true: ``conversation.updated`` / ``folders.updated`` to every tab of the owner (and nobody
else), after commit; pins and folders through the JSON API; titles summarised by the model after the first answer."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import AuditOutbox
from chat.models import Conversation, Folder, Message
from chat.outcome import ReplyOutcome
from chat.selectors import title_subject
from chat.services import (
    MAX_FOLDERS,
    chat_reply_finalize,
    chat_turn_start,
    conversation_pin,
    conversation_rename,
    title_from,
)
from chat.titles import conversation_title_make, conversation_title_record, title_call, title_clean, title_job
from llm.client import TextDelta
from llm.models import ModelVersion
from tenants.models import Tenant, User
from tenants.services import user_create
from tests.chat.test_consumer import open_socket, until
from tests.conftest import signed_in
from tests.upstream import server as up
from usage.models import UsageDaily

ANSWER = "Sales grew 12% in the quarter, led by the Osaka office."


# --- helpers --------------------------------------------------------------------------------------------------------
def post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


async def apost(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return await database_sync_to_async(post)(client, url, body)


async def frame_of(
    socket: WebsocketCommunicator,
    kind: str = "conversation.updated",
    match: Callable[[dict[str, Any]], bool] = lambda frame: True,
    wait: float = 10,
) -> dict[str, Any]:
    """The next frame of type ``kind`` that ``match``es (other frames are skipped)."""
    deadline = time.monotonic() + wait
    while True:
        frame, _ = await until(socket, kind, wait=max(0.1, deadline - time.monotonic()))
        if match(frame):
            return frame


def about(conversation_id: int, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    """A ``conversation.updated`` frame about this conversation with these field values."""

    def check(frame: dict[str, Any]) -> bool:
        state = frame["conversation"]
        return state["id"] == conversation_id and all(state.get(k) == v for k, v in fields.items())

    return check


async def nothing_for(*sockets: WebsocketCommunicator) -> None:
    for socket in sockets:
        assert await socket.receive_nothing(timeout=0.3), "a socket got a frame meant for someone else"


@database_sync_to_async
def colleague_of(user: User) -> User:
    return user_create(tenant=user.tenant, email=f"colleague@{user.email.split('@')[1]}")


@database_sync_to_async
def socket_clients(*users: User) -> list[Client]:
    return [signed_in(user) for user in users]


async def sockets_of(*users: User) -> list[WebsocketCommunicator]:
    return [await open_socket(client) for client in await socket_clients(*users)]


def conversation_of(user: User, title: str = "Quarterly plan", **fields: Any) -> Conversation:
    return Conversation.objects.create(tenant_id=user.tenant_id, user=user, title=title, **fields)


def title_requests(upstream: up.UpstreamServer, deployment: str = "gpt-4o") -> list[up.RecordedRequest]:
    """The title calls: the only non-streamed requests the chat makes."""
    return [r for r in upstream.requests_to(deployment) if r.json and not r.json.get("stream")]


async def wait_until(predicate: Callable[[], Any], wait: float = 15) -> Any:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        result = await database_sync_to_async(predicate)()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError("condition never held")


# --- conversation.updated: every tab of the owner, nobody else ------------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_a_new_chat_in_one_tab_reaches_the_other_tab_only(
    user_a: User, user_b: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.normal(ANSWER))
    colleague = await colleague_of(user_a)
    tab1, tab2, other, b = await sockets_of(user_a, user_a, colleague, user_b)
    await tab1.send_json_to({"type": "chat.send", "request_id": "r1", "conversation_id": None, "text": "Q3 sales?"})
    accepted, _ = await until(tab1, "chat.accepted")
    conversation = accepted["conversation"]
    assert conversation["title"] == "Q3 sales?"
    assert conversation["updated_at"]  # chat.accepted carries it (docs/websocket-protocol.md)

    created = await frame_of(tab2, match=about(conversation["id"]))
    assert created == {
        "type": "conversation.updated",
        "conversation": {
            "id": conversation["id"],
            "title": "Q3 sales?",
            "updated_at": conversation["updated_at"],
            "pinned": False,
            "folder_id": None,
            "source": "web",
        },
    }
    # When the answer is saved the conversation moves up again (activity), in both tabs.
    moved = await frame_of(tab2, match=lambda f: f["conversation"]["updated_at"] > conversation["updated_at"])
    assert moved["conversation"]["id"] == conversation["id"]
    _, seen = await until(tab1, "chat.done")  # the two frames may come in either order

    def later(frame: dict[str, Any]) -> bool:
        return frame["conversation"]["updated_at"] > conversation["updated_at"]

    if not any(f["type"] == "conversation.updated" and later(f) for f in seen):
        await frame_of(tab1, match=later)
    stored = await Conversation.objects.aget(pk=conversation["id"])
    assert moved["conversation"]["updated_at"] == stored.updated_at.isoformat()
    await nothing_for(other, b)  # another person of the company, another company
    for socket in (tab1, tab2, other, b):
        await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_rename_pin_folder_and_delete_reach_every_tab_of_the_owner(user_a: User, user_b: User) -> None:
    conversation = await database_sync_to_async(conversation_of)(user_a)
    client_a, client_b = await socket_clients(user_a, user_b)
    tab1, tab2, b = await sockets_of(user_a, user_a, user_b)
    base = f"/api/conversations/{conversation.pk}"

    assert (await apost(client_a, f"{base}/rename/", {"title": "Budget 2026"})).status_code == 200
    for tab in (tab1, tab2):
        frame = await frame_of(tab, match=about(conversation.pk, title="Budget 2026"))
        assert set(frame["conversation"]) == {"id", "title", "updated_at", "pinned", "folder_id", "source"}

    assert (await apost(client_a, f"{base}/pin/", {"pinned": True})).status_code == 200
    for tab in (tab1, tab2):
        await frame_of(tab, match=about(conversation.pk, pinned=True, title="Budget 2026"))

    created = await apost(client_a, "/api/folders/", {"name": "Finance"})
    assert created.status_code == 201
    folder_id = created.json()["folder"]["id"]
    for tab in (tab1, tab2):
        frame = await frame_of(tab, "folders.updated")
        assert frame["folders"] == [{"id": folder_id, "name": "Finance", "position": 0}]

    assert (await apost(client_a, f"{base}/folder/", {"folder_id": folder_id})).status_code == 200
    for tab in (tab1, tab2):
        await frame_of(tab, match=about(conversation.pk, folder_id=folder_id, pinned=True))

    # B cannot touch A's conversation, and A's tabs hear nothing of B's attempt.
    assert (await apost(client_b, f"{base}/pin/", {"pinned": False})).status_code == 404

    assert (await apost(client_a, f"{base}/delete/", {})).status_code == 200
    for tab in (tab1, tab2):
        frame = await frame_of(tab, match=about(conversation.pk, deleted=True))
        assert frame == {"type": "conversation.updated", "conversation": {"id": conversation.pk, "deleted": True}}
    await nothing_for(b, tab1, tab2)
    for socket in (tab1, tab2, b):
        await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_frames_are_sent_after_commit_and_never_for_a_rolled_back_change(user_a: User) -> None:
    conversation = await database_sync_to_async(conversation_of)(user_a)
    (tab,) = await sockets_of(user_a)

    class RolledBackError(Exception):
        pass

    def pin_then_fail() -> None:
        try:
            with transaction.atomic():
                conversation_pin(tenant=user_a.tenant, user=user_a, conversation=conversation, pinned=True)
                raise RolledBackError
        except RolledBackError:
            pass

    await database_sync_to_async(pin_then_fail)()
    await nothing_for(tab)
    assert not (await Conversation.objects.aget(pk=conversation.pk)).pinned

    def pin_slowly() -> None:
        with transaction.atomic():
            conversation_pin(tenant=user_a.tenant, user=user_a, conversation=conversation, pinned=True)
            time.sleep(0.6)  # the change is made, not committed yet

    slow = asyncio.ensure_future(database_sync_to_async(pin_slowly)())
    await nothing_for(tab)  # nothing while the transaction is open
    await slow
    await frame_of(tab, match=about(conversation.pk, pinned=True))
    await tab.disconnect()


@pytest.mark.django_db
def test_finalising_an_answer_reads_the_sidebar_state_in_its_one_conversation_statement(
    user_a: User, tenant_a: Tenant, gpt4o: ModelVersion
) -> None:
    start = chat_turn_start(tenant=tenant_a, user=user_a, conversation_id=None, text="Hi")
    assert start.conversation_updated_at
    assert start.title_wanted
    outcome = ReplyOutcome()
    outcome.apply(TextDelta("Hello"))
    outcome.finish("ok")
    with CaptureQueriesContext(connection) as queries:
        assert chat_reply_finalize(start=start, outcome=outcome)
    touching = [q["sql"] for q in queries.captured_queries if "chat_conversation" in q["sql"]]
    assert len(touching) == 1, touching  # the UPDATE that moves it up also returns what the frame needs
    assert touching[0].startswith("UPDATE")


# --- The JSON API: pins, folders, the list ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_pin_and_list_order_pinned_first_then_newest(client_a: Client, user_a: User) -> None:
    old = conversation_of(user_a, "old")
    middle = conversation_of(user_a, "middle")
    new = conversation_of(user_a, "new")
    for rank, conversation in enumerate((old, middle, new)):
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=datetime(2025, 1, rank + 1, 10, tzinfo=UTC))
    response = post(client_a, f"/api/conversations/{old.pk}/pin/", {"pinned": True})
    assert response.status_code == 200
    assert response.json()["conversation"]["pinned"] is True
    assert response.json()["conversation"]["updated_at"].startswith("2025-01-01")  # pinning is not activity
    data = client_a.get("/api/conversations/").json()
    assert [c["title"] for c in data["conversations"]] == ["old", "new", "middle"]
    assert [c["pinned"] for c in data["conversations"]] == [True, False, False]
    assert {c["folder_id"] for c in data["conversations"]} == {None}
    assert data["folders"] == []
    unpinned = post(client_a, f"/api/conversations/{old.pk}/pin/", {"pinned": False})
    assert unpinned.json()["conversation"]["pinned"] is False
    assert [c["title"] for c in client_a.get("/api/conversations/").json()["conversations"]] == ["new", "middle", "old"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["yes", 1, None, [True]])
def test_pin_takes_only_true_or_false(client_a: Client, user_a: User, value: object) -> None:
    conversation = conversation_of(user_a)
    response = post(client_a, f"/api/conversations/{conversation.pk}/pin/", {"pinned": value})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_value"
    assert "pinned" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_pin_and_folder_of_someone_elses_conversation_are_404(
    client_a: Client, client_b: Client, user_a: User, user_b: User
) -> None:
    colleague = user_create(tenant=user_a.tenant, email="carol@alpha.example")
    for owner in (user_b, colleague):  # another company's, a colleague's
        theirs = conversation_of(owner)
        for url, body in (("pin/", {"pinned": True}), ("folder/", {"folder_id": None})):
            response = post(client_a, f"/api/conversations/{theirs.pk}/{url}", body)
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "not_found"
        theirs.refresh_from_db()
        assert theirs.pinned is False
    assert post(client_a, "/api/conversations/999999/pin/", {"pinned": True}).status_code == 404
    assert client_a.get("/api/conversations/1/pin/").status_code == 405


@pytest.mark.django_db
def test_folders_create_list_rename_move_and_delete(client_a: Client, client_b: Client, user_a: User) -> None:
    ids = []
    for name in ("Finance", "  Legal   team ", "HR"):
        response = post(client_a, "/api/folders/", {"name": name})
        assert response.status_code == 201
        ids.append(response.json()["folder"]["id"])
    listed = client_a.get("/api/folders/").json()["folders"]
    assert listed == [
        {"id": ids[0], "name": "Finance", "position": 0},
        {"id": ids[1], "name": "Legal team", "position": 1},
        {"id": ids[2], "name": "HR", "position": 2},
    ]
    assert client_b.get("/api/folders/").json() == {"folders": []}

    moved = post(client_a, f"/api/folders/{ids[2]}/move/", {"position": 0}).json()["folders"]
    assert [f["id"] for f in moved] == [ids[2], ids[0], ids[1]]
    assert [f["position"] for f in moved] == [0, 1, 2]
    moved = post(client_a, f"/api/folders/{ids[2]}/move/", {"position": 99}).json()["folders"]
    assert [f["id"] for f in moved] == [ids[0], ids[1], ids[2]]

    renamed = post(client_a, f"/api/folders/{ids[0]}/rename/", {"name": "経理"})
    assert renamed.json() == {"folder": {"id": ids[0], "name": "経理", "position": 0}}

    conversation = conversation_of(user_a)
    filed = post(client_a, f"/api/conversations/{conversation.pk}/folder/", {"folder_id": ids[0]})
    assert filed.json()["conversation"]["folder_id"] == ids[0]
    data = client_a.get("/api/conversations/").json()
    assert data["conversations"][0]["folder_id"] == ids[0]
    assert [f["name"] for f in data["folders"]] == ["経理", "Legal team", "HR"]

    assert post(client_a, f"/api/folders/{ids[0]}/delete/").json() == {"ok": True}
    conversation.refresh_from_db()
    assert conversation.folder_id is None  # the conversation stays, in no folder
    assert [f["id"] for f in client_a.get("/api/folders/").json()["folders"]] == [ids[1], ids[2]]

    unfiled = post(client_a, f"/api/conversations/{conversation.pk}/folder/", {"folder_id": ids[1]})
    assert unfiled.json()["conversation"]["folder_id"] == ids[1]
    unfiled = post(client_a, f"/api/conversations/{conversation.pk}/folder/", {"folder_id": None})
    assert unfiled.json()["conversation"]["folder_id"] is None


@pytest.mark.django_db
def test_folders_of_other_people_and_companies_are_404(client_a: Client, user_a: User, user_b: User) -> None:
    colleague = user_create(tenant=user_a.tenant, email="carol@alpha.example")
    mine = conversation_of(user_a)
    for owner in (user_b, colleague):
        folder = Folder.objects.create(tenant_id=owner.tenant_id, user=owner, name="Theirs")
        for url, body in (
            (f"/api/folders/{folder.pk}/rename/", {"name": "Mine now"}),
            (f"/api/folders/{folder.pk}/move/", {"position": 0}),
            (f"/api/folders/{folder.pk}/delete/", {}),
            (f"/api/conversations/{mine.pk}/folder/", {"folder_id": folder.pk}),
        ):
            response = post(client_a, url, body)
            assert response.status_code == 404, url
            assert response.json()["error"] == {"code": "not_found", "message": "This folder does not exist."}
        folder.refresh_from_db()
        assert folder.name == "Theirs"
    mine.refresh_from_db()
    assert mine.folder_id is None
    missing = post(client_a, "/api/folders/999999/rename/", {"name": "x"})
    assert missing.json() == post(client_a, f"/api/folders/{folder.pk}/rename/", {"name": "x"}).json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "   "}, "empty"),
        ({}, "empty"),
        ({"name": 7}, "empty"),
        ({"name": "x" * 101}, "too_long"),
        ({"name": "a\x00b"}, "bad_text"),
        ({"name": "a\ud800b"}, "bad_text"),
    ],
)
def test_folder_names_are_validated(client_a: Client, user_a: User, body: dict[str, Any], code: str) -> None:
    response = client_a.post("/api/folders/", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    folder = Folder.objects.create(tenant_id=user_a.tenant_id, user=user_a, name="Kept")
    renamed = client_a.post(f"/api/folders/{folder.pk}/rename/", data=json.dumps(body), content_type="application/json")
    assert renamed.json()["error"]["code"] == code
    assert Folder.objects.get(pk=folder.pk).name == "Kept"


@pytest.mark.django_db
def test_a_folder_name_of_100_characters_is_fine_and_positions_are_whole_numbers(client_a: Client) -> None:
    created = post(client_a, "/api/folders/", {"name": "界" * 100})
    assert created.status_code == 201
    folder_id = created.json()["folder"]["id"]
    for position in ("1", 1.5, None, True):
        response = post(client_a, f"/api/folders/{folder_id}/move/", {"position": position})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_value"


@pytest.mark.django_db
def test_at_most_200_folders_per_person(client_a: Client, client_b: Client, user_a: User) -> None:
    Folder.objects.bulk_create(
        Folder(tenant_id=user_a.tenant_id, user=user_a, name=f"f{i}", position=i) for i in range(MAX_FOLDERS)
    )
    response = post(client_a, "/api/folders/", {"name": "one more"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_folders"
    assert "200" in response.json()["error"]["message"]
    assert post(client_b, "/api/folders/", {"name": "B's first"}).status_code == 201  # per person


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["3", True, 1.0, {"id": 1}])
def test_folder_id_must_be_an_id_or_null(client_a: Client, user_a: User, value: object) -> None:
    conversation = conversation_of(user_a)
    response = post(client_a, f"/api/conversations/{conversation.pk}/folder/", {"folder_id": value})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_value"
    assert post(client_a, f"/api/conversations/{conversation.pk}/folder/", {}).status_code == 400


@pytest.mark.django_db
def test_rename_marks_the_title_as_the_persons(client_a: Client, user_a: User) -> None:
    conversation = conversation_of(user_a)
    response = post(client_a, f"/api/conversations/{conversation.pk}/rename/", {"title": "  Mine  "})
    assert response.json()["conversation"]["title"] == "Mine"
    assert response.json()["conversation"]["title_source"] == "person"
    conversation.refresh_from_db()
    assert conversation.title_source == Conversation.TitleSource.PERSON


# --- Titles summarised by the model ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answer", "title"),
    [
        ("Quarterly sales review", "Quarterly sales review"),
        ('"Quarterly sales review."', "Quarterly sales review"),
        ("Title: Sales review\nSecond line", "Sales review"),
        ("「四半期の売上」。", "四半期の売上"),
        ("\n\n  **Osaka plan**  \n", "Osaka plan"),
        ("x" * 80, "x" * 59 + "…"),
        ("   ", ""),
        ('""', ""),
        ("bad\x00text", ""),
    ],
)
def test_title_clean(answer: str, title: str) -> None:
    assert title_clean(answer) == title


@pytest.mark.django_db(transaction=True)
async def test_a_model_title_replaces_the_first_words_in_every_tab(
    settings: Any,
    celery_worker: object | None,
    user_a: User,
    user_b: User,
    gpt4o: ModelVersion,
    upstream: up.UpstreamServer,
) -> None:
    settings.CHAT_MODEL_TITLES = True
    upstream.script("gpt-4o", up.normal(ANSWER), up.normal('"Q3 sales in the Osaka office."'))
    tab1, tab2, b = await sockets_of(user_a, user_a, user_b)
    text = "How did sales go in the third quarter, and which office grew the most?"
    await tab1.send_json_to({"type": "chat.send", "conversation_id": None, "text": text})
    accepted, _ = await until(tab1, "chat.accepted")
    conversation_id = accepted["conversation"]["id"]
    assert accepted["conversation"]["title"] == title_from(text)  # the first words, until the model names it
    for tab in (tab1, tab2):
        titled = await frame_of(tab, match=about(conversation_id, title="Q3 sales in the Osaka office"), wait=20)
        assert titled["conversation"]["pinned"] is False
    stored = await Conversation.objects.aget(pk=conversation_id)
    assert (stored.title, stored.title_source) == ("Q3 sales in the Osaka office", "model")

    (request,) = title_requests(upstream)
    body = request.json
    assert body["stream"] is False
    assert body["max_tokens"] == 60
    assert body["messages"][0]["role"] == "system"
    assert "language of the person's question" in body["messages"][0]["content"]
    assert text in body["messages"][1]["content"]
    assert ANSWER in body["messages"][1]["content"]

    (entry,) = await wait_until(title_entries_sync)
    assert entry.status == "ok"
    assert entry.actor_email == user_a.email
    assert entry.payload["conversation_id"] == conversation_id
    assert entry.payload["response_text"] == '"Q3 sales in the Osaka office."'
    assert entry.payload["request_params"]["stream"] is False
    assert entry.payload["usage"]["prompt_tokens"] > 0
    # The answer and the title call, counted together in the person's usage.
    row = await UsageDaily.objects.aget(speaker=f"user:{user_a.pk}", outcome="ok")
    assert row.requests == 2
    await nothing_for(b)
    for socket in (tab1, tab2, b):
        await socket.disconnect()


def title_entries_sync() -> list[AuditOutbox]:
    rows = AuditOutbox.objects.filter(event_type="llm.chat").order_by("pk")
    return [row for row in rows if row.payload.get("channel_detail") == {"purpose": "title"}]


@pytest.mark.django_db(transaction=True)
async def test_a_rename_before_the_model_title_arrives_is_kept(
    settings: Any,
    celery_worker: object | None,
    client_a: Client,
    user_a: User,
    gpt4o: ModelVersion,
    upstream: up.UpstreamServer,
) -> None:
    settings.CHAT_MODEL_TITLES = True
    upstream.script("gpt-4o", up.normal(ANSWER), up.hang(1.5))  # the title call takes a while
    tab1, tab2 = await sockets_of(user_a, user_a)
    await tab1.send_json_to({"type": "chat.send", "conversation_id": None, "text": "Sales?"})
    accepted, _ = await until(tab1, "chat.accepted")
    conversation_id = accepted["conversation"]["id"]
    assert await asyncio.to_thread(upstream.wait_for, lambda: bool(title_requests(upstream)), 15)
    response = await apost(client_a, f"/api/conversations/{conversation_id}/rename/", {"title": "My own title"})
    assert response.status_code == 200
    await frame_of(tab2, match=about(conversation_id, title="My own title"))
    await wait_until(title_entries_sync)  # the call ended and was audited...
    await asyncio.sleep(0.3)
    stored = await Conversation.objects.aget(pk=conversation_id)
    assert (stored.title, stored.title_source) == ("My own title", "person")  # ...and the person's title stayed
    while not await tab2.receive_nothing(timeout=0.3):  # no frame ever carried the model's title
        frame = await tab2.receive_json_from()
        if frame["type"] == "conversation.updated":
            assert frame["conversation"]["title"] != title_clean(up.DEFAULT_TEXT)
    for socket in (tab1, tab2):
        await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_upstream_error_keeps_the_first_words(
    settings: Any, celery_worker: object | None, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    settings.CHAT_MODEL_TITLES = True
    upstream.script("gpt-4o", up.normal(ANSWER), up.server_error())
    upstream.script("gpt-4o-eu", up.server_error())  # the fallback fails too
    (tab,) = await sockets_of(user_a)
    await tab.send_json_to({"type": "chat.send", "conversation_id": None, "text": "Sales in Q3?"})
    accepted, _ = await until(tab, "chat.accepted")
    done, _ = await until(tab, "chat.done")
    assert done["status"] == "ok"
    (entry,) = await wait_until(title_entries_sync)
    assert entry.status == "error"
    assert entry.payload["error"]["kind"] == "upstream_error"
    assert [a["outcome"] for a in entry.payload["attempts"]] == ["failed_over", "error"]
    stored = await Conversation.objects.aget(pk=accepted["conversation"]["id"])
    assert (stored.title, stored.title_source) == ("Sales in Q3?", "first_words")
    failed = await UsageDaily.objects.aget(speaker=f"user:{user_a.pk}", outcome="error:upstream_error")
    assert failed.requests == 1
    await tab.disconnect()


def _answered(user: User, model: ModelVersion, question: str, **fields: Any) -> tuple[Conversation, Message]:
    conversation = conversation_of(user, question[:60], model_version=model, **fields)
    asked = Message.objects.create(
        tenant_id=user.tenant_id, conversation=conversation, role=Message.Role.USER, content=question
    )
    answer = Message.objects.create(
        tenant_id=user.tenant_id,
        conversation=conversation,
        parent=asked,
        role=Message.Role.ASSISTANT,
        content=ANSWER,
        model_version=model,
        model_label=model.label,
        status=Message.Status.OK,
    )
    return conversation, answer


@pytest.mark.django_db
def test_the_title_call_follows_the_models_capabilities(
    user_a: User, o3mini: ModelVersion, upstream: up.UpstreamServer
) -> None:
    conversation, answer = _answered(user_a, o3mini, "会議の議事録を要約してください")
    upstream.script("o3-mini", up.normal("議事録の要約"))
    title = conversation_title_make(tenant_id=user_a.tenant_id, conversation_id=conversation.pk, answer_id=answer.pk)
    assert title == "議事録の要約"
    (request,) = title_requests(upstream, "o3-mini")
    assert request.json["messages"][0]["role"] == "developer"
    assert request.json["max_completion_tokens"] == 1000
    assert request.json["reasoning_effort"] == "low"
    assert "temperature" not in request.json


@pytest.mark.django_db
def test_a_persons_title_is_never_overwritten_by_a_late_model_title(
    user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    conversation, answer = _answered(user_a, gpt4o, "Plan the offsite")
    subject = title_subject(tenant_id=user_a.tenant_id, conversation_id=conversation.pk, answer_id=answer.pk)
    assert subject is not None
    job = title_job(subject=subject)
    assert job is not None
    upstream.script("gpt-4o", up.normal("Offsite planning"))
    outcome = asyncio.run(title_call(job))
    conversation_rename(tenant=user_a.tenant, user=user_a, conversation=conversation, title="Offsite (mine)")
    assert conversation_title_record(job=job, outcome=outcome) == ""
    conversation.refresh_from_db()
    assert (conversation.title, conversation.title_source) == ("Offsite (mine)", "person")
    assert len(title_entries_sync()) == 1  # the call was made: it is audited all the same


@pytest.mark.django_db
def test_no_title_call_for_slack_inactive_people_or_named_conversations(
    user_a: User, tenant_a: Tenant, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    slack, slack_answer = _answered(user_a, gpt4o, "From Slack", source=Conversation.Source.SLACK)
    named, named_answer = _answered(user_a, gpt4o, "Named", title_source=Conversation.TitleSource.PERSON)
    for conversation, answer in ((slack, slack_answer), (named, named_answer)):
        made = conversation_title_make(tenant_id=tenant_a.pk, conversation_id=conversation.pk, answer_id=answer.pk)
        assert made == ""
    web, web_answer = _answered(user_a, gpt4o, "Web question")
    Tenant.objects.filter(pk=tenant_a.pk).update(is_active=False)
    assert conversation_title_make(tenant_id=tenant_a.pk, conversation_id=web.pk, answer_id=web_answer.pk) == ""
    Tenant.objects.filter(pk=tenant_a.pk).update(is_active=True)
    User.objects.filter(pk=user_a.pk).update(is_active=False)
    assert conversation_title_make(tenant_id=tenant_a.pk, conversation_id=web.pk, answer_id=web_answer.pk) == ""
    # Another tenant's id never reaches A's conversation.
    assert conversation_title_make(tenant_id=tenant_a.pk + 1, conversation_id=web.pk, answer_id=web_answer.pk) == ""
    assert upstream.requests_to("gpt-4o") == []
    assert title_entries_sync() == []
