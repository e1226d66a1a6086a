"""Model output and the person's own text never run script in the page: live (chat.done HTML) and after a reload
(history rendered from the JSON API)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Dialog, Locator, Page, expect

from chat.models import Message
from llm.models import ModelVersion
from tenants.models import User
from tests.browser.conftest import sign_in
from tests.live import DaphneServer
from tests.upstream import server as up

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ANSWER = """Here is **bold** text and a list:

- one
- two

<script>window.__xss=1</script>

<img src=x onerror="window.__xss=2">

[click](javascript:window.__xss=3)

<a href="javascript:window.__xss=4">x</a>

<iframe src="javascript:window.__xss=5"></iframe>

<svg onload="window.__xss=7"></svg>

![pic](javascript:window.__xss=8)

[data](data:text/html,<script>window.__xss=9</script>)

[JaVaScRiPt](  JAVASCRIPT:window.__xss=10 )

```html
<script>window.__xss=11</script>
```

The end."""
USER_TEXT = 'Show me tricks <img src=x onerror="window.__xss=6">'

# Event attributes, links and sources in the chat's DOM (messages, sidebar, title); script-capable elements in what
# people and the model wrote.
INSPECT = """
() => {
  const roots = ["#message-list", "#conversation-list", "#chat-title"].map((s) => document.querySelector(s));
  const all = roots.flatMap((root) => [root, ...root.querySelectorAll("*")]);
  return {
    eventAttributes: all.flatMap((el) =>
      Array.from(el.attributes, (a) => a.name)
        .filter((name) => name.toLowerCase().startsWith("on"))
        .map((name) => el.tagName + " " + name)
    ),
    // The page's own icons are SVG; in what people and the model wrote there is none of these.
    dangerous: Array.from(document.querySelectorAll(
      "[data-testid=message-body] *, .conv-title *, #chat-title *"
    )).filter((el) => !el.closest("button"))  // the page's own Copy button on code blocks
      .filter((el) => /^(script|iframe|object|embed|svg|math|frame|base|form|meta|link|style)$/i.test(el.tagName))
      .map((el) => el.tagName),
    hrefs: all.filter((el) => el.hasAttribute("href")).map((el) => el.getAttribute("href")),
    srcs: all.filter((el) => el.hasAttribute("src")).map((el) => el.getAttribute("src")),
  };
}
"""
# Lets any image in the messages finish loading or failing (an injected onerror would have fired by then).
SETTLE = """
async () => {
  const images = Array.from(document.querySelectorAll("#message-list img"));
  await Promise.all(images.map((img) => img.complete ? null : new Promise((done) => {
    img.addEventListener("load", done, { once: true });
    img.addEventListener("error", done, { once: true });
  })));
  await new Promise((done) => setTimeout(done, 0));
  return window.__xss;
}
"""


def assert_inert(page: Page, dialogs: list[Dialog]) -> None:
    assert page.evaluate(SETTLE) is None
    found: dict[str, Any] = page.evaluate(INSPECT)
    assert found["eventAttributes"] == []
    assert found["dangerous"] == []
    for href in found["hrefs"]:
        assert not href.strip().lower().startswith(("javascript:", "data:", "vbscript:")), href
    for src in found["srcs"]:
        assert not src.strip().lower().startswith(("javascript:", "data:text")), src

    answer = page.locator("#message-list > [data-role=assistant]").last
    body = answer.get_by_test_id("message-body")
    expect(body.locator("strong")).to_have_text("bold")  # Markdown is rendered, only script is not
    expect(body.locator("li")).to_have_text(["one", "two"])
    expect(body).to_contain_text("The end.")
    expect(body).to_contain_text("click")
    links: Locator = body.get_by_role("link", name="click")
    for index in range(links.count()):  # if "click" became a link at all, following it runs nothing
        links.nth(index).click()
    assert page.evaluate(SETTLE) is None

    mine = page.locator("#message-list > [data-role=user]").last.get_by_test_id("message-body")
    expect(mine).to_have_text(USER_TEXT)  # shown as typed
    expect(mine.locator("img")).to_have_count(0)
    assert dialogs == []


def test_model_answer_and_user_text_render_inert_live_and_after_reload(
    page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    dialogs: list[Dialog] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.context.on("page", lambda popup: popup.close())  # a followed link would open a tab
    upstream.script("gpt-4o", up.normal(ANSWER, rate=60))
    sign_in(page, server, user_a)
    composer = page.get_by_test_id("composer")
    composer.fill(USER_TEXT)
    composer.press("Enter")

    answer = page.locator("#message-list > [data-role=assistant]").last
    expect(answer).to_have_attribute("data-status", "streaming")
    expect(answer).to_have_attribute("data-status", "ok", timeout=20_000)
    saved = Message.objects.get(role=Message.Role.ASSISTANT)
    assert saved.content == ANSWER  # the payload really went through the whole chain
    assert Message.objects.get(role=Message.Role.USER).content == USER_TEXT
    assert_inert(page, dialogs)

    page.reload()
    expect(page.locator("#message-list > [data-role=assistant]").last).to_have_attribute("data-status", "ok")
    assert_inert(page, dialogs)
