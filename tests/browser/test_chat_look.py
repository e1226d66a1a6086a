"""Look and access: the dark theme (system preference and the top bar's menu, remembered, applied before the first
paint), pages that fit a 390 px phone with Sign out reachable, an accessible name on every control, and the
sidebar driven from the keyboard."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from chat.models import Conversation
from llm.models import ModelVersion
from tenants.models import User
from tests.browser.conftest import sign_in
from tests.browser.test_chat import SLOW, answers, send
from tests.browser.test_csp import violations, watched
from tests.conftest import wait_for
from tests.live import DaphneServer
from tests.upstream import server as up

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE: ViewportSize = {"width": 390, "height": 844}

# The theme <html> had when the page's first stylesheet-dependent paint could happen: recorded by a script that runs
# before any of the page's own (init scripts run first; the attribute must already be there when <body> starts).
FIRST_PAINT = """
window.__themeAtBody = null;
new MutationObserver((records, observer) => {
  if (document.body) {
    window.__themeAtBody = document.documentElement.dataset.theme || "";
    observer.disconnect();
  }
}).observe(document, { childList: true, subtree: true });
"""


def background(page: Page, selector: str) -> str:
    return str(page.locator(selector).first.evaluate("el => getComputedStyle(el).backgroundColor"))


def is_dark(rgb: str) -> bool:
    values = [int(v) for v in re.findall(r"\d+", rgb)[:3]]
    return sum(values) / 3 < 80


def test_dark_theme_follows_the_system_and_the_menu_remembers_a_choice(
    page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    page = watched(page)
    page.add_init_script(FIRST_PAINT)
    page.emulate_media(color_scheme="dark")
    sign_in(page, server, user_a)
    html = page.locator("html")
    expect(html).to_have_attribute("data-theme", "dark")
    assert page.evaluate("window.__themeAtBody") == "dark"  # before the body existed: no light flash
    expect(page.get_by_test_id("theme-select")).to_have_value("system")
    assert is_dark(background(page, ".chat-app"))
    assert is_dark(background(page, "#composer-form"))

    upstream.script("gpt-4o", up.normal("A **dark** answer with `code`.", rate=100))
    send(page, "Hello in the dark")
    expect(answers(page).last).to_have_attribute("data-status", "ok", timeout=SLOW)
    text_colour = answers(page).last.get_by_test_id("message-body").evaluate("el => getComputedStyle(el).color")
    assert not is_dark(text_colour)  # light text on the dark page

    # The system turns light: the page follows at once.
    page.emulate_media(color_scheme="light")
    expect(html).to_have_attribute("data-theme", "light")
    assert not is_dark(background(page, ".chat-app"))

    # The person chooses dark in the menu: kept over the system's light, across pages and reloads.
    page.get_by_test_id("theme-select").select_option("dark")
    expect(html).to_have_attribute("data-theme", "dark")
    assert page.evaluate("localStorage.getItem('officeai-theme')") == "dark"
    page.reload()
    expect(html).to_have_attribute("data-theme", "dark")
    assert page.evaluate("window.__themeAtBody") == "dark"
    expect(page.get_by_test_id("theme-select")).to_have_value("dark")
    assert is_dark(background(page, ".chat-app"))

    # Light over a dark system, then back to following the system.
    page.emulate_media(color_scheme="dark")
    page.get_by_test_id("theme-select").select_option("light")
    expect(html).to_have_attribute("data-theme", "light")
    page.get_by_test_id("theme-select").select_option("system")
    expect(html).to_have_attribute("data-theme", "dark")
    assert page.evaluate("localStorage.getItem('officeai-theme')") is None
    assert violations(page) == []


def fits_the_phone(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url}: {width} px wide"


def sign_out_is_reachable(page: Page) -> None:
    sign_out = page.get_by_role("button", name="Sign out")
    if not sign_out.is_visible():
        toggle = page.get_by_role("button", name="Menu")
        expect(toggle).to_be_visible()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(sign_out).to_be_visible()
    expect(sign_out).to_be_in_viewport()
    box = sign_out.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= PHONE["width"]
    fits_the_phone(page)  # the open menu does not widen the page either


def phone_page(browser: Browser) -> Page:
    context = browser.new_context(locale="en-US", viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def test_chat_usage_and_audit_pages_fit_a_phone_and_sign_out_is_reachable(
    browser: Browser, server: DaphneServer, user_a: User, admin_a: User, operator: User, gpt4o: ModelVersion
) -> None:
    page = phone_page(browser)
    try:
        sign_in(page, server, user_a)
        fits_the_phone(page)
        expect(page.get_by_test_id("composer")).to_be_in_viewport()
        sign_out_is_reachable(page)
        page.keyboard.press("Escape")
        expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "false")
        # The chats open from their own button and fit too.
        page.get_by_role("button", name="Show chats").click()
        expect(page.get_by_test_id("new-chat")).to_be_in_viewport()
        fits_the_phone(page)
        page.keyboard.press("Escape")
        sign_out_is_reachable(page)
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/accounts/"))

        sign_in(page, server, admin_a)
        page.goto(server.url + "/usage/")
        expect(page.get_by_test_id("chart-model-tokens")).to_be_attached()
        fits_the_phone(page)
        sign_out_is_reachable(page)
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/accounts/"))

        sign_in(page, server, operator)
        page.goto(server.url + "/audit/")
        fits_the_phone(page)
        sign_out_is_reachable(page)
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/accounts/"))
    finally:
        page.context.close()


# Every control a person can reach, with the name assistive technology gets for it (Chromium's accessibility tree).
CONTROLS = "button, a[href], select, input:not([type=hidden]), textarea, [role=button]"


def all_controls_are_named(page: Page, at_least: int) -> None:
    controls = page.locator(CONTROLS).filter(visible=True)
    assert controls.count() >= at_least
    index = 0
    while index < controls.count():  # counted again each time: a finishing answer redraws its buttons
        try:
            expect(controls.nth(index)).to_have_accessible_name(re.compile(r"\S"), timeout=2000)
        except AssertionError:
            if index >= controls.count():
                break  # the control went away while it was checked (a menu closing): the rest were checked
            raise
        index += 1


def test_every_control_on_the_chat_page_has_an_accessible_name_and_the_exports_differ(
    page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.normal("Some code:\n\n```python\nprint(1)\n```\n\nDone.", rate=200))
    sign_in(page, server, user_a)
    send(page, "Show me code")
    expect(answers(page).last).to_have_attribute("data-status", "ok", timeout=SLOW)
    expect(answers(page).last.get_by_test_id("copy-message")).to_be_attached()  # the finished answer's buttons
    answers(page).last.hover()
    all_controls_are_named(page, 18)  # top bar, sidebar, header, the answer's buttons, the composer
    export_md, export_json = page.get_by_test_id("export-md"), page.get_by_test_id("export-json")
    expect(export_md).to_have_accessible_name("Export as Markdown")
    expect(export_json).to_have_accessible_name("Export as JSON")
    conversation = Conversation.objects.get(user=user_a)
    expect(export_md).to_have_attribute("href", f"/c/{conversation.pk}/export.md")
    expect(export_json).to_have_attribute("href", f"/c/{conversation.pk}/export.json")
    # The two icons differ too (they were the same download arrow).
    assert export_md.locator("svg").inner_html() != export_json.locator("svg").inner_html()

    # On a phone the buttons show only their icons: still named, the exports still told apart.
    page.set_viewport_size(PHONE)
    expect(export_md.locator(".tool-text")).not_to_be_in_viewport()
    expect(export_md).to_have_accessible_name("Export as Markdown")
    expect(page.get_by_test_id("system-prompt-button")).to_have_accessible_name("System prompt")
    all_controls_are_named(page, 8)
    page.get_by_role("button", name="Show chats").click()
    all_controls_are_named(page, 5)
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Menu").click()
    all_controls_are_named(page, 5)


def test_the_sidebar_is_driven_from_the_keyboard(
    page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    for title in ("First chat", "Second chat", "Third chat"):
        Conversation.objects.create(tenant=user_a.tenant, user=user_a, title=title)
    sign_in(page, server, user_a)
    items = page.get_by_test_id("conversation-item")
    expect(items).to_have_count(3)
    links = page.locator(".conv-link")
    # One tab stop for the whole list (roving tabindex).
    tab_stops = page.locator("#conversation-list [tabindex='0']")
    expect(tab_stops).to_have_count(2)  # the first conversation's link and its ⋯ menu button
    expect(links.first).to_have_attribute("tabindex", "0")
    expect(links.nth(1)).to_have_attribute("tabindex", "-1")

    page.get_by_test_id("conversation-search").focus()
    page.keyboard.press("ArrowDown")  # from the search box into the list
    expect(links.first).to_be_focused()
    first_title = links.first.inner_text().splitlines()[0]
    page.keyboard.press("ArrowDown")
    expect(links.nth(1)).to_be_focused()
    expect(links.nth(1)).to_have_attribute("tabindex", "0")
    expect(links.first).to_have_attribute("tabindex", "-1")
    page.keyboard.press("End")
    expect(links.nth(2)).to_be_focused()
    page.keyboard.press("ArrowDown")  # stays on the last
    expect(links.nth(2)).to_be_focused()
    page.keyboard.press("Home")
    expect(links.first).to_be_focused()
    page.keyboard.press("ArrowDown")
    target_title = links.nth(1).inner_text().splitlines()[0]
    assert target_title != first_title

    # Tab goes to this conversation's own ⋯ button, then out of the list; its menu works from the keyboard.
    page.keyboard.press("Tab")
    menu_button = items.nth(1).get_by_test_id("conversation-menu")
    expect(menu_button).to_be_focused()
    page.keyboard.press("Enter")
    expect(menu_button).to_have_attribute("aria-expanded", "true")
    menu = page.get_by_role("menu")
    expect(menu.get_by_role("menuitem", name="Rename")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(menu.get_by_role("menuitem", name="Pin")).to_be_focused()
    page.keyboard.press("End")
    expect(menu.get_by_role("menuitem", name="Delete")).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).to_have_count(0)
    expect(menu_button).to_be_focused()
    expect(menu_button).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Shift+Tab")
    expect(links.nth(1)).to_be_focused()

    page.keyboard.press("Enter")  # opens it
    target = Conversation.objects.get(title=target_title)
    expect(page).to_have_url(f"{server.url}/c/{target.pk}/")
    expect(page.locator("#chat-title")).to_have_text(target_title)
    expect(items.nth(1)).to_have_class(re.compile("is-active"))

    # F2 renames the focused conversation; Enter saves and the focus comes back to it (also when the list
    # reorders: a renamed conversation may move to the top).
    renamed = page.locator(f".conv-item[data-conversation-id='{target.pk}']")
    renamed.locator(".conv-link").focus()
    page.keyboard.press("F2")
    rename = page.get_by_test_id("rename-input")
    expect(rename).to_be_focused()
    rename.fill("Renamed by keyboard")
    page.keyboard.press("Enter")
    expect(renamed.locator(".conv-title")).to_have_text("Renamed by keyboard")
    expect(renamed.locator(".conv-link")).to_be_focused()
    expect(page.locator("#chat-title")).to_have_text("Renamed by keyboard")
    assert wait_for(lambda: Conversation.objects.get(pk=target.pk).title == "Renamed by keyboard")  # saved by the API
