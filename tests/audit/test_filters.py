"""The audit list's filters as a compliance officer uses them: pickers (status, channel, and searchable event, model
and person lists), case-insensitive, kept in the URL, with date presets; one status vocabulary with the chat page."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client
from django.utils import timezone, translation

from audit.models import LLMStatus, status_label
from audit.views import date_presets
from chat.models import Message
from chat.outcome import AUDIT_STATUSES
from tenants.models import Tenant, User
from tenants.services import user_create
from tests.audit.test_export import record
from tests.conftest import signed_in


@pytest.fixture
def reviewer_a(tenant_a: Tenant) -> User:
    return user_create(tenant=tenant_a, email="reviewer@alpha.example", role=User.Role.COMPLIANCE_REVIEWER)


@pytest.fixture
def officer(reviewer_a: User) -> Client:
    return signed_in(reviewer_a)


def shown_statuses(client: Client, **params: str) -> list[str]:
    response = client.get("/audit/", params)
    assert response.status_code == 200
    return [e.status for e in response.context["page_obj"]]


@translation.override("en")  # the words in English, whatever language an earlier request left active
def test_the_status_words_of_chat_audit_and_exports_are_one_vocabulary() -> None:
    finished = {value for value in Message.Status.values if value != Message.Status.STREAMING}
    assert finished == set(LLMStatus.values) == AUDIT_STATUSES
    for value in finished:
        assert Message.Status(value).label == LLMStatus(value).label
    assert status_label("stopped") == "Stopped"
    assert status_label("cancelled") == "Stopped"  # sealed before the vocabulary was one: read as today's word


def test_status_and_channel_filters_take_any_case_and_read_legacy_words(
    officer: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    record(tenant_a, event_type="llm.chat", status="error", channel="web")
    record(tenant_a, event_type="llm.chat", status="ok", channel="slack")
    record(tenant_a, event_type="llm.chat", status="cancelled", channel="web")  # an entry from before
    record(tenant_b, event_type="llm.chat", status="error", channel="web")
    assert shown_statuses(officer, status="Error") == ["error"]
    assert shown_statuses(officer, status="ERROR", channel="Web") == ["error"]
    assert shown_statuses(officer, status="stopped") == ["cancelled"]
    page = officer.get("/audit/", {"status": "stopped"}).content.decode()
    assert '<td data-status="cancelled">Stopped</td>' in page
    assert 'name="status"' in page
    assert '<option value="stopped" selected>Stopped</option>' in page  # the picker keeps the choice
    response = officer.get("/audit/", {"status": "nonsense"})
    assert response.context["form"].errors["status"]


def test_event_model_and_person_pickers_offer_this_companys_values_only(
    officer: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    record(tenant_a, event_type="llm.chat", model_label="gpt-4o 2024-11-20", actor_email="alice@alpha.example")
    record(tenant_a, event_type="admin.user.created", actor_email="root@alpha.example")
    record(tenant_b, event_type="slack.secret_event", model_label="beta-model", actor_email="bob@beta.example")
    page = officer.get("/audit/").content.decode()
    assert '<datalist id="audit-event_type-options">' in page
    assert 'list="audit-event_type-options"' in page
    for own in ("llm.chat", "admin.user.created", "gpt-4o 2024-11-20", "alice@alpha.example"):
        assert f'<option value="{own}">' in page
    for foreign in ("slack.secret_event", "beta-model", "bob@beta.example"):
        assert foreign not in page
    # Typed in any case, and kept in the URL for the next page and the export links.
    response = officer.get("/audit/", {"event_type": "LLM.", "model": "GPT-4O", "user": "ALICE"})
    assert [e.event_type for e in response.context["page_obj"]] == ["llm.chat"]
    assert "event_type=LLM." in response.content.decode()


@translation.override("en")
def test_date_presets_are_local_days_and_keep_the_other_filters(officer: Client, tenant_a: Tenant) -> None:
    assert date_presets(date(2026, 11, 30)) == [
        {"label": "Today", "date_from": "2026-11-30", "date_to": "2026-11-30"},
        {"label": "Last 7 days", "date_from": "2026-11-24", "date_to": "2026-11-30"},
        {"label": "This month", "date_from": "2026-11-01", "date_to": "2026-11-30"},
    ]
    record(tenant_a, event_type="llm.chat")
    page = officer.get("/audit/", {"status": "ok", "page": "1"}).content.decode()
    presets = page.split('data-testid="date-presets"')[1].split("</p>")[0]
    assert "status=ok" in presets
    assert "date_from=" in presets
    assert "page=" not in presets
    day = timezone.localdate().isoformat()
    shown = officer.get("/audit/", {"date_from": day, "date_to": day}).context["page_obj"]
    assert "llm.chat" in [e.event_type for e in shown]
    before = officer.get("/audit/", {"date_to": "2026-01-01"}).context["page_obj"]
    assert list(before) == []
