"""The chat page's library in real Chromium: the sidebar grouped by day with pins and folders (menus, drag and drop,
another tab kept true live), search with snippets in Japanese, prompts inserted with `/`, the chatbot-ui import,
feedback on answers, the model picker's description, the filter note, and a Japanese export name. No CSP violation
while doing it, and the new controls fit a 390 px phone."""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Dialog, Locator, Page, expect

from chat.models import Conversation, Feedback, Folder, Message, Prompt
from chat.search import search_text_for
from llm.models import ModelVersion
from tenants.models import User
from tests.browser.conftest import sign_in
from tests.browser.test_chat import SLOW, answers, send
from tests.browser.test_csp import violations, watched
from tests.conftest import wait_for
from tests.live import DaphneServer
from tests.upstream import server as up

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
TOKYO = "Asia/Tokyo"


def tokyo_page(browser: Browser, **extra: object) -> Page:
    """A page whose clock is in Tokyo (the sidebar groups by the person's local day), with the CSP watched."""
    context = browser.new_context(locale="en-US", timezone_id=TOKYO, **extra)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(15_000)
    return watched(page)


def accept_dialogs(page: Page) -> list[str]:
    seen: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        seen.append(dialog.message)
        dialog.accept()

    page.on("dialog", on_dialog)
    return seen


def conversation(user: User, title: str, updated_at: datetime | None = None, **fields: object) -> Conversation:
    made = Conversation.objects.create(tenant=user.tenant, user=user, title=title, **fields)
    if updated_at is not None:  # auto_now: only an update sets another time
        Conversation.objects.filter(pk=made.pk).update(updated_at=updated_at)
    return made


def item(page: Page, c: Conversation) -> Locator:
    return page.locator(f".conv-item[data-conversation-id='{c.pk}']")


def group_titles(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("#conversation-list .conv-group-title").all_inner_texts()]


def group_of(page: Page, c: Conversation) -> str:
    """The title of the group (or folder) a conversation is shown in."""
    return str(
        item(page, c).evaluate(
            """el => {
                const folder = el.closest('.folder');
                if (folder) return 'folder:' + folder.querySelector('.folder-name').textContent;
                return el.closest('.conv-group').querySelector('.conv-group-title').textContent;
            }"""
        )
    )


def open_menu(page: Page, row: Locator, test_id: str = "conversation-menu") -> Locator:
    row.hover()
    row.get_by_test_id(test_id).click()
    menu = page.get_by_role("menu")
    expect(menu).to_be_visible()
    return menu


def month_label(moment: datetime, now: datetime) -> str:
    local, today = moment.astimezone(ZoneInfo(TOKYO)), now.astimezone(ZoneInfo(TOKYO))
    name = calendar.month_name[local.month]
    return name if local.year == today.year else f"{name} {local.year}"


def test_sidebar_groups_by_day_pins_and_files_into_folders_by_menu_and_by_drag(
    browser: Browser, server: DaphneServer, user_a: User, gpt4o: ModelVersion
) -> None:
    now = timezone.now()
    today = conversation(user_a, "Today chat", now)
    yesterday = conversation(user_a, "Yesterday chat", now - timedelta(days=1))
    week = conversation(user_a, "Week chat", now - timedelta(days=3))
    month = conversation(user_a, "Month chat", now - timedelta(days=15))
    older = conversation(user_a, "Older chat", now - timedelta(days=45))
    ancient = conversation(user_a, "Ancient chat", now - timedelta(days=400))
    page = tokyo_page(browser)
    try:
        sign_in(page, server, user_a)
        expect(page.get_by_test_id("conversation-item")).to_have_count(6)
        labels = ["Today", "Yesterday", "Previous 7 days", "Previous 30 days"]
        labels += [month_label(now - timedelta(days=45), now), month_label(now - timedelta(days=400), now)]
        assert group_titles(page) == labels
        assert [group_of(page, c) for c in (today, yesterday, week, month, older, ancient)] == labels

        # Pin from the ⋯ menu: the conversation moves to Pinned, at the top.
        open_menu(page, item(page, yesterday)).get_by_role("menuitem", name="Pin").click()
        expect(page.get_by_role("menu")).to_have_count(0)
        expect(page.locator("#conversation-list .conv-group-title").first).to_have_text("Pinned")
        assert group_of(page, yesterday) == "Pinned"
        assert wait_for(lambda: Conversation.objects.get(pk=yesterday.pk).pinned)
        expect(item(page, yesterday)).to_have_attribute("data-pinned", "true")

        # A new folder is named in place.
        page.get_by_test_id("new-folder").click()
        name = page.get_by_test_id("rename-input")
        expect(name).to_be_focused()
        expect(name).to_have_value("New folder")
        name.fill("Projects")
        name.press("Enter")
        folder = page.get_by_test_id("folder").filter(has_text="Projects")
        expect(folder).to_have_count(1)
        expect(folder.get_by_test_id("folder-toggle")).to_be_focused()
        assert wait_for(lambda: list(Folder.objects.filter(user=user_a).values_list("name", flat=True)) == ["Projects"])
        projects = Folder.objects.get(user=user_a)

        # Into the folder from the menu ("Move to folder" → the folder)…
        menu = open_menu(page, item(page, today))
        menu.get_by_role("menuitem", name="Move to folder").click()
        expect(menu.get_by_role("menuitemradio", name="No folder")).to_have_attribute("aria-checked", "true")
        menu.get_by_role("menuitemradio", name="Projects").click()
        expect(folder.get_by_test_id("conversation-item")).to_have_count(1)
        assert group_of(page, today) == "folder:Projects"
        assert wait_for(lambda: Conversation.objects.get(pk=today.pk).folder_id == projects.pk)
        # … and by dragging another one onto it.
        item(page, week).drag_to(folder.get_by_test_id("folder-toggle"))
        expect(folder.get_by_test_id("conversation-item")).to_have_count(2)
        assert wait_for(lambda: Conversation.objects.get(pk=week.pk).folder_id == projects.pk)
        assert "Previous 7 days" not in group_titles(page)  # its group emptied and went
        # Dragged back out onto the date groups: in no folder again.
        item(page, week).drag_to(page.locator(".conv-group[data-group='month']"))
        expect(folder.get_by_test_id("conversation-item")).to_have_count(1)
        assert wait_for(lambda: Conversation.objects.get(pk=week.pk).folder_id is None)
        assert group_of(page, week) == "Previous 7 days"

        # A folder folds (remembered), and is renamed from its menu.
        toggle = folder.get_by_test_id("folder-toggle")
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(folder.get_by_test_id("conversation-item")).to_have_count(0)
        page.reload()
        expect(page.get_by_test_id("folder")).to_have_count(1)
        expect(page.get_by_test_id("folder-toggle")).to_have_attribute("aria-expanded", "false")
        page.get_by_test_id("folder-toggle").click()
        expect(folder.get_by_test_id("conversation-item")).to_have_count(1)
        open_menu(page, page.locator(".folder-head"), "folder-menu").get_by_role("menuitem", name="Rename").click()
        page.get_by_test_id("rename-input").fill("Clients")
        page.get_by_test_id("rename-input").press("Enter")
        expect(page.get_by_test_id("folder-name")).to_have_text("Clients")
        assert wait_for(lambda: Folder.objects.get(pk=projects.pk).name == "Clients")

        # A second folder, moved above the first.
        page.get_by_test_id("new-folder").click()
        page.get_by_test_id("rename-input").fill("Archive")
        page.get_by_test_id("rename-input").press("Enter")
        expect(page.get_by_test_id("folder-name")).to_have_text(["Clients", "Archive"])
        archive = page.get_by_test_id("folder").filter(has_text="Archive")
        menu = open_menu(page, archive.locator(".folder-head"), "folder-menu")
        expect(menu.get_by_role("menuitem", name="Move down")).to_have_attribute("aria-disabled", "true")
        menu.get_by_role("menuitem", name="Move up").click()
        expect(page.get_by_test_id("folder-name")).to_have_text(["Archive", "Clients"])
        assert wait_for(
            lambda: (
                list(Folder.objects.filter(user=user_a).order_by("position").values_list("name", flat=True))
                == ["Archive", "Clients"]
            )
        )

        # Deleting a folder keeps its conversations, back in their day.
        dialogs = accept_dialogs(page)
        clients = page.get_by_test_id("folder").filter(has_text="Clients")
        open_menu(page, clients.locator(".folder-head"), "folder-menu").get_by_role("menuitem", name="Delete").click()
        expect(page.get_by_test_id("folder-name")).to_have_text(["Archive"])
        assert dialogs == ["Delete the folder “Clients”? Its chats are kept, outside any folder."]
        assert group_of(page, today) == "Today"
        assert wait_for(lambda: not Folder.objects.filter(pk=projects.pk).exists())
        assert Conversation.objects.get(pk=today.pk).folder_id is None

        # Unpin: back in its day.
        open_menu(page, item(page, yesterday)).get_by_role("menuitem", name="Unpin").click()
        expect(item(page, yesterday)).not_to_have_attribute("data-pinned", "true")
        assert group_of(page, yesterday) == "Yesterday"
        assert wait_for(lambda: not Conversation.objects.get(pk=yesterday.pk).pinned)
        assert violations(page) == []
    finally:
        page.context.close()


def test_a_second_tab_sees_renames_pins_and_folder_moves_without_reloading(
    browser: Browser, server: DaphneServer, user_a: User, gpt4o: ModelVersion
) -> None:
    now = timezone.now()
    first = conversation(user_a, "Quarterly plan")  # now: today
    second = conversation(user_a, "Hiring", now - timedelta(days=2))
    page = tokyo_page(browser)
    try:
        sign_in(page, server, user_a)
        other = page.context.new_page()
        other.goto(server.url + "/")
        expect(other.locator("body")).to_have_attribute("data-socket", "open")
        expect(other.get_by_test_id("conversation-item")).to_have_count(2)
        page.bring_to_front()  # the other tab stays open behind it, as a person's second tab would

        open_menu(page, item(page, first)).get_by_role("menuitem", name="Rename").click()
        page.get_by_test_id("rename-input").fill("Quarterly plan (final)")
        page.get_by_test_id("rename-input").press("Enter")
        expect(item(other, first).locator(".conv-title")).to_have_text("Quarterly plan (final)")

        open_menu(page, item(page, second)).get_by_role("menuitem", name="Pin").click()
        expect(item(other, second)).to_have_attribute("data-pinned", "true")
        assert group_of(other, second) == "Pinned"

        page.get_by_test_id("new-folder").click()
        page.get_by_test_id("rename-input").fill("Board")
        page.get_by_test_id("rename-input").press("Enter")
        expect(other.get_by_test_id("folder-name")).to_have_text(["Board"])  # folders.updated

        menu = open_menu(page, item(page, first))
        menu.get_by_role("menuitem", name="Move to folder").click()
        menu.get_by_role("menuitemradio", name="Board").click()
        expect(other.get_by_test_id("folder").get_by_test_id("conversation-item")).to_have_count(1)
        assert group_of(other, first) == "folder:Board"

        # Out of the folder again (folder_id null), then the folder is deleted: the other tab follows both.
        menu = open_menu(page, item(page, first))
        menu.get_by_role("menuitem", name="Move to folder").click()
        menu.get_by_role("menuitemradio", name="No folder").click()
        expect(other.get_by_test_id("folder").get_by_test_id("conversation-item")).to_have_count(0)
        assert group_of(other, first) == "Today"
        accept_dialogs(page)
        open_menu(page, page.locator(".folder-head"), "folder-menu").get_by_role("menuitem", name="Delete").click()
        expect(other.get_by_test_id("folder")).to_have_count(0)
        assert violations(page) == []
        assert violations(other) == []
    finally:
        page.context.close()


def message(c: Conversation, role: str, content: str, **fields: object) -> Message:
    return Message.objects.create(
        tenant=c.tenant, conversation=c, role=role, content=content, search_text=search_text_for(content), **fields
    )


def test_search_in_japanese_finds_an_answer_and_shows_the_snippet_with_the_term_marked(
    browser: Browser, server: DaphneServer, user_a: User, gpt4o: ModelVersion
) -> None:
    booking = conversation(user_a, "来週の予定")
    message(booking, Message.Role.USER, "部屋を探しています")
    answer = "承知しました。明日の10時に第二会議室を予約しました。<b>注意</b>: 15分前に鍵を受け取ってください。"
    message(booking, Message.Role.ASSISTANT, answer)
    titled = conversation(user_a, "会議の議事録")
    other = conversation(user_a, "Lunch ideas")
    message(other, Message.Role.ASSISTANT, "Try the ramen place.")
    page = tokyo_page(browser)
    try:
        sign_in(page, server, user_a)
        items = page.get_by_test_id("conversation-item")
        expect(items).to_have_count(3)
        page.get_by_test_id("conversation-search").fill("会議")
        expect(items).to_have_count(2)
        expect(page.get_by_test_id("search-results")).to_be_visible()
        found = item(page, booking)
        expect(found.get_by_test_id("match-hint")).to_have_text("In the messages")
        snippet = found.get_by_test_id("snippet")
        expect(snippet).to_contain_text("第二会議室を予約しました。<b>注意</b>")  # the raw text, shown as text
        assert snippet.locator("b").count() == 0
        expect(snippet.locator("mark")).to_have_text(["会議"])
        expect(item(page, titled).get_by_test_id("match-hint")).to_have_text("In the title")
        expect(item(page, titled).locator(".conv-title mark")).to_have_text("会議")
        assert item(page, titled).get_by_test_id("snippet").count() == 0
        # Opening a hit works as from the list; Escape in the search box brings the whole list back.
        found.locator(".conv-link").click()
        expect(page).to_have_url(f"{server.url}/c/{booking.pk}/")
        expect(page.locator("#chat-title")).to_have_text("来週の予定")
        search = page.get_by_test_id("conversation-search")
        search.press("Escape")
        expect(items).to_have_count(3)
        expect(page.get_by_test_id("search-results")).to_have_count(0)
        assert violations(page) == []
    finally:
        page.context.close()


def test_a_prompt_with_variables_is_inserted_with_slash_and_the_library_is_managed_in_a_dialog(
    browser: Browser, server: DaphneServer, user_a: User, gpt4o: ModelVersion
) -> None:
    Prompt.objects.create(
        tenant=user_a.tenant,
        owner=user_a,
        name="Translate",
        description="Into any language",
        content="Translate into {{ language }} for {{対象 読者}}:\n\n{{text}}\n\n({{language}}, $1 {{unknown.x}})",
    )
    Prompt.objects.create(tenant=user_a.tenant, owner=user_a, name="Summarise", content="Summarise this in 3 bullets.")
    Prompt.objects.create(tenant=user_a.tenant, owner=None, name="Company tone", content="Write in our house style.")
    page = tokyo_page(browser)
    try:
        sign_in(page, server, user_a)
        composer = page.get_by_test_id("composer")
        composer.press("/")
        picker = page.get_by_role("listbox", name="Prompts")
        expect(picker).to_be_visible()
        options = picker.get_by_test_id("prompt-option")
        expect(options.locator(".prompt-option-name")).to_have_text(["Company tone", "Summarise", "Translate"])
        expect(options.first).to_have_attribute("aria-selected", "true")
        expect(composer).to_have_attribute("aria-activedescendant", "prompt-option-0")
        expect(options.filter(has_text="Company tone").locator(".prompt-badge")).to_have_text("Shared")
        composer.press_sequentially("tr")
        expect(options.locator(".prompt-option-name")).to_have_text(["Translate"])
        composer.press("Enter")  # the first match is chosen

        dialog = page.get_by_role("dialog", name="Fill in “Translate”")
        expect(dialog).to_be_visible()
        fields = dialog.get_by_test_id("prompt-variable")
        expect(fields).to_have_count(3)
        assert [dialog.get_by_label(n).count() for n in ("language", "対象 読者", "text")] == [1, 1, 1]
        expect(dialog.get_by_label("language")).to_be_focused()
        dialog.get_by_label("language").fill("日本語")
        page.keyboard.press("Enter")  # on to the next field
        expect(dialog.get_by_label("対象 読者")).to_be_focused()
        page.keyboard.type("営業部")
        dialog.get_by_label("text").fill("Hello {{language}}")
        dialog.get_by_role("button", name="Insert").click()
        expect(dialog).to_have_count(0)
        expect(composer).to_have_value(
            "Translate into 日本語 for 営業部:\n\nHello {{language}}\n\n(日本語, $1 {{unknown.x}})"
        )
        expect(composer).to_be_focused()
        expect(page.get_by_test_id("send")).to_be_enabled()

        # Without variables a prompt goes in as it is; Escape closes the picker and "/…" stays text.
        composer.fill("")
        composer.press("/")
        composer.press_sequentially("sum")
        page.get_by_test_id("prompt-option").filter(has_text="Summarise").click()
        expect(composer).to_have_value("Summarise this in 3 bullets.")
        composer.fill("")
        composer.press_sequentially("/usr/bin")
        expect(page.get_by_test_id("prompt-picker")).to_contain_text("No prompt matches “usr/bin”.")
        composer.press("Escape")
        expect(page.get_by_test_id("prompt-picker")).to_be_hidden()
        expect(composer).to_have_value("/usr/bin")

        # Manage: shared ones are marked and cannot be changed; a personal one is created, edited, deleted.
        page.get_by_test_id("manage-prompts").click()
        manage = page.get_by_role("dialog", name="Manage prompts")
        expect(manage).to_be_visible()
        rows = manage.get_by_test_id("prompt-row")
        expect(rows).to_have_count(3)
        shared = rows.filter(has_text="Company tone")
        expect(shared.get_by_test_id("prompt-shared")).to_have_text("Shared")
        expect(shared.get_by_role("button")).to_have_count(0)
        manage.get_by_role("button", name="New prompt").click()
        expect(manage.get_by_label("Name")).to_be_focused()
        manage.get_by_label("Name").fill("Meeting notes")
        manage.get_by_label("Prompt", exact=True).fill("Notes for {{会議名}} on {{date}}")
        expect(manage.locator(".prompt-found")).to_have_text("Variables: 会議名, date")
        manage.get_by_label("Folder (optional)").fill("Work")
        assert manage.get_by_test_id("prompt-share").count() == 0  # members cannot share
        manage.get_by_role("button", name="Save").click()
        expect(rows).to_have_count(4)
        created = Prompt.objects.get(name="Meeting notes")
        assert (created.owner_id, created.content, created.folder_name) == (
            user_a.pk,
            "Notes for {{会議名}} on {{date}}",
            "Work",
        )
        rows.filter(has_text="Meeting notes").get_by_role("button", name="Edit “Meeting notes”").click()
        manage.get_by_label("Name").fill("Minutes")
        manage.get_by_role("button", name="Save").click()
        expect(rows.filter(has_text="Minutes")).to_have_count(1)
        assert wait_for(lambda: Prompt.objects.get(pk=created.pk).name == "Minutes")
        accept_dialogs(page)
        rows.filter(has_text="Minutes").get_by_role("button", name="Delete “Minutes”").click()
        expect(rows).to_have_count(3)
        assert not Prompt.objects.filter(pk=created.pk).exists()
        page.keyboard.press("Escape")
        expect(manage).to_have_count(0)
        expect(page.get_by_test_id("manage-prompts")).to_be_focused()
        assert violations(page) == []
    finally:
        page.context.close()


def test_import_from_chatbot_ui_then_the_sidebar_shows_the_conversations_in_their_folders(
    browser: Browser, server: DaphneServer, user_a: User, gpt4o: ModelVersion
) -> None:
    page = tokyo_page(browser)
    try:
        sign_in(page, server, user_a)
        link = page.get_by_role("link", name="Import from chatbot-ui")
        expect(link).to_have_attribute("href", "/settings/import/")
        link.click()
        expect(page).to_have_url(server.url + "/settings/import/")
        page.locator("#import-file").set_input_files(str(ROOT / "tests" / "fixtures" / "chatbot-ui-v1-export.json"))
        page.get_by_role("button", name="Import", exact=True).click()
        result = page.get_by_test_id("import-result")
        expect(result).to_be_visible()
        created = int(page.get_by_test_id("conversations-created").inner_text())
        assert created == Conversation.objects.filter(user=user_a).count() > 0
        assert violations(page) == []

        page.get_by_role("link", name="Open the chat").click()
        expect(page.locator("body")).to_have_attribute("data-socket", "open")
        expect(page.get_by_test_id("conversation-item")).to_have_count(created)
        folder_names = list(
            Folder.objects.filter(user=user_a).order_by("position", "name", "pk").values_list("name", flat=True)
        )
        assert "会議メモ" in folder_names
        expect(page.get_by_test_id("folder-name")).to_have_text(folder_names)
        minutes = Conversation.objects.get(user=user_a, title="議事録の要約")
        assert group_of(page, minutes) == "folder:会議メモ"
        item(page, minutes).locator(".conv-link").click()
        expect(page.locator("#chat-title")).to_have_text("議事録の要約")
        expect(page.locator("#message-list [data-testid=message]").first).to_be_visible()
        assert violations(page) == []
    finally:
        page.context.close()


def test_thumbs_down_with_a_comment_is_stored_shown_after_reload_and_taken_back(
    browser: Browser, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.normal("The capital of Australia is Sydney."))
    page = tokyo_page(browser)
    try:
        sign_in(page, server, user_a)
        send(page, "Capital of Australia?")
        answer = answers(page).last
        expect(answer).to_have_attribute("data-status", "ok", timeout=SLOW)
        saved = Message.objects.get(role=Message.Role.ASSISTANT)
        group = answer.get_by_role("group", name="Rate this answer")
        up_button = group.get_by_role("button", name="Good answer")
        down_button = group.get_by_role("button", name="Bad answer")
        expect(up_button).to_have_attribute("aria-pressed", "false")
        expect(down_button).to_have_attribute("aria-pressed", "false")

        up_button.click()
        expect(up_button).to_have_attribute("aria-pressed", "true")
        assert wait_for(lambda: list(Feedback.objects.values_list("rating", flat=True)) == [1])
        down_button.click()  # the other thumb replaces it and asks why
        expect(down_button).to_have_attribute("aria-pressed", "true")
        expect(up_button).to_have_attribute("aria-pressed", "false")
        comment = answer.get_by_label("What was wrong? (optional)")
        expect(comment).to_be_focused()
        comment.fill("Wrong: it is Canberra.")
        answer.get_by_role("button", name="Send").click()
        expect(answer.get_by_test_id("feedback-thanks")).to_have_text("Thanks for your feedback.")
        expect(answer.get_by_test_id("feedback-form")).to_have_count(0)
        assert wait_for(
            lambda: (
                list(Feedback.objects.values_list("message_id", "user_id", "rating", "comment"))
                == [(saved.pk, user_a.pk, -1, "Wrong: it is Canberra.")]
            )
        )

        page.reload()
        answer = answers(page).last
        expect(answer).to_have_attribute("data-status", "ok")
        down_button = answer.get_by_role("button", name="Bad answer")
        expect(down_button).to_have_attribute("aria-pressed", "true")
        expect(answer.get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "false")
        down_button.click()  # pressing the active thumb again takes it back
        expect(down_button).to_have_attribute("aria-pressed", "false")
        expect(answer.get_by_test_id("feedback-form")).to_have_count(0)
        assert wait_for(lambda: not Feedback.objects.exists())
        assert violations(page) == []
    finally:
        page.context.close()


def test_the_filter_note_is_shown_under_a_cut_answer_live_and_after_reload(
    browser: Browser, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.filter_mid_answer(after_tokens=4))
    note = "The content filter stopped this answer here. The text above is what was written before it stopped."
    page = tokyo_page(browser)
    try:
        sign_in(page, server, user_a)
        send(page, "Sing me that famous song")
        answer = answers(page).last
        expect(answer).to_have_attribute("data-status", "completion_filtered", timeout=SLOW)
        expect(answer.get_by_test_id("filter-note")).to_have_text(note)
        expect(answer.get_by_test_id("status-badge")).to_have_attribute("data-status", "completion_filtered")
        page.reload()
        answer = answers(page).last
        expect(answer).to_have_attribute("data-status", "completion_filtered")
        expect(answer.get_by_test_id("filter-note")).to_have_text(note)
        assert violations(page) == []
    finally:
        page.context.close()


def test_the_model_picker_shows_display_names_and_the_chosen_models_description_and_hints(
    browser: Browser, server: DaphneServer, user_a: User, gpt4o: ModelVersion, o3mini: ModelVersion
) -> None:
    ModelVersion.objects.filter(pk=gpt4o.pk).update(
        description_en="Fast and versatile, for everyday work.",
        description_ja="日常業務向けの速いモデル。",
        vision=True,
    )
    page = tokyo_page(browser)
    try:
        sign_in(page, server, user_a)
        picker = page.get_by_test_id("model-picker")
        expect(picker.locator("option")).to_have_text(["GPT-4o", "o3-mini"])  # display names, not family + version
        expect(picker).to_have_value(str(gpt4o.pk))
        info = page.get_by_test_id("model-info")
        expect(info.get_by_test_id("model-info-name")).to_have_text("GPT-4o")
        expect(info.get_by_test_id("model-description")).to_have_text("Fast and versatile, for everyday work.")
        expect(info.get_by_test_id("model-hint")).to_have_text(["Understands images", "128K tokens"])
        expect(picker).to_have_accessible_description(re.compile("Fast and versatile"))

        picker.select_option(str(o3mini.pk))
        expect(info.get_by_test_id("model-info-name")).to_have_text("o3-mini")
        expect(info.get_by_test_id("model-description")).to_have_count(0)
        expect(info).to_have_text(re.compile(r"^o3-mini\s*Reasoning\s*200K tokens$"))
        expect(info.get_by_test_id("model-hint")).to_have_text(["Reasoning", "200K tokens"])

        page.select_option("#lang-select", "ja")  # descriptions come in the reader's language
        expect(page.locator("html")).to_have_attribute("lang", "ja")
        picker.select_option(str(gpt4o.pk))
        expect(info.get_by_test_id("model-description")).to_have_text("日常業務向けの速いモデル。")
        assert violations(page) == []
    finally:
        page.context.close()


def test_a_markdown_export_of_a_japanese_conversation_is_named_after_its_title(
    browser: Browser, server: DaphneServer, user_a: User, gpt4o: ModelVersion
) -> None:
    minutes = conversation(user_a, "会議の議事録")
    message(minutes, Message.Role.USER, "要点をまとめて")
    message(minutes, Message.Role.ASSISTANT, "1. 予算は承認されました。")
    page = tokyo_page(browser)
    try:
        sign_in(page, server, user_a)
        item(page, minutes).locator(".conv-link").click()
        expect(page.locator("#chat-title")).to_have_text("会議の議事録")
        with page.expect_download() as download:
            page.get_by_role("link", name="Export as Markdown").click()
        assert download.value.suggested_filename == "会議の議事録.md"
        assert "1. 予算は承認されました。" in Path(download.value.path()).read_text(encoding="utf-8")
        assert violations(page) == []
    finally:
        page.context.close()


PHONE = {"width": 390, "height": 844}


def fits_the_phone(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url}: {width} px wide"


def test_the_new_controls_fit_a_390_px_phone(
    browser: Browser, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    ModelVersion.objects.filter(pk=gpt4o.pk).update(
        description_en="A long description of what this model is for, which must not widen the page on a phone.",
        vision=True,
    )
    folder = Folder.objects.create(tenant=user_a.tenant, user=user_a, name="A folder with a rather long name indeed")
    conversation(user_a, "Pinned conversation with a long title that goes on", pinned=True, folder=folder)
    found = conversation(user_a, "Budget")
    message(found, Message.Role.ASSISTANT, "会議室" * 60)
    Prompt.objects.create(
        tenant=user_a.tenant, owner=user_a, name="A prompt " * 10, content="Say {{what}}", description="x " * 80
    )
    upstream.script("gpt-4o", up.normal("An answer."))
    page = tokyo_page(browser, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        sign_in(page, server, user_a)
        expect(page.get_by_test_id("model-description")).to_be_visible()
        fits_the_phone(page)
        send(page, "Hello")
        answer = answers(page).last
        expect(answer).to_have_attribute("data-status", "ok", timeout=SLOW)
        answer.get_by_role("button", name="Bad answer").click()
        expect(answer.get_by_test_id("feedback-form")).to_be_visible()
        fits_the_phone(page)

        page.get_by_role("button", name="Show chats").click()
        expect(page.get_by_test_id("folder")).to_be_visible()
        fits_the_phone(page)
        menu = open_menu(page, page.get_by_test_id("conversation-item").first)
        expect(menu).to_be_in_viewport()
        menu.get_by_role("menuitem", name="Move to folder").click()
        box = menu.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"]
        fits_the_phone(page)
        page.keyboard.press("Escape")
        page.keyboard.press("Escape")
        page.get_by_test_id("conversation-search").fill("会議")
        expect(page.get_by_test_id("snippet")).to_be_visible()
        fits_the_phone(page)
        page.keyboard.press("Escape")  # clears the search
        page.keyboard.press("Escape")  # closes the chats

        page.get_by_test_id("composer").fill("")
        page.get_by_test_id("composer").press("/")
        expect(page.get_by_test_id("prompt-option")).to_have_count(1)
        fits_the_phone(page)
        page.get_by_test_id("composer").press("Enter")
        expect(page.get_by_role("dialog")).to_be_visible()
        fits_the_phone(page)
        page.goto(server.url + "/settings/import/")  # the import page too
        expect(page.get_by_test_id("import-form")).to_be_visible()
        fits_the_phone(page)
        assert violations(page) == []
    finally:
        page.context.close()


def test_the_keyboard_moves_across_groups_and_folders(
    browser: Browser, server: DaphneServer, user_a: User, gpt4o: ModelVersion
) -> None:
    now = timezone.now()
    folder = Folder.objects.create(tenant=user_a.tenant, user=user_a, name="Work")
    pinned = conversation(user_a, "Pinned", now - timedelta(days=3), pinned=True)
    filed = conversation(user_a, "Filed", now - timedelta(days=2), folder=folder)
    today = conversation(user_a, "Today")
    yesterday = conversation(user_a, "Yesterday", now - timedelta(days=1))
    page = tokyo_page(browser)
    try:
        sign_in(page, server, user_a)
        expect(page.get_by_test_id("conversation-item")).to_have_count(4)
        link = {c.pk: item(page, c).locator(".conv-link") for c in (pinned, filed, today, yesterday)}
        toggle = page.get_by_test_id("folder-toggle")
        expect(page.locator("#conversation-list [tabindex='0']")).to_have_count(2)  # one row: its title and ⋯
        page.get_by_test_id("conversation-search").focus()
        page.keyboard.press("ArrowDown")
        expect(link[pinned.pk]).to_be_focused()
        order = [toggle, link[filed.pk], link[today.pk], link[yesterday.pk]]
        for target in order:
            page.keyboard.press("ArrowDown")
            expect(target).to_be_focused()
        page.keyboard.press("Home")
        expect(link[pinned.pk]).to_be_focused()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        expect(link[filed.pk]).to_be_focused()
        page.keyboard.press("ArrowLeft")  # from a folder's conversation to its folder
        expect(toggle).to_be_focused()
        page.keyboard.press("ArrowLeft")  # folds it
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(toggle).to_be_focused()
        page.keyboard.press("ArrowDown")  # its conversations are skipped while it is folded
        expect(link[today.pk]).to_be_focused()
        page.keyboard.press("ArrowUp")
        page.keyboard.press("ArrowRight")
        expect(toggle).to_have_attribute("aria-expanded", "true")
        page.keyboard.press("F2")  # renames the folder
        expect(page.get_by_test_id("rename-input")).to_be_focused()
        page.keyboard.press("Control+a")
        page.keyboard.type("Work 2025")
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("folder-name")).to_have_text("Work 2025")
        expect(toggle).to_be_focused()
        assert wait_for(lambda: Folder.objects.get(pk=folder.pk).name == "Work 2025")
        page.keyboard.press("Shift+F10")  # the row's menu
        menu = page.get_by_role("menu")
        expect(menu.get_by_role("menuitem", name="Rename")).to_be_focused()
        page.keyboard.press("Escape")
        expect(page.get_by_test_id("folder-menu")).to_be_focused()
        assert violations(page) == []
    finally:
        page.context.close()


def test_a_company_admin_shares_a_prompt_and_edits_a_shared_one(
    browser: Browser, server: DaphneServer, admin_a: User, user_a: User, gpt4o: ModelVersion
) -> None:
    existing = Prompt.objects.create(tenant=admin_a.tenant, owner=None, name="House style", content="Write plainly.")
    page = tokyo_page(browser)
    try:
        sign_in(page, server, admin_a)
        page.get_by_test_id("manage-prompts").click()
        manage = page.get_by_role("dialog", name="Manage prompts")
        rows = manage.get_by_test_id("prompt-row")
        expect(rows).to_have_count(1)
        rows.get_by_role("button", name="Edit “House style”").click()  # editable: the admin may change shared ones
        manage.get_by_label("Prompt", exact=True).fill("Write plainly and briefly.")
        manage.get_by_role("button", name="Save").click()
        expect(rows).to_have_count(1)
        assert wait_for(lambda: Prompt.objects.get(pk=existing.pk).content == "Write plainly and briefly.")
        manage.get_by_role("button", name="New prompt").click()
        manage.get_by_label("Name").fill("Weekly report")
        manage.get_by_label("Prompt", exact=True).fill("Report on {{team}}")
        manage.get_by_label("Share with everyone in the company").check()
        manage.get_by_role("button", name="Save").click()
        expect(rows).to_have_count(2)
        expect(rows.filter(has_text="Weekly report").get_by_test_id("prompt-shared")).to_be_visible()
        shared = Prompt.objects.get(name="Weekly report")
        assert (shared.owner_id, shared.tenant_id) == (None, admin_a.tenant_id)
        assert violations(page) == []
    finally:
        page.context.close()
