"""What the chat page reads: errors in the reader's language (stored as codes with parameters), the sentence under a
filtered answer, export names that keep a Japanese title (RFC 6266), the model picker's names and descriptions, and
thumbs up/down on answers (stored, audited, never on someone else's answer)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
from django.test import Client
from django.utils import translation

from audit.models import AuditOutbox
from chat.errors import error_params, error_text
from chat.models import Conversation, Feedback, Message
from chat.views import export_disposition
from llm.models import ModelVersion
from tenants.models import Tenant, User

pytestmark = pytest.mark.django_db


def conversation_with_answer(tenant: Tenant, user: User, **answer: Any) -> tuple[Conversation, Message]:
    conversation = Conversation.objects.create(tenant=tenant, user=user, title="会議の準備")
    Message.objects.create(tenant=tenant, conversation=conversation, role=Message.Role.USER, content="質問")
    fields = {"content": "答え", "status": Message.Status.OK, "model_label": "gpt-4o 2024-11-20", **answer}
    reply = Message.objects.create(tenant=tenant, conversation=conversation, role=Message.Role.ASSISTANT, **fields)
    return conversation, reply


def detail(client: Client, conversation: Conversation, language: str) -> dict[str, Any]:
    response = client.get(f"/api/conversations/{conversation.pk}/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.json()


def test_an_error_is_said_in_the_readers_language(client_a: Client, tenant_a: Tenant, user_a: User) -> None:
    with translation.override("en"):  # the answer failed while someone read the page in English
        stored = error_text("rate_limited", error_params(retry_after=30, partial=False))
    conversation, _ = conversation_with_answer(
        tenant_a, user_a, status=Message.Status.ERROR, error_code="rate_limited",
        error_params=error_params(retry_after=30, partial=False), error_message=stored,
    )  # fmt: skip
    client_a.post("/i18n/setlang/", {"language": "ja"})
    japanese = detail(client_a, conversation, "ja")["messages"][1]["error"]
    assert japanese["code"] == "rate_limited"
    assert "30" in japanese["message"]
    assert japanese["message"] != stored
    client_a.post("/i18n/setlang/", {"language": "en"})
    assert detail(client_a, conversation, "en")["messages"][1]["error"]["message"] == stored


def test_an_unknown_code_falls_back_to_the_stored_sentence() -> None:
    assert error_text("from_a_later_version", {}, "Saved text") == "Saved text"
    assert error_text("", {}, "ignored") == ""
    with translation.override("en"):
        assert "Regenerate" in error_text("interrupted", {"slack": False})
        assert "Ask again" in error_text("interrupted", {"slack": True})


def test_a_filtered_answer_gets_a_plain_sentence(client_a: Client, tenant_a: Tenant, user_a: User) -> None:
    conversation, _ = conversation_with_answer(tenant_a, user_a, status=Message.Status.COMPLETION_FILTERED)
    client_a.post("/i18n/setlang/", {"language": "en"})
    answer = detail(client_a, conversation, "en")["messages"][1]
    assert answer["note"].startswith("The content filter stopped this answer here.")
    assert detail(client_a, conversation, "en")["messages"][0]["note"] == ""


def test_exports_keep_a_japanese_title_in_their_file_name(client_a: Client, tenant_a: Tenant, user_a: User) -> None:
    conversation, _ = conversation_with_answer(tenant_a, user_a)
    for ext in ("md", "json"):
        header = client_a.get(f"/c/{conversation.pk}/export.{ext}")["Content-Disposition"]
        assert header.startswith(f'attachment; filename="conversation-{conversation.pk}.{ext}"; ')
        assert unquote(header.split("filename*=UTF-8''")[1]) == f"会議の準備.{ext}"
    assert export_disposition("Q3 plan: draft", 5, "md") == (
        "attachment; filename=\"q3-plan-draft.md\"; filename*=UTF-8''q3-plan-draft.md"
    )


def test_the_picker_shows_display_names_descriptions_and_capabilities(
    client_a: Client, tenant_a: Tenant, gpt4o: ModelVersion
) -> None:
    ModelVersion.objects.filter(pk=gpt4o.pk).update(
        display_name="GPT-4o (fast)", description_en="Everyday writing", description_ja="日常の文章", vision=True
    )
    client_a.post("/i18n/setlang/", {"language": "ja"})
    page = client_a.get("/", HTTP_ACCEPT_LANGUAGE="ja")
    (model,) = page.context["chat_config"]["models"]
    assert model["display_name"] == "GPT-4o (fast)"
    assert model["description"] == "日常の文章"
    assert (model["vision"], model["reasoning"], model["context_window"]) == (True, False, 128_000)


def test_thumbs_are_stored_audited_and_taken_back(
    client_a: Client, client_b: Client, tenant_a: Tenant, user_a: User
) -> None:
    conversation, answer = conversation_with_answer(tenant_a, user_a)
    url = f"/api/messages/{answer.pk}/feedback/"
    response = client_a.post(url, {"rating": -1, "comment": "出典がない"}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["feedback"] == {"rating": -1, "comment": "出典がない"}
    assert Feedback.objects.get().rating == -1
    assert detail(client_a, conversation, "en")["messages"][1]["feedback"] == {"rating": -1, "comment": "出典がない"}
    row = AuditOutbox.objects.get(event_type="chat.feedback")
    assert (row.tenant_id, row.payload["rating"], row.payload["message_id"]) == (tenant_a.pk, -1, answer.pk)
    client_a.post(url, {"rating": 1}, content_type="application/json")
    assert Feedback.objects.get().rating == 1  # changed, not added
    client_a.post(url, {"rating": 0}, content_type="application/json")
    assert not Feedback.objects.exists()
    assert AuditOutbox.objects.filter(event_type="chat.feedback").count() == 3


@pytest.mark.parametrize(
    ("body", "code"),
    [({"rating": 5}, "bad_rating"), ({"rating": True}, "bad_rating"), ({"rating": 1, "comment": 7}, "bad_comment"),
     ({"rating": 1, "comment": "x" * 2001}, "too_long"), ({"rating": 1, "comment": "\ud800"}, "bad_text")],
)  # fmt: skip
def test_bad_feedback_is_a_clear_400(client_a: Client, tenant_a: Tenant, user_a: User, body: Any, code: str) -> None:
    _, answer = conversation_with_answer(tenant_a, user_a)
    response = client_a.post(f"/api/messages/{answer.pk}/feedback/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert not Feedback.objects.exists()


def test_feedback_on_someone_elses_answer_is_a_404(
    client_a: Client, client_b: Client, tenant_a: Tenant, user_a: User
) -> None:
    _, answer = conversation_with_answer(tenant_a, user_a)
    question = Message.objects.get(role=Message.Role.USER)
    for client, message in ((client_b, answer), (client_a, question)):  # another tenant's; not an answer
        response = client.post(f"/api/messages/{message.pk}/feedback/", {"rating": 1}, content_type="application/json")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert client_a.get(f"/api/messages/{answer.pk}/feedback/").status_code == 405
    assert not Feedback.objects.exists()
