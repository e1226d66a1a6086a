"""Carrying history over from chatbot-ui v1: its JSON export into one person's account, idempotent, checked (a bad
file creates nothing and says what is wrong, and where), size-limited, audited; and the settings page."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditOutbox, chain_for
from chat.importer import MAX_BYTES, ImportRefused, import_chatbot_ui
from chat.models import Conversation, Folder, Message, Prompt
from chat.search import search_text_for
from chat.selectors import answers_finished_between, conversation_list
from chat.services import MAX_SYSTEM_PROMPT, MAX_TEXT
from tenants.models import Tenant, User
from tenants.services import user_create

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "chatbot-ui-v1-export.json"
PAGE = "/settings/import/"


@pytest.fixture
def export_bytes() -> bytes:
    return FIXTURE.read_bytes()


@pytest.fixture
def export() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def nothing_created() -> bool:
    return not (
        Conversation.objects.exists()
        or Message.objects.exists()
        or Folder.objects.exists()
        or Prompt.objects.exists()
        or AuditOutbox.objects.filter(event_type="chat.imported").exists()
    )


# --- The fixture --------------------------------------------------------------------------------------------------
def test_import_of_a_v4_export(user_a: User, tenant_a: Tenant, export_bytes: bytes) -> None:
    result = import_chatbot_ui(user=user_a, data=export_bytes)
    assert result.version == 4
    assert result.counts() == {
        "conversations_created": 5,
        "conversations_skipped": 1,  # "New Conversation" without messages
        "messages_created": 12,  # the system message became a system prompt
        "messages_skipped": 0,
        "folders_created": 3,  # the chat folders; the prompt folder names the prompt's folder
        "folders_skipped": 0,
        "prompts_created": 2,
        "prompts_skipped": 0,
    }
    assert any("f0a7c1de-dead-4bee-8000-000000000000" in w and "history[2]" in w for w in result.warnings)
    assert any("without messages" in w for w in result.warnings)

    folders = {f.name: f for f in Folder.objects.filter(user=user_a)}
    assert set(folders) == {"会議メモ", "Engineering", "Empty folder"}
    assert [f.name for f in Folder.objects.filter(user=user_a).order_by("position")] == [
        "会議メモ",
        "Engineering",
        "Empty folder",
    ]

    conversations = {c.title: c for c in Conversation.objects.filter(user=user_a)}
    minutes = conversations["議事録の要約"]
    assert minutes.folder == folders["会議メモ"]
    assert (minutes.source, minutes.title_source, minutes.model_version) == ("web", "imported", None)
    assert minutes.imported_key == "6d1c9f52-3b0e-4a57-9a1e-1f6c2f0b8a11"
    assert minutes.tenant == tenant_a
    texts = list(minutes.messages.order_by("pk").values_list("role", "content", "status"))
    assert texts[0] == (
        "user",
        "次の議事録を3行で要約してください。\n\n・来期の予算案を承認\n・新オフィスへの移転は6月\n・採用計画を見直す",
        "ok",
    )
    assert [role for role, _, _ in texts] == ["user", "assistant", "user", "assistant"]
    first = minutes.messages.order_by("pk").first()
    assert first is not None
    assert first.search_text == search_text_for(first.content)  # found by search like any message
    assert "議事" in first.search_text.split()
    assert all(status == "ok" for _, _, status in texts)

    code = conversations["Deduplicate a list in Python"]
    assert code.folder == folders["Engineering"]
    answer = code.messages.get(role="assistant")
    assert "```python\ndef unique(items: list[str]) -> list[str]:\n    seen: set[str] = set()\n" in answer.content
    assert "- It runs in **O(n)**.\n" in answer.content
    assert answer.model_label == "gpt-3.5-turbo"
    assert answer.completed_at is not None

    assert conversations["Old trip planning"].folder is None  # its folder is not in the file
    mail = conversations["丁寧なメールの下書き"]
    assert mail.system_prompt == "あなたは日本のビジネスメールの専門家です。敬語を正しく使ってください。"
    assert list(mail.messages.values_list("role", flat=True)) == ["user", "assistant"]
    assert "いつもお世話になっております。🙇" in mail.messages.get(role="assistant").content
    editor = conversations["Release notes reviewer"]
    assert editor.system_prompt == "You are a strict technical editor. Answer in short bullet points."

    prompts = {p.name: p for p in Prompt.objects.filter(owner=user_a)}
    translate = prompts["Translate"]
    assert (translate.folder_name, translate.imported_key, translate.tenant_id) == (
        "Writing",
        "p-7c2b1a90-0001",
        tenant_a.pk,
    )
    assert translate.description == "Translate text into another language"
    assert prompts["議事録テンプレート"].folder_name == ""
    assert Prompt.objects.filter(owner__isnull=True).count() == 0  # personal, never shared


def test_the_newest_chatbot_ui_conversation_is_on_top(user_a: User, tenant_a: Tenant, export: dict[str, Any]) -> None:
    import_chatbot_ui(user=user_a, data=dumps(export))
    titles = [c.title for c in conversation_list(tenant=tenant_a, user=user_a)]
    in_file = [c["name"] for c in export["history"] if c["messages"]]
    assert titles == list(reversed(in_file))
    rows = list(Conversation.objects.filter(user=user_a).order_by("pk"))
    assert [c.title for c in rows] == in_file
    assert [c.updated_at for c in rows] == sorted(c.updated_at for c in rows)
    for conversation in rows:
        assert abs(conversation.updated_at - timezone.now()) < timedelta(minutes=5)
        times = set(conversation.messages.values_list("created_at", flat=True))
        assert times == {conversation.created_at}


def test_imported_answers_are_not_counted_as_usage(user_a: User, export_bytes: bytes) -> None:
    import_chatbot_ui(user=user_a, data=export_bytes)
    now = timezone.now()
    assert list(answers_finished_between(start=now - timedelta(days=1), end=now + timedelta(days=1))) == []


def test_importing_twice_creates_nothing_the_second_time(user_a: User, export_bytes: bytes) -> None:
    import_chatbot_ui(user=user_a, data=export_bytes)
    before = (Conversation.objects.count(), Message.objects.count(), Folder.objects.count(), Prompt.objects.count())
    again = import_chatbot_ui(user=user_a, data=export_bytes)
    assert again.conversations_created == again.messages_created == again.folders_created == again.prompts_created == 0
    assert (again.conversations_skipped, again.messages_skipped) == (6, 12)
    assert (again.folders_skipped, again.prompts_skipped) == (3, 2)
    after = (Conversation.objects.count(), Message.objects.count(), Folder.objects.count(), Prompt.objects.count())
    assert after == before
    assert AuditOutbox.objects.filter(event_type="chat.imported").count() == 2


def test_a_later_export_adds_only_what_is_new(user_a: User, export: dict[str, Any]) -> None:
    import_chatbot_ui(user=user_a, data=dumps(export))
    export["history"].append(
        {"id": "new-one", "name": "Later", "messages": [{"role": "user", "content": "Hi"}], "folderId": None}
    )
    export["history"][0]["folderId"] = "f0a7c1de-2222-4c3b-8f70-3e1d2b4c5a02"
    result = import_chatbot_ui(user=user_a, data=dumps(export))
    assert (result.conversations_created, result.messages_created) == (1, 1)
    assert Conversation.objects.filter(user=user_a).count() == 6
    titles = [c.title for c in conversation_list(tenant=user_a.tenant, user=user_a)]
    assert titles[0] == "Later"


def test_conversations_without_an_id_get_a_stable_key(user_a: User) -> None:
    data = dumps([{"name": "No id", "messages": [{"role": "user", "content": "Hello"}]}])  # version 1
    first = import_chatbot_ui(user=user_a, data=data)
    second = import_chatbot_ui(user=user_a, data=data)
    assert (first.version, first.conversations_created, second.conversations_created) == (1, 1, 0)
    assert Conversation.objects.get().imported_key.startswith("sha256:")


def test_another_persons_import_never_lands_in_your_account(
    user_a: User, user_b: User, tenant_a: Tenant, export_bytes: bytes
) -> None:
    carol = user_create(tenant=tenant_a, email="carol@alpha.example")
    import_chatbot_ui(user=user_b, data=export_bytes)
    import_chatbot_ui(user=carol, data=export_bytes)  # same file, same company: her own copy
    assert not Conversation.objects.filter(user=user_a).exists()
    assert not Folder.objects.filter(user=user_a).exists()
    assert not Prompt.objects.filter(owner=user_a).exists()
    assert Conversation.objects.filter(user=user_b, tenant=user_b.tenant).count() == 5
    assert Conversation.objects.filter(user=carol, tenant=tenant_a).count() == 5
    assert conversation_list(tenant=tenant_a, user=user_a).count() == 0
    for conversation in Conversation.objects.filter(user=user_b):
        assert conversation.messages.exclude(tenant=user_b.tenant).count() == 0
        assert conversation.folder is None or conversation.folder.user == user_b


def test_the_import_is_audited_with_counts_and_the_files_hash_not_its_content(
    user_a: User, tenant_a: Tenant, export_bytes: bytes
) -> None:
    import_chatbot_ui(user=user_a, data=export_bytes)
    entry = AuditOutbox.objects.get(event_type="chat.imported")
    assert (entry.tenant_id, entry.chain, entry.actor_id, entry.channel) == (
        tenant_a.pk,
        chain_for(tenant_a.pk),
        user_a.pk,
        "web",
    )
    assert entry.payload["sha256"] == hashlib.sha256(export_bytes).hexdigest()
    assert entry.payload["size"] == len(export_bytes)
    assert entry.payload["format_version"] == 4
    assert entry.payload["conversations_created"] == 5
    assert entry.payload["messages_created"] == 12
    assert entry.payload["prompts_created"] == 2
    dumped = json.dumps(entry.payload, ensure_ascii=False)
    assert "議事録" not in dumped
    assert "unique" not in dumped


def test_a_failure_while_writing_rolls_everything_back(
    user_a: User, export_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("audit down")

    monkeypatch.setattr("chat.importer.services.audit_record", broken)
    with pytest.raises(RuntimeError):
        import_chatbot_ui(user=user_a, data=export_bytes)
    assert nothing_created()


# --- Older versions -----------------------------------------------------------------------------------------------
def test_version_2_folders_are_chat_folders(user_a: User) -> None:
    data = {
        "history": [
            {"id": 1680000000001, "name": "v2 chat", "messages": [{"role": "user", "content": "Hi"}], "folderId": 7},
        ],
        "folders": [{"id": 7, "name": "Old folder"}],
    }
    result = import_chatbot_ui(user=user_a, data=dumps(data))
    assert (result.version, result.folders_created, result.conversations_created) == (2, 1, 1)
    conversation = Conversation.objects.get()
    assert (conversation.imported_key, conversation.folder.name) == ("1680000000001", "Old folder")  # type: ignore[union-attr]


def test_version_2_with_null_lists_and_version_3(user_a: User, export: dict[str, Any]) -> None:
    assert import_chatbot_ui(user=user_a, data=dumps({"history": None, "folders": None})).version == 2
    v3 = {"version": 3, "history": export["history"], "folders": export["folders"]}
    result = import_chatbot_ui(user=user_a, data=dumps(v3))
    assert (result.version, result.conversations_created, result.prompts_created) == (3, 5, 0)


# --- Repairs and limits (imported, with a warning) ----------------------------------------------------------------
def test_text_the_database_cannot_store_is_repaired_with_a_warning(user_a: User) -> None:
    raw = b'[{"id": "x", "name": "bad\\u0000 title", "messages": [{"role": "user", "content": "half \\ud83d emoji"}]}]'
    result = import_chatbot_ui(user=user_a, data=raw)
    message = Message.objects.get()
    assert message.content == "half \ufffd emoji"
    assert Conversation.objects.get().title == "bad title"
    assert any("[0].messages[0].content" in w for w in result.warnings)


def test_too_long_texts_are_cut_with_a_warning_not_dropped(user_a: User) -> None:
    data = [
        {
            "id": "long",
            "name": "t" * 300,
            "prompt": "p" * (MAX_SYSTEM_PROMPT + 5),
            "messages": [
                {"role": "user", "content": "u" * (MAX_TEXT + 10)},
                {"role": "assistant", "content": "a" * 10},
            ],
        }
    ]
    result = import_chatbot_ui(user=user_a, data=dumps(data))
    conversation = Conversation.objects.get()
    user_message = conversation.messages.get(role="user")
    assert len(user_message.content) == MAX_TEXT
    assert user_message.content.endswith("…")
    assert len(conversation.system_prompt) == MAX_SYSTEM_PROMPT
    assert len(conversation.title) == 200
    assert any("[0].messages[0].content" in w and "32,000" in w for w in result.warnings)
    assert any("[0].prompt" in w for w in result.warnings)


def test_prompts_beyond_the_personal_limit_are_left_out_with_a_warning(
    user_a: User, export_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("chat.importer.services.MAX_PROMPTS", 1)
    result = import_chatbot_ui(user=user_a, data=export_bytes)
    assert (result.prompts_created, result.prompts_skipped) == (1, 1)
    assert any("at most 1 prompts" in w for w in result.warnings)


def test_duplicate_ids_in_the_file_import_the_first(user_a: User, export: dict[str, Any]) -> None:
    twin = copy.deepcopy(export["history"][1])
    twin["name"] = "the second one"
    export["history"].append(twin)
    result = import_chatbot_ui(user=user_a, data=dumps(export))
    assert result.conversations_created == 5
    assert not Conversation.objects.filter(title="the second one").exists()
    assert any("appears again" in w for w in result.warnings)


# --- Refusals: a clear error, and nothing created -----------------------------------------------------------------
def _mutate(export: dict[str, Any], change: Any) -> bytes:
    data = copy.deepcopy(export)
    result = change(data)
    return dumps(data if result is None else result)


REFUSALS: list[tuple[str, Any, str, str]] = [
    ("not json", lambda d: None, "not_json", "line 1, column 2"),
    ("unknown version", lambda d: d.update(version=5), "unknown_version", "Version 5"),
    ("version as text", lambda d: d.update(version="4"), "unknown_version", "Version 4"),
    ("not an export", lambda d: {"conversations": []}, "unknown_format", "history"),
    ("a number", lambda d: 42, "unknown_format", "not a chatbot-ui export"),
    ("missing history", lambda d: d.pop("history") and None, "missing_field", "Missing field at history."),
    ("missing prompts", lambda d: d.pop("prompts") and None, "missing_field", "Missing field at prompts."),
    (
        "missing content",
        lambda d: d["history"][3]["messages"][2].pop("content") and None,
        "missing_field",
        "Missing field at history[3].messages[2].content.",
    ),
    (
        "content a number",
        lambda d: d["history"][1]["messages"][0].update(content=7),
        "wrong_type",
        "history[1].messages[0].content must be text, not a number.",
    ),
    ("history not a list", lambda d: d.update(history={}), "wrong_type", "history must be a list"),
    (
        "message not an object",
        lambda d: d["history"][0]["messages"].append("hello"),
        "wrong_type",
        "history[0].messages[4] must be an object, not text.",
    ),
    (
        "unknown role",
        lambda d: d["history"][4]["messages"][1].update(role="tool"),
        "bad_value",
        "history[4].messages[1].role: unknown role “tool”",
    ),
    ("unknown folder type", lambda d: d["folders"][0].update(type="x"), "bad_value", "folders[0].type"),
    ("folder without id", lambda d: d["folders"][1].pop("id") and None, "missing_field", "folders[1].id"),
    ("prompt without content", lambda d: d["prompts"][1].pop("content") and None, "missing_field", "prompts[1]"),
]


@pytest.mark.parametrize(("case", "change", "code", "words"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_bad_file_is_refused_naming_what_is_wrong_and_creates_nothing(
    user_a: User, export: dict[str, Any], case: str, change: Any, code: str, words: str
) -> None:
    data = b"{not json" if case == "not json" else _mutate(export, change)
    with pytest.raises(ImportRefused) as refused:
        import_chatbot_ui(user=user_a, data=data)
    assert refused.value.code == code
    assert words in refused.value.message
    assert nothing_created()


@pytest.mark.parametrize(
    ("data", "code"),
    [(b"", "empty_file"), (b"  \n", "empty_file"), ("[]".encode("utf-16"), "not_utf8"), (b"[" * 100_000, "not_json")],
)
def test_files_that_are_not_json_at_all(user_a: User, data: bytes, code: str) -> None:
    with pytest.raises(ImportRefused) as refused:
        import_chatbot_ui(user=user_a, data=data)
    assert refused.value.code == code
    assert nothing_created()


def test_too_many_conversations(user_a: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chat.importer.parse.MAX_CONVERSATIONS", 3)
    data = [{"id": str(i), "name": "c", "messages": [{"role": "user", "content": "x"}]} for i in range(4)]
    with pytest.raises(ImportRefused) as refused:
        import_chatbot_ui(user=user_a, data=dumps(data))
    assert refused.value.code == "too_many_conversations"
    assert "4 conversations" in refused.value.message
    assert nothing_created()


def test_size_limit(user_a: User) -> None:
    data = b"[" + b" " * (MAX_BYTES - 2) + b"]"
    assert import_chatbot_ui(user=user_a, data=data).conversations_created == 0  # exactly the limit: fine
    with pytest.raises(ImportRefused) as refused:
        import_chatbot_ui(user=user_a, data=data + b" ")
    assert refused.value.code == "too_large"
    assert "the limit is 20 MB" in refused.value.message


# --- The page -----------------------------------------------------------------------------------------------------
def test_the_page_needs_sign_in(db: None) -> None:
    anonymous = Client()
    response = anonymous.get(PAGE)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    assert anonymous.post(PAGE, {"file": b"[]"}).status_code in (302, 403)
    assert nothing_created()


def _upload(name: str, content: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="application/json")


def test_the_page_imports_with_the_csrf_token(user_a: User, export_bytes: bytes) -> None:
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user_a, backend="tenants.backends.TenantModelBackend")
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'enctype="multipart/form-data"' in html
    main = html.split("<main", 1)[1]
    assert "<script" not in main  # CSP: no inline code or style
    assert "style=" not in main
    refused = client.post(PAGE, {"file": _upload("export.json", export_bytes)})
    assert refused.status_code == 403  # no token
    assert nothing_created()
    token = client.cookies["csrftoken"].value
    done = client.post(PAGE, {"file": _upload("export.json", export_bytes), "csrfmiddlewaretoken": token})
    assert done.status_code == 200
    result = done.context["result"]
    assert (result.conversations_created, result.prompts_created) == (5, 2)
    body = done.content.decode()
    assert 'data-testid="conversations-created">5<' in body
    assert "f0a7c1de-dead-4bee-8000-000000000000" in body  # the warning about the missing folder
    assert Conversation.objects.filter(user=user_a).count() == 5


def test_the_page_explains_a_refused_file(client_a: Client) -> None:
    response = client_a.post(PAGE, {"file": _upload("x.json", b'{"version": 9}')})
    assert response.status_code == 400
    assert "Version 9 of the chatbot-ui export is not supported" in response.content.decode()
    missing = client_a.post(PAGE, {})
    assert missing.status_code == 400
    assert "Choose the JSON file" in missing.content.decode()
    assert nothing_created()


def test_the_page_refuses_a_file_over_20_mb(client_a: Client) -> None:
    response = client_a.post(PAGE, {"file": _upload("big.json", b" " * (MAX_BYTES + 1))})
    assert response.status_code == 413
    assert "The file is too large: 20.0 MB; the limit is 20 MB." in response.content.decode()
    assert nothing_created()


def test_search_finds_imported_messages(user_a: User, tenant_a: Tenant, export_bytes: bytes) -> None:
    import_chatbot_ui(user=user_a, data=export_bytes)
    found = [c.title for c in conversation_list(tenant=tenant_a, user=user_a, query="納期")]
    assert found == ["丁寧なメールの下書き"]
    assert [c.title for c in conversation_list(tenant=tenant_a, user=user_a, query="bamboo")] == ["Old trip planning"]
