"""Chat services: context trimming, notices, recovery of interrupted replies."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from audit.models import AuditOutbox
from chat.models import Conversation, Message, Notice, NoticeAcknowledgement
from chat.selectors import notice_current
from chat.services import (
    ChatRefused,
    build_prompt,
    chat_stale_replies_close,
    chat_turn_start,
    notice_acknowledge,
    notice_save,
)
from llm.models import ModelVersion
from llm.specs import model_spec
from tenants.models import Tenant, User
from tests.conftest import signed_in


def test_history_is_trimmed_to_the_context_window(tenant_a: Tenant, user_a: User, gpt4o: ModelVersion) -> None:
    ModelVersion.objects.filter(pk=gpt4o.pk).update(context_window=1200, max_output_tokens=200)
    gpt4o.refresh_from_db()
    conversation = Conversation.objects.create(tenant=tenant_a, user=user_a)
    history = []
    for i in range(30):
        role = "user" if i % 2 == 0 else "assistant"
        history.append(
            Message.objects.create(
                tenant=tenant_a, conversation=conversation, role=role, content=f"turn {i} " + "word " * 60
            )
        )
    prompt, trimmed = build_prompt(system_prompt="Be brief.", history=history, spec=model_spec(gpt4o))
    assert trimmed > 0
    assert prompt[0] == {"role": "system", "content": "Be brief."}
    assert prompt[1]["role"] == "user"
    assert prompt[-1]["content"].startswith("turn 29")
    assert len(prompt) - 1 + trimmed == 30


def test_turn_start_records_trimming_on_the_answer(tenant_a: Tenant, user_a: User, gpt4o: ModelVersion) -> None:
    ModelVersion.objects.filter(pk=gpt4o.pk).update(context_window=600, max_output_tokens=100)
    start = chat_turn_start(tenant=tenant_a, user=user_a, conversation_id=None, text="first " * 150)
    Message.objects.filter(pk=start.assistant_message_id).update(status="ok", content="answer " * 150)
    second = chat_turn_start(tenant=tenant_a, user=user_a, conversation_id=start.conversation_id, text="second")
    assert second.context_trimmed == 2
    assert Message.objects.get(pk=second.assistant_message_id).context_trimmed == 2


def test_busy_and_limits(tenant_a: Tenant, user_a: User, gpt4o: ModelVersion) -> None:
    start = chat_turn_start(tenant=tenant_a, user=user_a, conversation_id=None, text="hello")
    with pytest.raises(ChatRefused) as busy:
        chat_turn_start(tenant=tenant_a, user=user_a, conversation_id=start.conversation_id, text="again")
    assert busy.value.code == "busy"
    with pytest.raises(ChatRefused) as long:
        chat_turn_start(tenant=tenant_a, user=user_a, conversation_id=None, text="x" * 40_000)
    assert long.value.code == "too_long"
    assert "32,000" in long.value.message
    assert Message.objects.count() == 2  # nothing saved by the refused turns


def test_notice_versions_and_acknowledgements(tenant_a: Tenant, tenant_b: Tenant, user_a: User) -> None:
    with transaction.atomic():
        notice = notice_save(notice=Notice(web_text_en="Confidential data belongs here, not in Slack."))
    assert notice.version == 1
    assert notice_current(tenant=tenant_a) == notice
    assert notice_acknowledge(user=user_a, notice=notice)
    assert not notice_acknowledge(user=user_a, notice=notice)  # once per version
    notice.web_text_en = "Updated wording."
    notice_save(notice=notice)
    assert notice.version == 2
    notice.active = notice.active
    notice_save(notice=notice)
    assert notice.version == 2  # unchanged text: same version
    override = notice_save(notice=Notice(tenant=tenant_b, web_text_en="Beta's own rules."))
    assert notice_current(tenant=tenant_b) == override
    assert notice_current(tenant=tenant_a) == notice
    assert NoticeAcknowledgement.objects.filter(user=user_a).count() == 1
    ack = AuditOutbox.objects.get(event_type="notice.acknowledged")
    assert ack.tenant_id == tenant_a.pk
    assert ack.payload["version"] == 1


def test_tenant_admin_edits_only_own_notice(admin_a: User, operator: User, tenant_a: Tenant, tenant_b: Tenant) -> None:
    global_notice = notice_save(notice=Notice(web_text_en="For everyone"))
    beta = notice_save(notice=Notice(tenant=tenant_b, web_text_en="Beta only"))
    client: Client = signed_in(admin_a)
    listing = client.get("/admin/chat/notice/").content.decode()
    assert "Beta only" not in listing
    assert client.get(f"/admin/chat/notice/{beta.pk}/change/").status_code == 404
    assert client.get(f"/admin/chat/notice/{global_notice.pk}/change/").status_code == 404
    response = client.post(
        "/admin/chat/notice/add/",
        {"web_text_ja": "", "web_text_en": "Alpha rules", "slack_text_ja": "", "slack_text_en": "", "active": "on"},
    )
    assert response.status_code == 302
    assert Notice.objects.get(web_text_en="Alpha rules").tenant == tenant_a
    assert AuditOutbox.objects.filter(event_type="admin.notice.created", tenant_id=tenant_a.pk).count() == 1


def test_stale_streaming_answer_is_closed_and_audited(tenant_a: Tenant, user_a: User, gpt4o: ModelVersion) -> None:
    start = chat_turn_start(tenant=tenant_a, user=user_a, conversation_id=None, text="hello")
    Message.objects.filter(pk=start.assistant_message_id).update(
        content="partial", updated_at=timezone.now() - timedelta(minutes=10)
    )
    assert chat_stale_replies_close() == 1
    message = Message.objects.get(pk=start.assistant_message_id)
    assert message.status == "truncated"
    assert message.content == "partial"
    entry = AuditOutbox.objects.get(event_type="llm.chat")
    assert entry.status == "truncated"
    assert entry.payload["response_text"] == "partial"
    assert chat_stale_replies_close() == 0
