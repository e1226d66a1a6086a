"""Real Chromium (Debian's /usr/bin/chromium) driven by Playwright against a live server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tenants.models import User
from tests.live import DaphneServer
from tests.model_fixtures import gpt4o, o3mini, upstream  # the real HTTP fake of Azure OpenAI; A's gpt-4o; A+B o3-mini

__all__ = ["gpt4o", "o3mini", "upstream"]  # fixtures shared with tests/chat and tests/slack

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling Google's hosts, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module", autouse=True)
def _allow_sync_orm_beside_playwright() -> Iterator[None]:
    # Playwright's sync API keeps an event loop running in this thread while the module's tests (and their
    # fixtures) use the ORM synchronously, which Django would otherwise refuse. Scoped to browser modules only.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture(scope="module")
def browser(_allow_sync_orm_beside_playwright: None) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


# --- The chat app served by a real daphne process, with the test upstream behind it --------------------------------
@pytest.fixture(scope="module")
def server(django_db_setup: None) -> Iterator[DaphneServer]:
    """daphne serving the app against the test database (websockets need ASGI; live_server is WSGI). With
    REDIS_URL (CI) the channel layer is Redis, else the in-memory layer inside that one process.

    One process per test module (starting one costs seconds); tests stay independent all the same: each is
    ``django_db(transaction=True)``, so its rows are committed for daphne to see and flushed after it, and each gets
    its own browser context and its own upstream."""
    daphne = DaphneServer(redis_url=os.environ.get("REDIS_URL"))
    try:
        yield daphne.start()
    finally:
        daphne.stop()  # also when start() failed: no daphne is left running


def sign_in(page: Page, server: DaphneServer, user: User) -> None:
    """Dev sign-in exactly as a person does it; waits until the chat page's websocket is open."""
    page.goto(server.url + "/accounts/dev-signin/")
    page.get_by_role("button", name=user.email, exact=True).click()
    expect(page.get_by_test_id("composer")).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-socket", "open")
