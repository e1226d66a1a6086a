"""The chat page, its JSON API and exports: scoped to the person; other users' and tenants' ids are 404."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from chat.models import Conversation, Message
from chat.rendering import render_markdown
from chat.search import search_text_for
from llm.models import ModelVersion
from tenants.models import Tenant, User
from tests.conftest import signed_in


@pytest.fixture
def convo_a(user_a: User, tenant_a: Tenant, gpt4o: ModelVersion) -> Conversation:
    conversation = Conversation.objects.create(
        tenant=tenant_a, user=user_a, title="Quarterly plan", model_version=gpt4o
    )
    question, answer = "Draft the **plan**", "Here is the plan:\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    # search_text as the chat services write it (chat.search): the list's search reads it on PostgreSQL.
    Message.objects.create(
        tenant=tenant_a, conversation=conversation, role="user", content=question, search_text=search_text_for(question)
    )
    Message.objects.create(
        tenant=tenant_a,
        conversation=conversation,
        role="assistant",
        content=answer,
        search_text=search_text_for(answer),
        model_label="gpt-4o 2024-11-20",
    )
    return conversation


def test_chat_page_shows_allowed_models_and_default(
    client_a: Client, gpt4o: ModelVersion, o3mini: ModelVersion
) -> None:
    response = client_a.get("/")
    assert response.status_code == 200
    config = response.context["chat_config"]
    assert {m["id"] for m in config["models"]} == {gpt4o.pk, o3mini.pk}
    assert config["default_model_id"] == gpt4o.pk


def test_tenant_b_sees_only_its_models(client_b: Client, gpt4o: ModelVersion, o3mini: ModelVersion) -> None:
    config = client_b.get("/").context["chat_config"]
    assert [m["id"] for m in config["models"]] == [o3mini.pk]
    assert config["default_model_id"] == o3mini.pk


def test_retired_version_leaves_the_picker_but_old_answers_stay_readable(
    client_a: Client, convo_a: Conversation, gpt4o: ModelVersion
) -> None:
    ModelVersion.objects.filter(pk=gpt4o.pk).update(status="retired")
    config = client_a.get("/").context["chat_config"]
    assert gpt4o.pk not in [m["id"] for m in config["models"]]
    data = client_a.get(f"/api/conversations/{convo_a.pk}/").json()
    assert data["messages"][1]["model_label"] == "gpt-4o 2024-11-20"


def test_conversation_list_search_and_detail(client_a: Client, convo_a: Conversation) -> None:
    listed = client_a.get("/api/conversations/").json()["conversations"]
    assert [c["id"] for c in listed] == [convo_a.pk]
    assert client_a.get("/api/conversations/", {"q": "plan"}).json()["conversations"][0]["id"] == convo_a.pk
    assert client_a.get("/api/conversations/", {"q": "Draft"}).json()["conversations"][0]["id"] == convo_a.pk
    assert client_a.get("/api/conversations/", {"q": "nothing-like-this"}).json()["conversations"] == []
    detail = client_a.get(f"/api/conversations/{convo_a.pk}/").json()
    assert detail["conversation"]["title"] == "Quarterly plan"
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]
    assert detail["messages"][0]["html"] == "Draft the **plan**"  # user text is shown as typed
    assert "<table>" in detail["messages"][1]["html"]
    assert detail["running"] is None


def test_rename_and_delete(client_a: Client, convo_a: Conversation) -> None:
    response = client_a.post(
        f"/api/conversations/{convo_a.pk}/rename/",
        json.dumps({"title": "  New   name "}),
        content_type="application/json",
    )
    assert response.json()["conversation"]["title"] == "New name"
    bad = client_a.post(f"/api/conversations/{convo_a.pk}/rename/", "not json", content_type="application/json")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "bad_json"
    empty = client_a.post(
        f"/api/conversations/{convo_a.pk}/rename/", json.dumps({"title": " "}), content_type="application/json"
    )
    assert empty.status_code == 400
    assert client_a.post(f"/api/conversations/{convo_a.pk}/delete/", "{}", content_type="application/json").json() == {
        "ok": True
    }
    assert not Conversation.objects.filter(pk=convo_a.pk).exists()


def test_settings_change_model_and_system_prompt(
    client_a: Client, convo_a: Conversation, o3mini: ModelVersion, gpt4o: ModelVersion
) -> None:
    response = client_a.post(
        f"/api/conversations/{convo_a.pk}/settings/",
        json.dumps({"system_prompt": "Answer in Japanese.", "model_version_id": o3mini.pk}),
        content_type="application/json",
    )
    assert response.status_code == 200
    convo_a.refresh_from_db()
    assert convo_a.system_prompt == "Answer in Japanese."
    assert convo_a.model_version == o3mini
    too_long = client_a.post(
        f"/api/conversations/{convo_a.pk}/settings/",
        json.dumps({"system_prompt": "x" * 8001}),
        content_type="application/json",
    )
    assert too_long.status_code == 400
    assert too_long.json()["error"]["code"] == "too_long"


def test_exports(client_a: Client, convo_a: Conversation) -> None:
    md = client_a.get(f"/c/{convo_a.pk}/export.md")
    assert md.status_code == 200
    assert md["Content-Type"].startswith("text/markdown")
    body = md.content.decode()
    assert "# Quarterly plan" in body
    assert "Draft the **plan**" in body
    assert "| 1 | 2 |" in body
    data = json.loads(client_a.get(f"/c/{convo_a.pk}/export.json").content)
    assert data["conversation"]["id"] == convo_a.pk
    assert data["messages"][0]["content"] == "Draft the **plan**"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/c/{id}/"),
        ("get", "/c/{id}/export.md"),
        ("get", "/c/{id}/export.json"),
        ("get", "/api/conversations/{id}/"),
        ("post", "/api/conversations/{id}/rename/"),
        ("post", "/api/conversations/{id}/delete/"),
        ("post", "/api/conversations/{id}/settings/"),
    ],
)
def test_other_tenant_and_other_user_get_404(
    client_b: Client, tenant_a: Tenant, convo_a: Conversation, method: str, path: str
) -> None:
    colleague = signed_in(User.objects.create(tenant=tenant_a, email="carol@alpha.example"))
    for intruder in (client_b, colleague):
        url = path.format(id=convo_a.pk)
        if method == "get":
            response = intruder.get(url)
        else:
            response = intruder.post(url, json.dumps({"title": "x"}), content_type="application/json")
        assert response.status_code == 404
        assert "Quarterly plan" not in response.content.decode()
    assert Conversation.objects.get(pk=convo_a.pk).title == "Quarterly plan"
    assert client_b.get("/api/conversations/").json()["conversations"] == []


def test_missing_conversation_is_the_same_404(client_a: Client, db: None) -> None:
    assert client_a.get("/api/conversations/999999/").status_code == 404
    assert client_a.get("/c/999999/").status_code == 404


def test_anonymous_is_sent_to_sign_in(db: None) -> None:
    response = Client().get("/api/conversations/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_markdown_rendering_is_inert() -> None:
    html = render_markdown(
        "<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1)) "
        '<a href="javascript:alert(2)">y</a>\n\n```js\nalert("ok")\n```'
    )
    assert "<script" not in html
    assert re.search(r"<[^>]*\bon\w+=", html) is None  # no tag carries an event handler
    assert re.search(r"<a\s[^>]*href=\"javascript", html) is None
    assert "<img" not in html
    assert '<code class="language-js">' in html
