"""A person chats in real Chromium with the real app served by daphne and the test upstream behind it: streaming,
stop, regenerate, refresh mid-stream, edit-and-resend, the notice banner (live), Japanese, IME-safe Enter."""

from __future__ import annotations

import time
from pathlib import Path

import polib
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from chat.models import Conversation, Message, ModelVersion, Notice, NoticeAcknowledgement
from chat.services import notice_save
from tenants.models import User
from tests.browser.conftest import sign_in
from tests.live import DaphneServer
from tests.upstream import server as up

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PO = Path(__file__).resolve().parents[2] / "locale" / "ja" / "LC_MESSAGES" / "django.po"
SLOW = 20_000  # ms: generous but bounded, for whole replies


def words(n: int) -> str:
    """The text of ``up.stream_tokens(n)`` as saved: " w0 w1 … w(n-1)"."""
    return "".join(f" w{i}" for i in range(n))


def answers(page: Page) -> Locator:
    """Assistant messages in the main list (not those collapsed as a previous answer)."""
    return page.locator("#message-list > [data-testid=message][data-role=assistant]")


def user_messages(page: Page) -> Locator:
    return page.locator("#message-list > [data-testid=message][data-role=user]")


def send(page: Page, text: str) -> None:
    composer = page.get_by_test_id("composer")
    composer.fill(text)
    composer.press("Enter")


def stream_text(answer: Locator) -> str:
    """The streamed text exactly as the page holds it (the plain-text node shown while streaming)."""
    return str(answer.locator(".stream-text").evaluate("element => element.textContent"))


def wait_for_words(answer: Locator, count: int) -> None:
    """Until the streaming answer shows at least ``count`` words (" w0" … " w{count-1}")."""
    expect(answer.get_by_test_id("message-body")).to_contain_text(f"w{count - 1}", timeout=SLOW)


def test_send_streams_and_completes_with_model_label_and_sidebar_entry(
    page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.stream_tokens(80, rate=30))
    sign_in(page, server, user_a)

    send(page, "Tell me   about streaming")
    expect(user_messages(page)).to_have_count(1)
    expect(user_messages(page).first.get_by_test_id("message-body")).to_have_text("Tell me   about streaming")
    answer = answers(page).last
    expect(answer).to_have_attribute("data-status", "streaming")

    # Two observations of the same streaming answer: the second extends the first.
    wait_for_words(answer, 5)
    first = stream_text(answer)
    wait_for_words(answer, len(first.split()) + 10)
    second = stream_text(answer)
    assert answer.get_attribute("data-status") == "streaming"
    assert second.startswith(first)
    assert len(second.split()) >= len(first.split()) + 10

    expect(answer).to_have_attribute("data-status", "ok", timeout=SLOW)
    expect(answer.get_by_test_id("message-body")).to_have_text(words(80).strip())
    expect(answer.get_by_test_id("model-label")).to_have_text(gpt4o.label)
    expect(answer.get_by_test_id("status-badge")).to_have_count(0)

    conversation = Conversation.objects.get(user=user_a)
    assert conversation.title == "Tell me about streaming"
    item = page.get_by_test_id("conversation-list").get_by_test_id("conversation-item")
    expect(item).to_have_count(1)
    expect(item).to_have_attribute("data-conversation-id", str(conversation.pk))
    expect(item.locator(".conv-title")).to_have_text("Tell me about streaming")
    expect(page.locator("#chat-title")).to_have_text("Tell me about streaming")
    expect(page).to_have_url(f"{server.url}/c/{conversation.pk}/")
    saved = Message.objects.get(conversation=conversation, role=Message.Role.ASSISTANT)
    assert (saved.status, saved.content, saved.model_label) == (Message.Status.OK, words(80), gpt4o.label)
