from __future__ import annotations

from django.db import transaction

from audit.models import AuditEntry
from audit.services import LLMCallRecord, audit_llm_chat
from tenants.models import Tenant, User
from tests.audit.helpers import chain_all
from tests.conftest import signed_in


def make_record(tenant: Tenant, user: User) -> LLMCallRecord:
    return LLMCallRecord(
        tenant_id=tenant.pk,
        user=user,
        user_email=user.email,
        channel="web",
        channel_detail={},
        conversation_id=1,
        message_id=2,
        model_label="gpt-4o 2024-11-20",
        deployment={"endpoint_host": "x.openai.azure.com", "api_style": "azure_dated", "api_key": "sk-secret"},
        request_params={"temperature": 0.2},
        prompt_messages=[{"role": "user", "content": "社外秘の資料を要約して"}],
        response_text="要約です。",
        finish_reason="stop",
        status="ok",
        content_filter={},
        usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "estimated": False},
        upstream_request_ids=["req-1"],
        error=None,
        attempts=[{"deployment_label": "primary", "outcome": "ok"}],
        timings={"ttft_ms": 120.0, "duration_ms": 900.0},
        client={"ip": "10.0.0.1", "user_agent": "pytest"},
    )


def test_llm_chat_entry_keeps_everything_but_the_key(tenant_a: Tenant, user_a: User) -> None:
    with transaction.atomic():
        audit_llm_chat(record=make_record(tenant_a, user_a))
    chain_all()
    entry = AuditEntry.objects.get(event_type="llm.chat")
    assert entry.tenant_id == tenant_a.pk
    assert entry.actor_email == user_a.email
    assert entry.channel == "web"
    assert entry.status == "ok"
    assert entry.model_label == "gpt-4o 2024-11-20"
    assert entry.payload["prompt_messages"][0]["content"] == "社外秘の資料を要約して"
    assert entry.payload["response_text"] == "要約です。"
    assert "api_key" not in entry.payload["deployment"]
    assert "sk-secret" not in str(entry.payload)


def test_operator_reads_entries_in_admin_read_only(
    operator: User, tenant_a: Tenant, user_a: User, admin_a: User
) -> None:
    with transaction.atomic():
        audit_llm_chat(record=make_record(tenant_a, user_a))
    chain_all()
    entry = AuditEntry.objects.get(event_type="llm.chat")
    client = signed_in(operator)
    assert client.get("/admin/audit/auditentry/").status_code == 200
    page = client.get(f"/admin/audit/auditentry/{entry.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert signed_in(admin_a).get("/admin/audit/auditentry/").status_code == 403
