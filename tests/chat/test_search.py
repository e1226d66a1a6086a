"""Search over titles and message text (chat/search.py, docs/search.md): Japanese two-character words, mixed and
English text, the person's own web conversations only, tsquery syntax in the query, snippets; the GIN index on
PostgreSQL and the icontains fallback on SQLite."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone

from chat.models import Conversation, Message
from chat.outcome import ReplyOutcome
from chat.search import INDEX_NAME, search_text_for, snippet_for, tsquery_for
from chat.selectors import conversation_list
from chat.services import chat_reply_finalize, chat_stale_replies_close, chat_turn_retry, chat_turn_start
from llm.models import ModelVersion
from slack.models import SlackWorkspace
from slack.services import slack_event_process
from tenants.models import Tenant, User
from tenants.services import user_create
from tests.conftest import signed_in
from tests.slack.conftest import fake_slack, stored, workspace_a  # noqa: F401 - Slack fixtures, shared
from tests.slack.fake_slack import FakeSlack
from tests.upstream import server as up

POSTGRES = connection.vendor == "postgresql"
BOOKING = "明日の午後、会議室の予約をお願いできますか。"
FULLWIDTH_BUDGET = "\uff42\uff55\uff44\uff47\uff45\uff54"  # "budget" in fullwidth letters


@pytest.fixture
def carol_a(tenant_a: Tenant) -> User:
    """A second person in tenant A."""
    return user_create(tenant=tenant_a, email="carol@alpha.example", first_name="Carol")


def chat(user: User, title: str, *texts: str, source: str = Conversation.Source.WEB) -> Conversation:
    """A conversation with alternating question/answer texts, ``search_text`` written as the services write it."""
    conversation = Conversation.objects.create(tenant=user.tenant, user=user, title=title, source=source)
    Message.objects.bulk_create(
        Message(
            tenant=user.tenant,
            conversation=conversation,
            role=Message.Role.USER if i % 2 == 0 else Message.Role.ASSISTANT,
            content=text,
            search_text=search_text_for(text),
        )
        for i, text in enumerate(texts)
    )
    return conversation


def search(client: Client, q: str) -> list[dict[str, Any]]:
    response = client.get("/api/conversations/", {"q": q})
    assert response.status_code == 200, response.content
    return response.json()["conversations"]


def ids(rows: list[dict[str, Any]]) -> set[int]:
    return {row["id"] for row in rows}


# --- The tokenizer and the query ------------------------------------------------------------------------------------
def test_search_text_is_bigrams_for_cjk_and_words_for_the_rest() -> None:
    assert search_text_for("会議室の予約") == "会議 議室 室の の予 予約 約"
    assert search_text_for("Zoom会議、OK") == "zoom 会議 議 ok"
    # NFKC + casefold: fullwidth Latin and digits, halfwidth katakana, ß.
    assert search_text_for("\uff21\uff22\uff23\uff11\uff12\uff13 ﾃﾞｰﾀ Straße") == "abc123 デー ータ タ strasse"
    assert search_text_for("a 株 b") == "a 株 b"  # a one-character run is itself
    assert search_text_for("会議 会議 meeting Meeting") == "会議 議 meeting"  # each token once
    assert search_text_for("gpt-4o foo_bar x.y") == "gpt 4o foo bar x y"
    assert search_text_for("") == ""


def test_query_is_tokenised_the_same_way_and_quoted() -> None:
    assert tsquery_for("会議室") == "'会議' & '議室'"
    assert tsquery_for("Zoom 会議") == "'zoom' & '会議'"
    assert tsquery_for("会") == "'会':*"  # one character: bigrams starting with it, or itself at a run's end
    assert tsquery_for("&|!:*()'\\") is None  # nothing to search for: no message matches (not all of them)
    assert tsquery_for("x'y & z") == "'x' & 'y' & 'z'"
    assert tsquery_for("a" * 101) is None  # longer than any indexed word


def test_huge_text_stays_within_what_a_tsvector_holds() -> None:
    text = "".join(chr(0x4E00 + i) for i in range(20_000)) + " " + " ".join(f"w{i}" for i in range(200_000))
    tokens = search_text_for(text)
    assert len(tokens.encode()) + 6 * tokens.count(" ") < 1_000_000
    assert tokens.startswith("一丁 丁丂")


# --- Finding conversations ------------------------------------------------------------------------------------------
def test_two_character_japanese_word_finds_the_answer_that_contains_it(user_a: User, client_a: Client) -> None:
    found = chat(user_a, "Room booking", "明日の件です", f"承知しました。{BOOKING}")
    chat(user_a, "Other", "Lunch plans", "Sushi at noon")
    rows = search(client_a, "会議")
    assert ids(rows) == {found.pk}
    assert rows[0]["match"] == "message"
    assert "会議室の予約" in rows[0]["snippet"]
    assert ids(search(client_a, "会議室の予約")) == {found.pk}
    assert search(client_a, "会議録") == []


def test_mixed_query(user_a: User, client_a: Client) -> None:
    found = chat(user_a, "来週", "来週のZoom会議室を予約して", "Zoom会議室 B を押さえました。")
    chat(user_a, "Zoom only", "zoom call tomorrow", "ok")
    chat(user_a, "会議 only", "会議の議事録", "はい")
    assert ids(search(client_a, "zoom会議")) == {found.pk}
    assert ids(search(client_a, "ZOOM 予約")) == {found.pk}


def test_english_words_are_case_insensitive(user_a: User, client_a: Client) -> None:
    found = chat(user_a, "Numbers", "Please prepare the quarterly BUDGET review", "Here is the Budget.")
    chat(user_a, "Other", "weather", "sunny")
    for query in ("budget", "BUDGET", "Budget Review"):
        assert ids(search(client_a, query)) == {found.pk}, query
    # Fullwidth letters are the same word after NFKC (PostgreSQL); icontains compares them as typed (SQLite).
    assert ids(search(client_a, FULLWIDTH_BUDGET)) == ({found.pk} if POSTGRES else set())
    assert search(client_a, "budgets") == []


def test_title_only_match(user_a: User, client_a: Client) -> None:
    titled = chat(user_a, "会議の準備", "hello", "hi")
    both = chat(user_a, "会議メモ", "会議の議題", "はい")
    rows = {row["id"]: row for row in search(client_a, "会議")}
    assert set(rows) == {titled.pk, both.pk}
    assert (rows[titled.pk]["match"], rows[titled.pk]["snippet"]) == ("title", "")
    assert rows[both.pk]["match"] == "title"  # the title says why; the message's snippet is still given
    assert rows[both.pk]["snippet"] == "会議の議題"


def test_other_people_and_other_tenants_never_appear(
    user_a: User, carol_a: User, user_b: User, client_a: Client, client_b: Client
) -> None:
    mine = chat(user_a, "mine", "質問", BOOKING)
    carols = chat(carol_a, "会議 carol", "質問", BOOKING)
    bobs = chat(user_b, "会議 bob", "質問", BOOKING)
    # A Slack thread of user_a's: not in the web list, searched or not (conversation_list's scoping).
    slack = chat(user_a, "会議 slack", BOOKING, "ok", source=Conversation.Source.SLACK)
    for query in ("会議", "carol", "bob", "slack", "予約", "会"):
        assert carols.pk not in ids(search(client_a, query))
        assert bobs.pk not in ids(search(client_a, query))
        assert slack.pk not in ids(search(client_a, query))
    assert ids(search(client_a, "会議")) == {mine.pk}
    assert ids(search(client_b, "会議")) == {bobs.pk}
    assert ids(search(signed_in(carol_a), "予約")) == {carols.pk}


@pytest.mark.parametrize(
    "query",
    [
        "&",
        "|",
        "!",
        ":",
        "*",
        "(",
        ")",
        "'",
        "\\",
        "&|!:*()'\\",
        "'' & ''",
        ":*",
        "\\'",
        "a\\",
        "')) OR 1=1 --",
        "!!!!",
        "<->",
        "%00",
    ],
)
def test_tsquery_syntax_in_the_query_neither_errors_nor_matches_everything(
    user_a: User, client_a: Client, query: str
) -> None:
    chat(user_a, "Room booking", "question", BOOKING)
    chat(user_a, "Numbers", "budget", "the quarterly budget")
    assert search(client_a, query) == []


def test_syntax_characters_around_words(user_a: User, client_a: Client) -> None:
    booking = chat(user_a, "Room booking", "question", BOOKING)
    budget = chat(user_a, "Numbers", "budget", "the quarterly budget")
    # PostgreSQL: tsquery operators are separators between words (not a NOT, not a prefix), the words are searched.
    # SQLite: they are characters like any other, which the text does not contain.
    assert ids(search(client_a, "!会議")) == ({booking.pk} if POSTGRES else set())
    assert ids(search(client_a, "'budget':*")) == ({budget.pk} if POSTGRES else set())
    assert ids(search(client_a, "budget & !quarterly")) == ({budget.pk} if POSTGRES else set())
    assert ids(search(client_a, "quarterly | nothing")) == set()  # not an OR: "nothing" must be there too
    # NUL in the query string is dropped by the view; the rest is searched.
    response = client_a.get("/api/conversations/?q=%E4%BC%9A%00%E8%AD%B0")  # 会\0議
    assert response.status_code == 200
    assert ids(response.json()["conversations"]) == {booking.pk}
    assert search(client_a, "x" * 500) == []  # cut to 200 characters, one word longer than any indexed


# --- Snippets -------------------------------------------------------------------------------------------------------
def test_snippet_is_the_first_matching_message_around_the_first_hit(user_a: User, client_a: Client) -> None:
    long_answer = "前置き。" * 60 + "ここで会議室の予約について説明します。" + "後書き。" * 60
    found = chat(user_a, "Long", "予約したい", long_answer, "もう一度会議室の話")
    (row,) = search(client_a, "会議室")
    assert row["id"] == found.pk
    snippet = row["snippet"]
    assert snippet.startswith("…")
    assert snippet.endswith("…")
    assert "ここで会議室の予約について" in snippet
    assert 100 <= len(snippet) <= 125
    assert "もう一度" not in snippet  # the first matching message, not a later one
    # The question matches first when it has the word.
    (row,) = search(client_a, "予約")
    assert row["snippet"] == "予約したい"


def test_no_query_means_no_match_and_empty_snippet(user_a: User, client_a: Client) -> None:
    chat(user_a, "One", "hello", "world")
    (row,) = client_a.get("/api/conversations/").json()["conversations"]
    assert (row["match"], row["snippet"]) == (None, "")
    assert set(row) >= {"id", "title", "updated_at", "model_label", "match", "snippet"}


def test_snippet_for_text() -> None:
    assert snippet_for("short text with budget in it", "budget") == "short text with budget in it"
    text = "a" * 50 + " plan " + "b" * 200
    snippet = snippet_for(text, "PLAN")
    assert snippet.startswith("…")
    assert snippet.endswith("…")
    assert " plan " in snippet
    # A whole word is preferred to the same letters inside another word.
    assert "plan." in snippet_for("explanation " * 20 + "the plan.", "plan")
    # Halfwidth katakana are found by their normalised form and shown as written.
    assert "ﾃﾞｰﾀ分析" in snippet_for("x" * 300 + "ﾃﾞｰﾀ分析" + "y" * 300, "データ")
    assert snippet_for("multi\n\nline   text", "line") == "multi line text"


# --- Where search_text is written -----------------------------------------------------------------------------------
def finish(start: Any, text: str) -> None:
    """The answer ``text`` saved as the engine saves a finished one."""
    outcome = ReplyOutcome()
    outcome.parts.append(text)
    outcome.length = len(text)
    outcome.finish("ok")
    assert chat_reply_finalize(start=start, outcome=outcome)


def test_turn_start_finalize_and_edit_write_search_text(
    tenant_a: Tenant, user_a: User, client_a: Client, gpt4o: ModelVersion
) -> None:
    start = chat_turn_start(tenant=tenant_a, user=user_a, conversation_id=None, text="来週の予定を教えて")
    question = Message.objects.get(pk=start.user_message_id)
    assert question.search_text == search_text_for("来週の予定を教えて")
    assert Message.objects.get(pk=start.assistant_message_id).search_text == ""  # nothing written yet
    finish(start, "来週は会議室の予約があります。")
    answer = Message.objects.get(pk=start.assistant_message_id)
    assert answer.search_text == search_text_for(answer.content)
    assert ids(search(client_a, "会議")) == {start.conversation_id}

    retry = chat_turn_retry(
        tenant=tenant_a, user=user_a, conversation_id=start.conversation_id, new_text="Budget for next week"
    )
    assert Message.objects.get(pk=retry.user_message_id).search_text == "budget for next week"
    assert ids(search(client_a, "budget")) == {start.conversation_id}
    (row,) = search(client_a, "予定")  # the edited question no longer has it; the title (its first words) does
    assert (row["match"], row["snippet"]) == ("title", "")


def test_stale_reply_closer_writes_search_text(
    tenant_a: Tenant, user_a: User, client_a: Client, gpt4o: ModelVersion
) -> None:
    start = chat_turn_start(tenant=tenant_a, user=user_a, conversation_id=None, text="hello")
    Message.objects.filter(pk=start.assistant_message_id).update(
        content="途中までの会議メモ", updated_at=timezone.now() - timedelta(minutes=10)
    )
    assert chat_stale_replies_close() == 1
    answer = Message.objects.get(pk=start.assistant_message_id)
    assert (answer.status, answer.search_text) == ("truncated", search_text_for("途中までの会議メモ"))
    assert ids(search(client_a, "会議")) == {start.conversation_id}


@pytest.mark.django_db(transaction=True)
def test_slack_turn_writes_search_text(
    workspace_a: SlackWorkspace,  # noqa: F811
    fake_slack: FakeSlack,  # noqa: F811
    upstream: up.UpstreamServer,
    user_a: User,
) -> None:
    upstream.script("gpt-4o", up.normal("会議室は3階です。"))
    event, _message = stored(workspace_a, fake_slack, "会議室はどこ?")
    assert slack_event_process(event_pk=event.pk) == "done"
    question, answer = Message.objects.filter(conversation__source=Conversation.Source.SLACK).order_by("pk")
    assert question.search_text == search_text_for("会議室はどこ?")
    assert answer.search_text == search_text_for("会議室は3階です。")
    assert search(signed_in(user_a), "会議") == []  # Slack threads stay out of the web list


# --- PostgreSQL: the index; SQLite: the fallback --------------------------------------------------------------------
def test_the_search_uses_the_gin_index_on_postgresql_and_icontains_on_sqlite(user_a: User, carol_a: User) -> None:
    tenant = user_a.tenant
    conversations = Conversation.objects.bulk_create(
        Conversation(tenant=tenant, user=user_a if i % 5 else carol_a, title=f"chat {i}") for i in range(250)
    )
    words = ["報告書", "予算", "deploy", "release", "週次", "議事録", "invoice", "設計レビュー"]
    rows = []
    for i in range(5_000):
        text = f"{words[i % len(words)]}について {i} の確認をお願いします。status {i % 97}"
        if i == 4_321:
            text += " 会議室の予約"
        rows.append(
            Message(
                tenant=tenant,
                conversation=conversations[i % len(conversations)],
                role=Message.Role.USER if i % 2 == 0 else Message.Role.ASSISTANT,
                content=text,
                search_text=search_text_for(text),
            )
        )
    Message.objects.bulk_create(rows, batch_size=1000)
    found = conversation_list(tenant=tenant, user=user_a, query="会議")
    owner = conversations[4_321 % len(conversations)]
    assert owner.user_id == user_a.pk
    assert list(found) == [owner]
    with connection.cursor() as cursor:
        if POSTGRES:
            # Rows inserted since the index was built wait in GIN's pending list (fastupdate) until a vacuum; a
            # search reads that list in full, and the planner prices it so. Flush it as autovacuum would, and
            # give the planner statistics: then it picks the index by itself (no enable_seqscan = off needed).
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [INDEX_NAME])
            cursor.execute("ANALYZE chat_message")
            cursor.execute("ANALYZE chat_conversation")
        plan = found.explain()
        if POSTGRES:
            assert f"Bitmap Index Scan on {INDEX_NAME}" in plan, plan
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [INDEX_NAME])
            (definition,) = cursor.fetchone()
            assert "gin" in definition
            assert "to_tsvector('simple'::regconfig" in definition
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name = %s", [INDEX_NAME])
            assert cursor.fetchone() is None  # the migration creates it on PostgreSQL only
            assert "LIKE" in str(found.query)  # icontains over the content, and over the title
            assert "to_tsvector" not in str(found.query)


def test_fallback_differences_between_postgresql_and_sqlite(user_a: User, client_a: Client) -> None:
    """Whole words and bigrams on PostgreSQL; substrings on SQLite (docs/search.md)."""
    planning = chat(user_a, "Q3", "the planning meeting", "ok")
    apart = chat(user_a, "apart", "会議と議室", "ok")  # both bigrams of 会議室, not the word
    if POSTGRES:
        assert search(client_a, "plan") == []  # words match whole
        assert ids(search(client_a, "会議室")) == {apart.pk}  # bigrams AND-ed, not as a phrase
    else:
        assert ids(search(client_a, "plan")) == {planning.pk}  # icontains: inside words too
        assert search(client_a, "会議室") == []  # icontains: the exact characters in a row
    # Both: every word of the query, in one message, any order, any case.
    assert ids(search(client_a, "MEETING the")) == {planning.pk}


# --- The migration --------------------------------------------------------------------------------------------------
def _migrate(targets: list[tuple[str, str | None]]) -> Any:
    MigrationExecutor(connection).migrate(targets)
    executor = MigrationExecutor(connection)  # reloaded: what is applied now
    return executor.loader.project_state(list(executor.loader.applied_migrations)).apps


def test_migration_backfills_search_text_in_batches_and_indexes_on_postgresql_only(transactional_db: None) -> None:
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        apps = _migrate([("chat", "0006_chat_page")])
        tenant = apps.get_model("tenants", "Tenant").objects.create(name="Alpha", slug="alpha")
        user = apps.get_model("tenants", "User").objects.create(tenant=tenant, email="a@alpha.example", password="!")
        conversation = apps.get_model("chat", "Conversation").objects.create(tenant=tenant, user=user, title="old")
        message_model = apps.get_model("chat", "Message")
        texts = [f"会議室 {i} Meeting" if i % 1000 == 0 else f"note {i}" for i in range(2_501)] + [""]
        message_model.objects.bulk_create(
            message_model(tenant=tenant, conversation=conversation, role="user", content=text) for text in texts
        )
        _migrate([("chat", "0007_message_search")])
        saved = dict(Message.objects.values_list("content", "search_text"))
        assert saved == {text: search_text_for(text) for text in texts}  # both batches, and the empty one stays ""
        assert saved["会議室 2000 Meeting"] == "会議 議室 室 2000 meeting"
        with connection.cursor() as cursor:
            indexes = connection.introspection.get_constraints(cursor, Message._meta.db_table)
        assert (INDEX_NAME in indexes) is POSTGRES
        _migrate([("chat", "0006_chat_page")])  # and back: the index and the field go
        with connection.cursor() as cursor:
            assert INDEX_NAME not in connection.introspection.get_constraints(cursor, Message._meta.db_table)
    finally:
        _migrate(latest)
