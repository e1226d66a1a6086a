"""The chat page's other flows in real Chromium: rename, delete, title search, system prompt, model change, export,
copy, retry after an error, and a reconnect mid-answer (the browser goes offline and back)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Locator, Page, expect

from chat.models import Conversation, Message
from llm.models import ModelVersion
from tenants.models import User
from tests.browser.conftest import sign_in
from tests.browser.test_chat import SLOW, answers, send, user_messages, wait_for_words, words
from tests.conftest import wait_for
from tests.live import DaphneServer
from tests.upstream import server as up

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def accept_dialogs(page: Page) -> list[str]:
    seen: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        seen.append(dialog.message)
        dialog.accept()

    page.on("dialog", on_dialog)
    return seen


def choose(page: Page, entry: Locator, action: str) -> None:
    """A conversation's ⋯ menu in the sidebar, then one of its actions."""
    entry.hover()
    entry.get_by_test_id("conversation-menu").click()
    page.get_by_role("menu").get_by_role("menuitem", name=action).click()


def test_rename_and_delete_from_the_sidebar(
    page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    keep = Conversation.objects.create(tenant=user_a.tenant, user=user_a, title="Keep me")
    upstream.script("gpt-4o", up.normal("Noted."))
    sign_in(page, server, user_a)
    send(page, "Plan the offsite")
    expect(answers(page).last).to_have_attribute("data-status", "ok", timeout=SLOW)
    current = Conversation.objects.exclude(pk=keep.pk).get(user=user_a)
    entry = page.locator(f".conv-item[data-conversation-id='{current.pk}']")

    choose(page, entry, "Rename")
    field = page.get_by_test_id("rename-input")
    expect(field).to_be_focused()
    field.fill("Offsite 2025")
    field.press("Enter")
    expect(entry.locator(".conv-title")).to_have_text("Offsite 2025")
    expect(page.locator("#chat-title")).to_have_text("Offsite 2025")
    expect(page).to_have_title("Offsite 2025 · Office AI")
    assert wait_for(lambda: Conversation.objects.get(pk=current.pk).title == "Offsite 2025")  # the page is optimistic
    # Escape cancels.
    choose(page, entry, "Rename")
    page.get_by_test_id("rename-input").fill("Not this")
    page.keyboard.press("Escape")
    expect(entry.locator(".conv-title")).to_have_text("Offsite 2025")
    page.reload()
    expect(page.locator("#chat-title")).to_have_text("Offsite 2025")

    # A second tab has the conversation open.
    other = page.context.new_page()
    other.goto(f"{server.url}/c/{current.pk}/")
    expect(other.locator("body")).to_have_attribute("data-socket", "open")
    expect(other.locator("#chat-title")).to_have_text("Offsite 2025")

    dialogs = accept_dialogs(page)
    choose(page, entry, "Delete")
    expect(entry).to_have_count(0)
    assert dialogs == ["Delete “Offsite 2025”? This cannot be undone."]
    expect(page).to_have_url(server.url + "/")  # the open conversation went: a new chat
    expect(page.locator("#chat-title")).to_have_text("New chat")
    expect(user_messages(page)).to_have_count(0)
    assert not Conversation.objects.filter(pk=current.pk).exists()
    expect(page.get_by_test_id("conversation-item")).to_have_count(1)
    assert Conversation.objects.filter(pk=keep.pk).exists()
    # The other tab follows: the conversation leaves its list and its view.
    expect(other.get_by_test_id("conversation-item")).to_have_count(1)
    expect(other.locator("#chat-title")).to_have_text("New chat")
    expect(other.get_by_test_id("error-banner")).to_have_text("This chat does not exist or was deleted.")


def test_search_filters_the_list_by_title(page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion) -> None:
    for title in ("Budget 2025", "Travel policy", "budget review", "Lunch ideas"):
        Conversation.objects.create(tenant=user_a.tenant, user=user_a, title=title)
    sign_in(page, server, user_a)
    list_items = page.get_by_test_id("conversation-item")
    expect(list_items).to_have_count(4)
    search = page.get_by_test_id("conversation-search")
    search.fill("budget")
    expect(list_items.locator(".conv-title")).to_have_text(["budget review", "Budget 2025"], timeout=5_000)
    search.fill("no such chat")
    expect(list_items).to_have_count(0)
    expect(page.locator("#conversation-empty")).to_have_text("No chats match your search")
    search.press("Escape")
    expect(search).to_have_value("")
    expect(list_items).to_have_count(4)


def test_system_prompt_for_a_new_chat_then_changed_in_the_conversation(
    page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.normal("Aye."), up.normal("Yes."))
    sign_in(page, server, user_a)
    button = page.get_by_test_id("system-prompt-button")
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    page.get_by_test_id("system-prompt-input").fill("Answer like a pirate.")
    page.get_by_test_id("system-prompt-save").click()
    expect(page.locator("#system-prompt-panel")).to_be_hidden()
    expect(button).to_have_class(re.compile("has-value"))
    send(page, "Hello")
    expect(answers(page).last).to_have_attribute("data-status", "ok", timeout=SLOW)
    first = upstream.requests_to("gpt-4o")[-1].json["messages"]
    assert first[0] == {"role": "system", "content": "Answer like a pirate."}
    conversation = Conversation.objects.get(user=user_a)
    assert conversation.system_prompt == "Answer like a pirate."

    button.click()
    expect(page.get_by_test_id("system-prompt-input")).to_have_value("Answer like a pirate.")
    page.get_by_test_id("system-prompt-input").fill("Answer in one word.")
    page.get_by_test_id("system-prompt-save").click()
    expect(page.locator("#system-prompt-panel")).to_be_hidden()
    conversation.refresh_from_db()
    assert conversation.system_prompt == "Answer in one word."
    send(page, "Again")
    expect(answers(page).last.get_by_test_id("message-body")).to_have_text("Yes.", timeout=SLOW)
    assert upstream.requests_to("gpt-4o")[-1].json["messages"][0]["content"] == "Answer in one word."


def test_model_change_for_a_new_chat_and_in_a_conversation(
    page: Page,
    server: DaphneServer,
    user_a: User,
    gpt4o: ModelVersion,
    o3mini: ModelVersion,
    upstream: up.UpstreamServer,
) -> None:
    upstream.script("o3-mini", up.normal("Thought about it."))
    upstream.script("gpt-4o", up.normal("Fast answer."))
    sign_in(page, server, user_a)
    picker = page.get_by_test_id("model-picker")
    expect(picker).to_have_value(str(gpt4o.pk))  # the company's default
    picker.select_option(str(o3mini.pk))
    send(page, "Think hard")
    expect(answers(page).last).to_have_attribute("data-status", "ok", timeout=SLOW)
    expect(answers(page).last.get_by_test_id("model-label")).to_have_text(o3mini.label)
    assert len(upstream.requests_to("o3-mini")) == 1
    conversation = Conversation.objects.get(user=user_a)
    assert conversation.model_version_id == o3mini.pk

    picker.select_option(str(gpt4o.pk))  # saved for the conversation at once
    expect(picker).to_be_enabled()
    page.wait_for_function(f"document.getElementById('model-picker').dataset.current === '{gpt4o.pk}'")
    conversation.refresh_from_db()
    assert conversation.model_version_id == gpt4o.pk
    page.reload()
    expect(picker).to_have_value(str(gpt4o.pk))
    expect(page.locator("body")).to_have_attribute("data-socket", "open")
    send(page, "Now quickly")
    expect(answers(page).last.get_by_test_id("message-body")).to_have_text("Fast answer.", timeout=SLOW)
    assert len(upstream.requests_to("gpt-4o")) == 1


def test_export_as_markdown_and_json_and_copy_an_answer(
    page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer, tmp_path: Path
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    answer_text = "Here is code:\n\n```python\nprint('hi')\n```\n\nAnd **more**."
    upstream.script("gpt-4o", up.normal(answer_text))
    sign_in(page, server, user_a)
    expect(page.get_by_test_id("export-md")).to_be_hidden()  # nothing to export in a new chat
    send(page, "Export me")
    answer = answers(page).last
    expect(answer).to_have_attribute("data-status", "ok", timeout=SLOW)

    with page.expect_download() as markdown:
        page.get_by_role("link", name="Export as Markdown").click()
    content = Path(markdown.value.path()).read_text(encoding="utf-8")
    assert "Export me" in content
    assert "print('hi')" in content
    with page.expect_download() as exported:
        page.get_by_role("link", name="Export as JSON").click()
    data = json.loads(Path(exported.value.path()).read_text(encoding="utf-8"))
    assert answer_text in json.dumps(data, ensure_ascii=False).replace("\\n", "\n")

    answer.hover()
    copy = answer.get_by_test_id("copy-message")
    copy.click()
    expect(copy).to_have_attribute("aria-label", "Copied")
    assert page.evaluate("navigator.clipboard.readText()") == answer_text  # the Markdown as written
    expect(copy).to_have_attribute("aria-label", "Copy answer", timeout=5_000)
    answer.get_by_test_id("copy-code").click()
    expect(answer.get_by_test_id("copy-code")).to_contain_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == "print('hi')\n"


def test_retry_after_an_error_answers_again(
    page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.server_error(), up.normal("Second time lucky."))
    upstream.script("gpt-4o-eu", up.server_error())  # the fallback fails too
    sign_in(page, server, user_a)
    send(page, "Try me")
    failed = answers(page).last
    expect(failed).to_have_attribute("data-status", "error", timeout=SLOW)
    expect(failed.get_by_test_id("answer-error")).to_be_visible()
    expect(failed.get_by_test_id("status-badge")).to_have_attribute("data-status", "error")
    page.get_by_test_id("retry").click()
    new = answers(page).last
    expect(new.get_by_test_id("message-body")).to_have_text("Second time lucky.", timeout=SLOW)
    expect(new).to_have_attribute("data-status", "ok")
    expect(page.get_by_test_id("retry")).to_have_count(0)
    expect(user_messages(page)).to_have_count(1)
    statuses = list(Message.objects.filter(role=Message.Role.ASSISTANT).order_by("pk").values_list("status", flat=True))
    assert statuses == [Message.Status.ERROR, Message.Status.OK]


def test_offline_mid_answer_then_back_the_answer_completes_without_gaps(
    page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.stream_tokens(150, rate=30))
    sign_in(page, server, user_a)
    send(page, "A long one while my network drops")
    answer = answers(page).last
    wait_for_words(answer, 10)

    page.context.set_offline(True)
    page.evaluate("window.OfficeChat.reconnect()")  # the socket is dropped, as the heartbeat does with a dead one
    status = page.get_by_test_id("connection-status")
    expect(status).to_have_attribute("data-state", "reconnecting")
    expect(status).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-socket", "closed")
    page.wait_for_timeout(1500)  # the reply keeps going on the server meanwhile
    page.context.set_offline(False)

    expect(page.locator("body")).to_have_attribute("data-socket", "open", timeout=SLOW)
    expect(status).to_be_hidden()
    expect(answer).to_have_attribute("data-status", "ok", timeout=SLOW)
    expect(answer.get_by_test_id("message-body")).to_have_text(words(150).strip())
    saved = Message.objects.get(role=Message.Role.ASSISTANT)
    assert saved.content == words(150)
    assert len(upstream.requests_to("gpt-4o")) == 1  # the server kept the one reply going
