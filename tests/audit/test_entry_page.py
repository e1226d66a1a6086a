"""One audit entry as a compliance officer reads it: the prompt and answer as a conversation (sanitised as in chat),
the attempts, usage, content-filter results and client, links along the chain and to the same conversation's other
turns (of this company only), and the raw JSON one click away."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from audit.display import chat_entry
from audit.models import AuditEntry
from tenants.models import Tenant, User
from tenants.services import user_create
from tests.audit.test_export import record
from tests.conftest import signed_in


@pytest.fixture
def officer(tenant_a: Tenant) -> Client:
    return signed_in(user_create(tenant=tenant_a, email="reviewer@alpha.example", role=User.Role.COMPLIANCE_REVIEWER))


def llm_payload(conversation_id: int, question: str, answer: str, **extra: Any) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "message_id": 1,
        "prompt_messages": [
            {"role": "system", "content": "Answer in Japanese."},
            {"role": "user", "content": question},
        ],
        "response_text": answer,
        "finish_reason": "stop",
        "usage": {"prompt_tokens": 31, "completion_tokens": 12, "estimated": False},
        "content_filter": {"prompt": [{"hate": {"filtered": False, "severity": "safe"}}]},
        "attempts": [
            {
                "deployment_label": "japaneast-gpt4o",
                "endpoint_host": "aoai.example.com:8443",
                "outcome": "failed_over",
                "status_code": 429,
                "error_kind": "rate_limited",
                "request_id": "req-1",
                "first_token_ms": None,
                "duration_ms": 40.5,
            },
            {
                "deployment_label": "eu-gpt4o",
                "endpoint_host": "eu.example.com",
                "outcome": "ok",
                "status_code": 200,
                "error_kind": None,
                "request_id": "req-2",
                "first_token_ms": 210.0,
                "duration_ms": 900.0,
            },
        ],
        "timings": {"ttft_ms": 250.5, "duration_ms": 940.1},
        "client": {"ip": "10.1.2.3", "user_agent": "Mozilla/5.0 Test"},
        "error": None,
        **extra,
    }


def section(page: str, testid: str) -> str:
    return page.split(f'data-testid="{testid}"')[1].split("</table>")[0].split("</div>\n    </div>")[0]


def test_an_llm_chat_entry_reads_as_a_conversation_with_its_attempts_usage_and_client(
    officer: Client, tenant_a: Tenant
) -> None:
    xss = "<script>alert(1)</script><img src=x onerror=alert(2)> [link](javascript:alert(3))"
    (entry,) = record(
        tenant_a,
        event_type="llm.chat",
        status="ok",
        model_label="gpt-4o",
        payload=llm_payload(7, f"会議の**議事録**を要約して {xss}", f"**要約**です。\n\n- 一つ目 {xss}"),
    )
    page = officer.get(f"/audit/{entry.pk}/").content.decode()
    conversation = page.split('data-testid="audit-conversation"')[1].split('data-testid="audit-attempts"')[0]
    assert "会議の**議事録**を要約して" in conversation  # a person's text as typed (not Markdown)
    assert "<strong>要約</strong>です。" in conversation  # the answer as Markdown, as in chat
    assert "<li>一つ目" in conversation
    assert "Answer in Japanese." in conversation  # the instructions the model got
    for unsafe in ("<script", "<img", 'href="javascript:'):
        assert unsafe not in conversation
    assert "&lt;img src=x onerror=alert(2)&gt;" in conversation  # the question's markup shown as text
    assert "Complete · stop" in conversation
    attempts = section(page, "audit-attempts")
    assert attempts.count("<tr>") == 3  # header + two attempts
    for cell in ("japaneast-gpt4o", "aoai.example.com:8443", "failed_over", "429", "rate_limited", "eu-gpt4o", "210.0"):
        assert f"<td>{cell}</td>" in attempts
    usage = page.split('data-testid="audit-usage"')[1].split("</dl>")[0]
    for shown in ("31", "12", "250.5", "10.1.2.3", "Mozilla/5.0 Test"):
        assert shown in usage
    assert "<td>prompt</td><td>hate</td><td>filtered: False, severity: safe</td>" in page
    assert '<details class="audit-raw">' in page  # raw JSON collapsed
    assert "&quot;response_text&quot;" in page


def test_links_along_the_chain_and_to_the_same_conversations_turns_of_this_company_only(
    officer: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    first = record(tenant_a, event_type="llm.chat", payload=llm_payload(7, "one", "1"))[0]
    other = record(tenant_a, event_type="llm.chat", payload=llm_payload(8, "elsewhere", "x"))[0]
    second = record(tenant_a, event_type="llm.chat", payload=llm_payload(7, "two", "2"))[0]
    record(tenant_b, event_type="llm.chat", payload=llm_payload(7, "beta secret", "b"))  # same id, other company
    page = officer.get(f"/audit/{second.pk}/").content.decode()
    nav = page.split('data-testid="chain-nav"')[1].split("</nav>")[0]
    assert f'href="/audit/{other.pk}/"' in nav  # the entry before in the chain
    assert 'data-testid="entry-next"' not in nav  # the last one
    turns = page.split('data-testid="audit-turns"')[1].split("</ol>")[0]
    assert f'href="/audit/{first.pk}/"' in turns
    assert f"/audit/{other.pk}/" not in turns
    assert "beta secret" not in page
    assert turns.count("<li>") == 2
    assert 'data-testid="entry-next"' in officer.get(f"/audit/{first.pk}/").content.decode()


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        ({"code": "rate_limited", "message": "Too many requests"}, "rate_limited — Too many requests"),
        ({"kind": "timeout"}, "timeout"),
        ({"message": "only words"}, "only words"),
    ],
)
def test_the_error_of_a_turn_shows_whatever_it_carries(
    officer: Client, tenant_a: Tenant, error: dict[str, str], shown: str
) -> None:
    (entry,) = record(tenant_a, event_type="llm.chat", status="error", payload=llm_payload(7, "q", "", error=error))
    response = officer.get(f"/audit/{entry.pk}/")
    assert response.status_code == 200
    assert f"Error: {shown}</p>" in response.content.decode()


def test_other_events_show_their_fields_and_the_raw_json_open(officer: Client, tenant_a: Tenant) -> None:
    (entry,) = record(tenant_a, event_type="admin.user.created", payload={"after": {"email": "x@alpha.example"}})
    page = officer.get(f"/audit/{entry.pk}/").content.decode()
    assert 'data-testid="audit-conversation"' not in page
    assert '<details class="audit-raw" open>' in page
    assert "x@alpha.example" in page


@pytest.mark.parametrize(
    "payload",
    [None, [], "text", {"prompt_messages": "x", "attempts": {"a": 1}, "usage": [], "content_filter": {"p": "bad"}}],
)
@translation.override("en")  # the words in English, whatever language an earlier request left active
def test_a_payload_of_the_wrong_shape_still_shows(payload: Any) -> None:
    shown = chat_entry(payload, "cancelled")
    assert shown.status == "Stopped"
    assert shown.turns == []
    assert shown.attempts == []


def test_the_entry_page_is_404_for_another_companys_entry(officer: Client, tenant_b: Tenant) -> None:
    (entry,) = record(tenant_b, event_type="llm.chat", payload=llm_payload(7, "beta", "b"))
    assert officer.get(f"/audit/{entry.pk}/").status_code == 404
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
