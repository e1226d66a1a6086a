"""Edit branches and regenerated versions (chat/branches.py): an edit or a regenerate keeps every earlier
question-and-answer pair, the "< 1/2 >" arrows show any of them again, and the model, the page, search and the
exports follow the path shown."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from chat.branches import active_path, backfill_parents, versions_json, versions_of
from chat.models import Conversation, Message
from chat.services import TurnStart, chat_turn_retry, chat_turn_start
from llm.models import ModelVersion
from tenants.models import Tenant, User
from tests.chat.test_consumer import until
from tests.chat.test_search import finish
from tests.chat.test_sidebar import about, frame_of, nothing_for, sockets_of
from tests.upstream import server as up

# --- the tree, pure ---------------------------------------------------------------------------------------------------
#   1 (Q) ─ 2 (A) ─ 3 (Q) ─ 4 (A)
#                 ├ 5 (Q, edit of 3) ─ 6 (A) ─ 8 (A, regenerated)
#                 └ 7 (Q, edit of 3)
EDGES = [(1, None), (2, 1), (3, 2), (4, 3), (5, 2), (6, 5), (7, 2), (8, 5)]


def test_the_active_path_runs_through_a_message_and_down_its_newest_versions() -> None:
    assert active_path(EDGES, through=4) == [1, 2, 3, 4]
    assert active_path(EDGES, through=5) == [1, 2, 5, 8]  # the newest answer below the chosen question
    assert active_path(EDGES, through=6) == [1, 2, 5, 6]
    assert active_path(EDGES, through=2) == [1, 2, 7]  # the newest question below the answer
    assert active_path(EDGES, through=5, descend=False) == [1, 2, 5]
    with pytest.raises(KeyError):
        active_path(EDGES, through=99)


def test_versions_are_the_siblings_oldest_first_and_only_where_there_are_several() -> None:
    found = versions_of(EDGES, [1, 2, 5, 8])
    assert set(found) == {5, 8}
    assert found[5].as_json() == {"ids": [3, 5, 7], "index": 1}
    assert found[8].as_json() == {"ids": [6, 8], "index": 1}
    assert versions_json([8, 6], 6) == {"ids": [6, 8], "index": 0}
    assert versions_json([6], 6) is None
    assert versions_json((), 6) is None


def test_backfill_gives_the_rows_before_the_tree_the_shape_they_had_on_the_page() -> None:
    # Q1, A1 (regenerated: superseded), A1', Q2, A2 (error, stays active)
    rows = [
        (1, "user", False),
        (2, "assistant", True),
        (3, "assistant", False),
        (4, "user", False),
        (5, "assistant", False),
    ]
    assert backfill_parents(rows) == {1: None, 2: 1, 3: 1, 4: 3, 5: 4}


# --- helpers ----------------------------------------------------------------------------------------------------------
def turn(user: User, conversation_id: int | None, question: str, answer: str) -> TurnStart:
    start = chat_turn_start(tenant=user.tenant, user=user, conversation_id=conversation_id, text=question)
    finish(start, answer)
    return start


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def page(client: Client, conversation_id: int) -> dict[str, Any]:
    response = client.get(f"/api/conversations/{conversation_id}/")
    assert response.status_code == 200
    return response.json()


def shown(data: dict[str, Any]) -> list[str]:
    return [m["content"] for m in data["messages"]]


def asked(start: TurnStart) -> list[str]:
    """What the model is sent, without the system prompt."""
    return [m["content"] for m in start.prompt if m["role"] != "system"]


def two_turns(user: User) -> tuple[TurnStart, TurnStart]:
    first = turn(user, None, "東京の天気は?", "晴れです。")
    second = turn(user, first.conversation_id, "大阪は?", "雨です。")
    return first, second


# --- edit -------------------------------------------------------------------------------------------------------------
def test_an_edit_keeps_the_earlier_question_and_answer_one_arrow_away(
    user_a: User, client_a: Client, gpt4o: ModelVersion
) -> None:
    first, second = two_turns(user_a)
    edit = chat_turn_retry(
        tenant=user_a.tenant, user=user_a, conversation_id=first.conversation_id, new_text="名古屋は?"
    )
    assert edit.user_message_id not in (second.user_message_id, first.user_message_id)  # a new version
    assert edit.user_versions == (second.user_message_id, edit.user_message_id)
    assert asked(edit) == ["東京の天気は?", "晴れです。", "名古屋は?"]  # the model sees the new path only
    finish(edit, "曇りです。")

    old_question = Message.objects.get(pk=second.user_message_id)
    assert (old_question.content, old_question.superseded) == ("大阪は?", True)  # kept, off the path
    assert Message.objects.get(pk=second.assistant_message_id).superseded
    new_question = Message.objects.get(pk=edit.user_message_id)
    assert new_question.parent_id == old_question.parent_id == first.assistant_message_id

    data = page(client_a, first.conversation_id)
    assert shown(data) == ["東京の天気は?", "晴れです。", "名古屋は?", "曇りです。"]
    versions = {m["id"]: m["versions"] for m in data["messages"]}
    assert versions[edit.user_message_id] == {"ids": [second.user_message_id, edit.user_message_id], "index": 1}
    assert versions[first.user_message_id] is None
    assert versions[edit.assistant_message_id] is None

    # "< 1/2": the earlier question comes back with its answer, and the model's context follows the page.
    response = post(
        client_a, f"/api/conversations/{first.conversation_id}/versions/", {"message_id": second.user_message_id}
    )
    assert response.status_code == 200
    assert shown(response.json()) == ["東京の天気は?", "晴れです。", "大阪は?", "雨です。"]
    assert shown(page(client_a, first.conversation_id)) == shown(response.json())
    follow_up = chat_turn_start(
        tenant=user_a.tenant, user=user_a, conversation_id=first.conversation_id, text="京都は?"
    )
    assert asked(follow_up) == ["東京の天気は?", "晴れです。", "大阪は?", "雨です。", "京都は?"]
    assert Message.objects.get(pk=follow_up.user_message_id).parent_id == second.assistant_message_id


def test_editing_an_earlier_question_sets_the_later_turns_aside_and_the_arrow_brings_them_back(
    user_a: User, client_a: Client, gpt4o: ModelVersion
) -> None:
    first, _second = two_turns(user_a)
    edit = chat_turn_retry(
        tenant=user_a.tenant,
        user=user_a,
        conversation_id=first.conversation_id,
        new_text="札幌の天気は?",
        message_id=first.user_message_id,
    )
    assert asked(edit) == ["札幌の天気は?"]
    assert Message.objects.get(pk=edit.user_message_id).parent_id is None  # a first question has none
    finish(edit, "雪です。")
    assert shown(page(client_a, first.conversation_id)) == ["札幌の天気は?", "雪です。"]

    response = post(
        client_a, f"/api/conversations/{first.conversation_id}/versions/", {"message_id": first.user_message_id}
    )
    # The whole later conversation under the first version is back, down to its last answer.
    assert shown(response.json()) == ["東京の天気は?", "晴れです。", "大阪は?", "雨です。"]
    assert response.json()["messages"][0]["versions"] == {
        "ids": [first.user_message_id, edit.user_message_id],
        "index": 0,
    }


def test_an_edit_is_validated_like_a_message_and_refused_for_someone_elses_message(
    user_a: User, user_b: User, gpt4o: ModelVersion
) -> None:
    from chat.services import ChatRefused

    first = turn(user_a, None, "hello", "hi")
    theirs = Conversation.objects.create(tenant=user_b.tenant, user=user_b, title="theirs")
    other = Message.objects.create(tenant=user_b.tenant, conversation=theirs, role="user", content="their question")
    with pytest.raises(ChatRefused) as refused:
        chat_turn_retry(tenant=user_a.tenant, user=user_a, conversation_id=first.conversation_id, new_text="   ")
    assert refused.value.code == "empty"
    # A message of another conversation (and company), and an answer (not a question to edit).
    for message_id in (other.pk, first.assistant_message_id):
        with pytest.raises(ChatRefused) as refused:
            chat_turn_retry(
                tenant=user_a.tenant,
                user=user_a,
                conversation_id=first.conversation_id,
                new_text="x",
                message_id=message_id,
            )
        assert refused.value.code == "not_found"
    assert Message.objects.filter(conversation_id=first.conversation_id).count() == 2  # nothing half-made


# --- regenerate -------------------------------------------------------------------------------------------------------
def test_regenerated_answers_are_versions_of_one_answer(user_a: User, client_a: Client, gpt4o: ModelVersion) -> None:
    first, second = two_turns(user_a)
    again = chat_turn_retry(tenant=user_a.tenant, user=user_a, conversation_id=first.conversation_id)
    assert again.user_message_id == second.user_message_id  # the same question
    assert again.answer_versions == (second.assistant_message_id, again.assistant_message_id)
    assert asked(again) == ["東京の天気は?", "晴れです。", "大阪は?"]  # the earlier answer is not context
    finish(again, "くもりのち雨。")
    data = page(client_a, first.conversation_id)
    assert shown(data) == ["東京の天気は?", "晴れです。", "大阪は?", "くもりのち雨。"]
    assert data["messages"][3]["versions"] == {
        "ids": [second.assistant_message_id, again.assistant_message_id],
        "index": 1,
    }

    back = post(
        client_a, f"/api/conversations/{first.conversation_id}/versions/", {"message_id": second.assistant_message_id}
    )
    assert shown(back.json())[-1] == "雨です。"
    third = chat_turn_retry(tenant=user_a.tenant, user=user_a, conversation_id=first.conversation_id)
    assert len(third.answer_versions) == 3  # a third version, whichever was shown


# --- the arrows' endpoint ---------------------------------------------------------------------------------------------
def test_showing_a_version_is_refused_while_an_answer_runs_and_for_unknown_messages(
    user_a: User, client_a: Client, gpt4o: ModelVersion
) -> None:
    first, second = two_turns(user_a)
    url = f"/api/conversations/{first.conversation_id}/versions/"
    running = chat_turn_retry(tenant=user_a.tenant, user=user_a, conversation_id=first.conversation_id)
    response = post(client_a, url, {"message_id": second.assistant_message_id})
    assert (response.status_code, response.json()["error"]["code"]) == (409, "busy")
    finish(running, "three")
    for bad in (999_999, "x", None, running.conversation_id * 1000):
        response = post(client_a, url, {"message_id": bad})
        assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
        assert response.json()["error"]["message"] == "This message does not exist."
    assert client_a.get(url).status_code == 405
    assert shown(page(client_a, first.conversation_id))[-1] == "three"  # nothing moved


def test_another_companys_person_can_neither_show_versions_nor_read_them(
    user_a: User, client_a: Client, client_b: Client, gpt4o: ModelVersion
) -> None:
    first, second = two_turns(user_a)
    chat_turn_retry(tenant=user_a.tenant, user=user_a, conversation_id=first.conversation_id, new_text="名古屋は?")
    url = f"/api/conversations/{first.conversation_id}/versions/"
    response = post(client_b, url, {"message_id": second.user_message_id})
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    assert client_b.get(f"/api/conversations/{first.conversation_id}/").status_code == 404
    assert Message.objects.get(pk=second.user_message_id).superseded  # untouched


@pytest.mark.django_db(transaction=True)
async def test_every_tab_of_the_owner_is_told_to_read_the_conversation_again(
    user_a: User, user_b: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    first, second = await database_sync_to_async(two_turns)(user_a)
    await database_sync_to_async(chat_turn_retry)(
        tenant=user_a.tenant, user=user_a, conversation_id=first.conversation_id, new_text="名古屋は?"
    )
    await database_sync_to_async(
        lambda: Message.objects.filter(status=Message.Status.STREAMING).update(status=Message.Status.STOPPED)
    )()
    tab1, tab2, b = await sockets_of(user_a, user_a, user_b)
    from tests.conftest import signed_in

    client = await database_sync_to_async(signed_in)(user_a)
    response = await database_sync_to_async(post)(
        client, f"/api/conversations/{first.conversation_id}/versions/", {"message_id": second.user_message_id}
    )
    assert response.status_code == 200
    for tab in (tab1, tab2):
        frame = await frame_of(tab, match=about(first.conversation_id))
        assert frame["reload"] is True
    await nothing_for(b)
    for socket in (tab1, tab2, b):
        await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_chat_accepted_carries_the_versions_of_an_edit_and_of_a_regenerated_answer(
    user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.normal("one"), up.normal("two"), up.normal("three"))
    (tab,) = await sockets_of(user_a)
    await tab.send_json_to({"type": "chat.send", "request_id": "r1", "conversation_id": None, "text": "Q"})
    sent, _ = await until(tab, "chat.accepted")
    await until(tab, "chat.done")
    conversation_id, first_question = sent["conversation"]["id"], sent["user_message"]["id"]
    assert (sent["user_message"]["versions"], sent["assistant_versions"]) == (None, None)

    edit = {"type": "chat.edit", "request_id": "r2", "conversation_id": conversation_id, "text": "Q, better"}
    await tab.send_json_to({**edit, "message_id": first_question})
    edited, _ = await until(tab, "chat.accepted")
    await until(tab, "chat.done")
    new_question = edited["user_message"]["id"]
    assert edited["user_message"]["content"] == "Q, better"
    assert edited["user_message"]["versions"] == {"ids": [first_question, new_question], "index": 1}
    assert edited["assistant_versions"] is None

    await tab.send_json_to({"type": "chat.regenerate", "request_id": "r3", "conversation_id": conversation_id})
    again, _ = await until(tab, "chat.accepted")
    await until(tab, "chat.done")
    assert again["user_message"]["id"] == new_question
    assert again["assistant_versions"] == {
        "ids": [edited["assistant_message_id"], again["assistant_message_id"]],
        "index": 1,
    }
    await tab.send_json_to({**edit, "request_id": "r4", "message_id": "first"})
    refused, _ = await until(tab, "error")
    assert (refused["code"], refused["request_id"]) == ("bad_frame", "r4")
    await tab.disconnect()


# --- what else follows the path ---------------------------------------------------------------------------------------
def test_search_finds_what_the_page_shows_not_the_earlier_versions(
    user_a: User, client_a: Client, gpt4o: ModelVersion
) -> None:
    first = turn(user_a, None, "Quarterly numbers", "予算の会議は月曜です。")
    again = chat_turn_retry(tenant=user_a.tenant, user=user_a, conversation_id=first.conversation_id)
    finish(again, "Budget review on Monday.")

    def found(query: str) -> list[int]:
        return [c["id"] for c in client_a.get("/api/conversations/", {"q": query}).json()["conversations"]]

    assert found("budget") == [first.conversation_id]
    assert found("会議") == []  # only in the earlier answer
    post(client_a, f"/api/conversations/{first.conversation_id}/versions/", {"message_id": first.assistant_message_id})
    assert found("会議") == [first.conversation_id]


def test_exports_markdown_is_the_path_shown_and_json_keeps_the_whole_tree(
    user_a: User, client_a: Client, gpt4o: ModelVersion
) -> None:
    first, second = two_turns(user_a)
    edit = chat_turn_retry(
        tenant=user_a.tenant, user=user_a, conversation_id=first.conversation_id, new_text="名古屋は?"
    )
    finish(edit, "曇りです。")
    markdown = client_a.get(f"/c/{first.conversation_id}/export.md").content.decode()
    assert "名古屋は?" in markdown
    assert "大阪は?" not in markdown
    exported = json.loads(client_a.get(f"/c/{first.conversation_id}/export.json").content)
    rows = {m["id"]: (m["parent_id"], m["superseded"]) for m in exported["messages"]}
    assert rows == {
        first.user_message_id: (None, False),
        first.assistant_message_id: (first.user_message_id, False),
        second.user_message_id: (first.assistant_message_id, True),
        second.assistant_message_id: (second.user_message_id, True),
        edit.user_message_id: (first.assistant_message_id, False),
        edit.assistant_message_id: (edit.user_message_id, False),
    }


def test_deleting_the_conversation_deletes_every_version(user_a: User, client_a: Client, gpt4o: ModelVersion) -> None:
    first, _second = two_turns(user_a)
    finish(chat_turn_retry(tenant=user_a.tenant, user=user_a, conversation_id=first.conversation_id, new_text="x"), "y")
    assert post(client_a, f"/api/conversations/{first.conversation_id}/delete/", {}).status_code == 200
    assert not Message.objects.filter(conversation_id=first.conversation_id).exists()
    assert not Conversation.objects.filter(pk=first.conversation_id).exists()


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_conversations_stored_before_it_their_tree(tenant_a: Tenant, user_a: User) -> None:
    conversation = Conversation.objects.create(tenant=tenant_a, user=user_a, title="old")

    def add(role: str, content: str, superseded: bool = False) -> int:
        return Message.objects.create(
            tenant=tenant_a, conversation=conversation, role=role, content=content, superseded=superseded
        ).pk

    q1, a1, a1b = add("user", "Q1"), add("assistant", "A1", superseded=True), add("assistant", "A1 again")
    q2, a2 = add("user", "Q2"), add("assistant", "")
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("chat", "0007_message_search")])
        MigrationExecutor(connection).migrate([("chat", "0008_message_branches")])
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    parents = dict(Message.objects.filter(conversation=conversation).values_list("pk", "parent_id"))
    assert parents == {q1: None, a1: q1, a1b: q1, q2: a1b, a2: q2}
    edges = list(parents.items())
    assert versions_of(edges, [a1b])[a1b].as_json() == {"ids": [a1, a1b], "index": 1}
