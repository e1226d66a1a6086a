"""Markdown renders while an answer streams (static/js/chat/markdown.js), as safely as the finished render: bold and
code fences are formatted mid-stream, the server's HTML then replaces the stream with the same text and no jump,
an injection streamed slowly never runs or leaves an event attribute or a javascript: URL, and the CSP holds."""

from __future__ import annotations

import re
import time
from typing import Any

import nh3
import pytest
from playwright.sync_api import Dialog, Page, expect

from chat import rendering
from chat.models import Message
from llm.models import ModelVersion
from tenants.models import User
from tests.browser.conftest import sign_in
from tests.browser.test_chat import SLOW, answers, send
from tests.browser.test_csp import violations, watched
from tests.live import DaphneServer
from tests.upstream import server as up

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FORMATTED = """Here is **bold text** and `inline code` first.

```python
def greet(name):
    return "Hello " + name
```

Then a list:

- one item
- another item

| a | b |
|---|--:|
| 1 | 2 |

The end of the answer."""

# The answer's body while it streams: its text (whitespace collapsed) and height at each change, until the
# server's HTML replaces it; and the same once it has.
RECORD = """
window.__streaming = [];
window.__final = null;
const squash = (text) => text.replace(/\\s+/g, " ").trim();
new MutationObserver(() => {
  const body = document.querySelector("#message-list > [data-role=assistant]:last-child [data-testid=message-body]");
  if (!body) return;
  const entry = { text: squash(body.textContent), height: body.getBoundingClientRect().height };
  if (body.classList.contains("is-streaming")) window.__streaming.push(entry);
  else if (window.__streaming.length) window.__final = entry;
}).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
"""


def test_bold_and_code_fences_are_formatted_while_streaming_and_the_final_render_matches(
    page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    page = watched(page)
    page.add_init_script(RECORD)
    upstream.script("gpt-4o", up.normal(FORMATTED, rate=12))  # about 4 s of words
    sign_in(page, server, user_a)
    send(page, "Format something")
    answer = answers(page).last
    body = answer.locator(".msg-body.is-streaming")

    expect(body.locator("strong")).to_have_text("bold text", timeout=SLOW)
    assert answer.get_attribute("data-status") == "streaming"
    expect(body.locator("code").first).to_have_text("inline code")
    # An open fence is already a code block (with its header), before its closing line arrives.
    expect(body.locator(".code-block pre code")).to_contain_text("def greet(name):", timeout=SLOW)
    assert answer.get_attribute("data-status") == "streaming"
    expect(body.locator(".code-lang")).to_have_text("python")
    expect(body.locator("li")).to_have_count(2, timeout=SLOW)
    assert answer.get_attribute("data-status") == "streaming"

    expect(answer).to_have_attribute("data-status", "ok", timeout=SLOW)
    final = answer.get_by_test_id("message-body")
    expect(final).not_to_have_class("is-streaming")
    expect(final.locator("strong")).to_have_text("bold text")
    expect(final.locator("th")).to_have_count(2)
    assert final.locator("pre code span[class^=hl-]").count() > 0  # the server's highlighting replaced the stream

    page.wait_for_function("window.__final !== null")
    streamed: list[dict[str, Any]] = page.evaluate("window.__streaming")
    done: dict[str, Any] = page.evaluate("window.__final")
    assert len(streamed) > 10  # rendered step by step, not once at the end
    assert streamed[-1]["text"] == done["text"]  # the same text, before and after the swap
    assert abs(streamed[-1]["height"] - done["height"]) <= 2  # and no jump
    assert "**" not in done["text"]
    assert "```" not in done["text"]
    assert Message.objects.get(role=Message.Role.ASSISTANT).content == FORMATTED
    # DOMPurify parses in an inert document that Chromium gives the page's CSP: event attributes and <base> in the
    # raw payloads are reported there as blocked before DOMPurify removes them. Nothing was fetched or run.
    assert {v.split(" ")[0] for v in violations(page)} <= {"script-src-attr", "base-uri"}
    assert page.evaluate("window.__xss") is None


ATTACK = """Streaming **safely** now.

<script>window.__xss = 1; alert(1)</script>

<img src=x onerror="window.__xss = 2">

<svg onload="window.__xss = 3"><circle r="5"/></svg>

[click me](javascript:window.__xss=4)

[spaced](  JAVASCRIPT:window.__xss=5 )

<a href="javascript:window.__xss=6">raw link</a>

![pic](javascript:window.__xss=7)

<iframe src="javascript:window.__xss=8"></iframe>

<div onmouseover="window.__xss=9" style="position:fixed;inset:0">cover</div>

[data](data:text/html,<script>window.__xss=10</script>)

<details open ontoggle="window.__xss=11">x</details>

The end."""

# Everything the answer holds that could run script: event attributes, javascript:/data: URLs, script-capable
# elements, images (the browser would fetch them).
INSPECT = """
() => {
  const root = document.querySelector("#message-list");
  const all = [root, ...root.querySelectorAll("*")];
  const urls = [];
  for (const el of all) for (const name of ["href", "src", "action", "formaction", "xlink:href"]) {
    if (el.hasAttribute(name)) urls.push(el.getAttribute(name));
  }
  return {
    xss: window.__xss,
    events: all.flatMap((el) => Array.from(el.attributes, (a) => a.name).filter((n) => /^on/i.test(n))),
    urls: urls.filter((url) => /^\\s*(javascript|data|vbscript):/i.test(url)),
    elements: Array.from(root.querySelectorAll("[data-testid=message-body] *"))
      .filter((el) => !el.closest("button"))
      .filter((el) => /^(script|iframe|object|embed|svg|math|img|frame|form|style|details|base|meta|link)$/i
        .test(el.tagName))
      .map((el) => el.tagName),
    streaming: Boolean(document.querySelector("#message-list .msg-body.is-streaming")),
  };
}
"""


def test_an_injection_streamed_slowly_never_runs_mid_stream_or_after(
    page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    page = watched(page)
    dialogs: list[Dialog] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.context.on("page", lambda popup: popup.close())
    upstream.script("gpt-4o", up.normal(ATTACK, rate=25))  # about 3 s
    sign_in(page, server, user_a)
    send(page, "Try your tricks")
    answer = answers(page).last
    expect(answer.locator(".msg-body.is-streaming")).to_be_attached()

    samples = 0
    deadline = time.monotonic() + SLOW / 1000
    while time.monotonic() < deadline:
        found: dict[str, Any] = page.evaluate(INSPECT)
        assert found["xss"] is None, found
        assert found["events"] == [], found
        assert found["urls"] == [], found
        assert found["elements"] == [], found
        if not found["streaming"]:
            break
        samples += 1
        # Move the mouse over the answer and click what looks like links, as a person might mid-stream.
        box = answer.bounding_box()
        if box:
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_timeout(100)
    assert samples >= 10, "the stream was not observed while it ran"
    expect(answer).to_have_attribute("data-status", "ok", timeout=SLOW)
    assert Message.objects.get(role=Message.Role.ASSISTANT).content == ATTACK  # the payload went through

    body = answer.get_by_test_id("message-body")
    expect(body.locator("strong")).to_have_text("safely")  # Markdown is rendered, only script is not
    expect(body).to_contain_text("<script>window.__xss = 1; alert(1)</script>")  # shown as text
    for name in ("click me", "spaced", "🖼 pic", "data"):
        for index in range(body.get_by_role("link", name=name).count()):
            body.get_by_role("link", name=name).nth(index).click()
    page.wait_for_timeout(200)
    found = page.evaluate(INSPECT)
    assert (found["xss"], found["events"], found["urls"], found["elements"]) == (None, [], [], [])
    assert dialogs == []
    # DOMPurify parses in an inert document that Chromium gives the page's CSP: event attributes and <base> in the
    # raw payloads are reported there as blocked before DOMPurify removes them. Nothing was fetched or run.
    assert {v.split(" ")[0] for v in violations(page)} <= {"script-src-attr", "base-uri"}
    assert page.evaluate("window.__xss") is None


# Raw HTML straight into both sanitisers (markdown-it never emits raw HTML, so this tests the second layer alone).
PAYLOADS = [
    '<p onclick="window.__xss=1">a</p>',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="  JAVASCRIPT:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<a href="vbscript:x">x</a>',
    '<a href="https://example.com/a?b=1" title="t" target="_top" rel="opener">x</a>',
    '<a href="/relative/path">x</a>',
    '<a href="mailto:a@example.com">x</a>',
    "<img src=x onerror=alert(1)>after",
    "<script>alert(1)</script>text",
    "<style>p { color: red }</style>styled",
    '<svg onload="alert(1)"><circle r="5"></circle></svg>',
    '<iframe src="https://example.com"></iframe>framed',
    '<span class="hl-k evil">kw</span><div class="language-js other" id="x">d</div>',
    '<pre class="nope"><code class="language-py" data-x="1">c</code></pre>',
    '<table><thead><tr><th style="text-align:center">h</th></tr></thead>'
    '<tbody><tr><td style="text-align:right">1</td><td style="color:red">2</td></tr></tbody></table>',
    '<ol start="3" type="a" reversed><li>x</li></ol>',
    "<h1>t</h1><h6>u</h6><blockquote>q</blockquote><del>d</del><s>s</s><em>e</em><strong>b</strong><br><hr>",
    "<!-- comment -->visible",
    '<form action="https://evil.example"><input name="x" value="y"><button>go</button></form>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    '<details open ontoggle="alert(1)"><summary>s</summary>d</details>',
    '<object data="x"></object><embed src="x"><base href="https://evil.example/"><meta http-equiv="refresh">',
    '<a href="https://example.com" onmouseover="alert(1)" style="position:fixed">link</a>',
]

# Element/attribute signatures of an HTML string ("a href=https://…"), the way the browser parses it.
SIGNATURES = """
(html) => {
  const template = document.createElement("template");
  template.innerHTML = html;
  return Array.from(template.content.querySelectorAll("*"), (el) =>
    [el.tagName.toLowerCase(), ...Array.from(el.attributes, (a) => `${a.name}=${a.value}`).sort()].join(" "));
}
"""
CLIENT = """
async (payloads) => {
  const { createSanitizer } = await import("/static/js/chat/markdown.js");
  const sanitize = createSanitizer(window.DOMPurify);
  return payloads.map((html) => {
    const holder = document.createElement("div");
    holder.append(sanitize(html));
    return holder.innerHTML;
  });
}
"""


def server_clean(html: str) -> str:
    """What chat/rendering.py's nh3 configuration keeps of raw HTML."""
    return str(
        nh3.clean(
            html,
            tags=rendering.ALLOWED_TAGS,
            attributes=rendering.ALLOWED_ATTRIBUTES,
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener noreferrer nofollow",
            attribute_filter=rendering._attribute_filter,
            strip_comments=True,
        )
    )


def test_the_pages_sanitiser_keeps_nothing_the_servers_would_drop(
    page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion
) -> None:
    page = watched(page)
    sign_in(page, server, user_a)
    cleaned: list[str] = page.evaluate(CLIENT, PAYLOADS)
    allowed = set(rendering.ALLOWED_TAGS)
    for payload, client in zip(PAYLOADS, cleaned, strict=True):
        theirs = set(page.evaluate(SIGNATURES, client))
        # nh3 adds rel to every link; the page adds it (and target) after sanitising.
        ours = {
            s.replace(" rel=noopener noreferrer nofollow", "") for s in page.evaluate(SIGNATURES, server_clean(payload))
        }
        assert {s.split(" ")[0] for s in theirs} <= allowed, f"{payload!r}: {theirs}"
        # Every attribute the page keeps, the server keeps too. (Where the two parsers differ on broken markup, the
        # page may keep a bare allowed tag, e.g. a <p> inside a <noscript>, never an attribute.)
        with_attributes = {s for s in theirs if " " in s}
        assert with_attributes <= ours, f"{payload!r}: the page keeps {sorted(with_attributes - ours)}"
        assert "<script" not in client.lower()
        assert not re.search(r"\son\w+=", client), client
    # What Markdown produces survives whole, as on the server.
    kept = page.evaluate(SIGNATURES, "".join(cleaned))
    for expected in (
        "span class=hl-k",
        "div class=language-js",
        "code class=language-py",
        "th style=text-align:center",
        "td style=text-align:right",
        "ol start=3",
        "a href=https://example.com/a?b=1 title=t",
        "a href=/relative/path",
        "a href=mailto:a@example.com",
    ):
        assert expected in kept, expected
    # DOMPurify parses in an inert document that Chromium gives the page's CSP: event attributes and <base> in the
    # raw payloads are reported there as blocked before DOMPurify removes them. Nothing was fetched or run.
    assert {v.split(" ")[0] for v in violations(page)} <= {"script-src-attr", "base-uri"}
    assert page.evaluate("window.__xss") is None
