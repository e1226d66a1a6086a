"""A person chats in real Chromium with the real app served by daphne and the test upstream behind it: streaming,
stop, regenerate, refresh mid-stream (also while 30 other replies of two tenants stream), edit-and-resend, the notice
banner (live), Japanese, IME-safe Enter."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
import polib
import pytest
from django.test import Client
from playwright.sync_api import Browser, Locator, Page, expect

from chat.models import Conversation, Message, Notice, NoticeAcknowledgement
from chat.services import notice_save
from llm.models import ModelVersion
from tenants.models import Tenant, User
from tests.browser.conftest import sign_in
from tests.conftest import wait_for
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
    """The streamed text as the page shows it while streaming (rendered as Markdown: for the words of
    ``up.stream_tokens`` one paragraph, the text without its leading space)."""
    return str(answer.locator(".msg-body.is-streaming").evaluate("element => element.textContent")).strip()


def wait_for_words(answer: Locator, count: int) -> None:
    """Until the streaming answer shows at least ``count`` words (" w0" … " w{count-1}")."""
    expect(answer.get_by_test_id("message-body")).to_contain_text(f"w{count - 1}", timeout=SLOW)


def test_send_streams_and_completes_with_model_label_and_sidebar_entry(
    page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.stream_tokens(100, rate=30))
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
    expect(answer.get_by_test_id("message-body")).to_have_text(words(100).strip())
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
    assert (saved.status, saved.content, saved.model_label) == (Message.Status.OK, words(100), gpt4o.label)


def test_stop_keeps_the_partial_answer_marked_stopped_also_after_reload(
    page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.stream_tokens(300, rate=30))
    sign_in(page, server, user_a)
    send(page, "A long answer, please")
    answer = answers(page).last
    expect(answer).to_have_attribute("data-status", "streaming")
    wait_for_words(answer, 10)

    page.get_by_test_id("stop").click()
    expect(answer).to_have_attribute("data-status", "stopped", timeout=SLOW)
    expect(answer.get_by_test_id("status-badge")).to_have_attribute("data-status", "stopped")
    expect(page.get_by_test_id("stop")).to_be_hidden()
    shown = answer.get_by_test_id("message-body").inner_text()

    saved = Message.objects.get(role=Message.Role.ASSISTANT, conversation__user=user_a)
    assert saved.status == Message.Status.STOPPED
    count = len(saved.content.split())
    assert 10 <= count < 300
    assert saved.content == words(count)  # the partial text, no gaps or duplicates
    assert shown == saved.content.strip()  # what the person still sees is what was saved
    # Stopping ends the model call too (no tokens are paid for after the stop).
    assert upstream.wait_for(lambda: upstream.requests_to("gpt-4o")[-1].disconnected, timeout=5)

    page.reload()
    answer = answers(page).last
    expect(answer).to_have_attribute("data-status", "stopped")
    expect(answer.get_by_test_id("status-badge")).to_have_attribute("data-status", "stopped")
    expect(answer.get_by_test_id("message-body")).to_have_text(saved.content.strip())
    expect(answer.get_by_test_id("model-label")).to_have_text(gpt4o.label)


def test_regenerate_streams_a_new_answer_and_keeps_the_previous_one_as_a_version(
    page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.normal("The first answer."), up.stream_tokens(60, rate=30))
    sign_in(page, server, user_a)
    send(page, "Answer twice")
    expect(answers(page).last).to_have_attribute("data-status", "ok", timeout=SLOW)
    expect(answers(page).last.get_by_test_id("message-body")).to_have_text("The first answer.")
    expect(answers(page).last.get_by_test_id("versions")).to_have_count(0)  # one version: no arrows

    page.get_by_test_id("regenerate").click()
    new = answers(page).last
    expect(new).to_have_attribute("data-status", "streaming")
    expect(new.get_by_test_id("version-count")).to_have_text("2 / 2")  # from chat.accepted, while it streams
    wait_for_words(new, 3)
    first = stream_text(new)
    wait_for_words(new, len(first.split()) + 5)
    assert stream_text(new).startswith(first)
    expect(new).to_have_attribute("data-status", "ok", timeout=SLOW)
    expect(new.get_by_test_id("message-body")).to_have_text(words(60).strip())

    def check_versions(shown: int, text: str) -> None:
        expect(answers(page)).to_have_count(1)  # one answer on the page: the version shown
        expect(user_messages(page)).to_have_count(1)
        answer = answers(page).last
        expect(answer.get_by_test_id("message-body")).to_have_text(text)
        expect(answer.get_by_test_id("version-count")).to_have_text(f"{shown} / 2")
        expect(answer.get_by_test_id("versions")).to_have_attribute("aria-label", f"Version {shown} of 2")
        previous, following = answer.get_by_test_id("version-previous"), answer.get_by_test_id("version-next")
        expect(previous).to_be_enabled() if shown == 2 else expect(previous).to_be_disabled()
        expect(following).to_be_enabled() if shown == 1 else expect(following).to_be_disabled()
        expect(answer.get_by_test_id("regenerate")).to_be_visible()

    check_versions(2, words(60).strip())
    page.reload()  # the same from the server
    check_versions(2, words(60).strip())
    answers(page).last.get_by_test_id("version-previous").click()
    check_versions(1, "The first answer.")
    expect(answers(page).last.get_by_test_id("version-next")).to_be_focused()  # the keyboard stays on the arrows
    page.reload()
    check_versions(1, "The first answer.")
    answers(page).last.get_by_test_id("version-next").click()
    check_versions(2, words(60).strip())

    rows = list(Message.objects.filter(role=Message.Role.ASSISTANT).order_by("pk"))
    assert [(m.content, m.superseded, m.status) for m in rows] == [
        ("The first answer.", True, Message.Status.OK),
        (words(60), False, Message.Status.OK),
    ]
    requests = upstream.requests_to("gpt-4o")
    assert len(requests) == 2
    assert requests[1].json["messages"][-1] == {"role": "user", "content": "Answer twice"}


# Records the streaming answer's text every time it changes: the first text the page shows (before any socket frame
# can arrive) and the last, so what streamed in can be compared with the saved answer after the finished HTML has
# replaced it. (On chat.done the page renders everything that streamed in, then swaps in the server's HTML on the
# next frame: the last streaming text is the whole answer.)
RECORD_STREAM = """
window.__firstShown = null;
window.__streamed = null;
new MutationObserver(() => {
  const element = document.querySelector("#message-list .msg-body.is-streaming");
  if (!element || !element.textContent) return;
  const text = element.textContent.trim();
  if (window.__firstShown === null) window.__firstShown = text;
  window.__streamed = text;
}).observe(document, { subtree: true, childList: true, characterData: true });
"""
RELOAD_AFTER_WORDS = 30  # words shown before the reload (about 0.75 s of a 40-words-a-second reply)


def refresh_mid_stream(page: Page, *, tokens: int, reloaded: Callable[[], None] | None = None) -> Message:
    """Sends, reloads the page while ``up.stream_tokens(tokens)`` streams, and checks the reloaded page: the text so
    far is there at once (from the reply buffer, through the API) and the socket brings exactly the rest. Calls
    ``reloaded`` once the reloaded page is streaming again. Returns the saved answer."""
    send(page, "Keep going while I reload")
    answer = answers(page).last
    expect(answer).to_have_attribute("data-status", "streaming")
    message_id = int(answer.get_attribute("data-message-id") or 0)
    wait_for_words(answer, RELOAD_AFTER_WORDS)
    before = stream_text(answer)
    # Nothing of the reply is in the database yet (no checkpoints): only the reply buffer holds the text so far.
    running = Message.objects.get(pk=message_id)
    assert (running.status, running.content) == (Message.Status.STREAMING, "")

    page.add_init_script(RECORD_STREAM)
    conversation_api = f"/api/conversations/{running.conversation_id}/"
    with page.expect_response(lambda response: response.url.endswith(conversation_api)) as loaded:
        page.reload()
    data = loaded.value.json()
    assert data["running"]["message_id"] == message_id
    so_far = next(m["content"] for m in data["messages"] if m["id"] == message_id)
    assert so_far.strip().startswith(before)
    assert data["running"]["end"] == len(so_far)
    expect(page.locator("body")).to_have_attribute("data-socket", "open")
    answer = answers(page).last
    expect(answer).to_have_attribute("data-status", "streaming")
    # After the reload the text so far is there at once and keeps growing.
    assert page.evaluate("window.__firstShown") == so_far.strip()
    wait_for_words(answer, len(so_far.split()) + 1)
    first = stream_text(answer)
    assert first.startswith(so_far.strip())
    wait_for_words(answer, len(first.split()) + 20)
    second = stream_text(answer)
    assert second.startswith(first)
    assert answer.get_attribute("data-status") == "streaming"
    if reloaded is not None:
        reloaded()

    expect(answer).to_have_attribute("data-status", "ok", timeout=SLOW)
    saved = Message.objects.get(pk=message_id)
    assert saved.status == Message.Status.OK
    assert saved.content == words(tokens)  # no word missing or twice
    assert page.evaluate("window.__streamed") == saved.content.strip()  # exactly what streamed in after the reload
    expect(answer.get_by_test_id("message-body")).to_have_text(saved.content.strip())
    return saved


def test_refresh_mid_stream_continues_without_gaps_or_duplicates(
    page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.stream_tokens(240, rate=40))
    sign_in(page, server, user_a)
    refresh_mid_stream(page, tokens=240)
    assert len(upstream.requests_to("gpt-4o")) == 1  # the reload did not start another reply


# --- Load: other people's replies streaming through the same daphne process -----------------------------------------
LOAD_PER_TENANT = 15
LOAD_TOKENS = [150 + i for i in range(2 * LOAD_PER_TENANT)]  # one length per reply: a reply mixed with another shows
LOAD_RATE = 20  # tokens a second: each load reply lasts 7.5-9 s, the whole browser refresh
LOAD_DEADLINE = 30.0  # seconds for everything the load clients do, from connecting to the last chat.done


@dataclass
class LoadReply:
    """What one load socket saw: its reply rebuilt from the frames by the protocol's offsets, and every
    conversation and message any frame named."""

    tenant: str = ""
    conversation_id: int = 0
    message_id: int = 0
    text: str = ""
    end: int = 0
    done_end: int = -1
    status: str = ""
    conversations_seen: set[int] = field(default_factory=set)
    sidebar_seen: set[int] = field(default_factory=set)
    messages_seen: set[int] = field(default_factory=set)

    def apply(self, frame: dict[str, Any]) -> None:
        conversation = frame.get("conversation_id") or (frame.get("conversation") or {}).get("id")
        message = frame.get("message_id") or frame.get("assistant_message_id")
        if frame["type"] in ("conversation.updated", "folders.updated"):
            # The sidebar's frames go to every socket of the person (docs/websocket-protocol.md), not per chat.
            if conversation is not None:
                self.sidebar_seen.add(conversation)
            return
        if conversation is not None:
            self.conversations_seen.add(conversation)
        if message is not None:
            self.messages_seen.add(message)
        kind = frame["type"]
        assert kind != "error", frame
        if kind == "chat.accepted":
            self.conversation_id, self.message_id = frame["conversation"]["id"], frame["assistant_message_id"]
        elif kind in ("chat.snapshot", "chat.delta") and frame["message_id"] == self.message_id:
            assert frame["offset"] <= self.end, f"gap: {self.end} then {frame}"
            if frame["end"] > self.end:  # drop the overlap, or all of it when nothing is new
                self.text += frame["text"][self.end - frame["offset"] :]
                self.end = frame["end"]
        elif kind == "chat.done" and frame["message_id"] == self.message_id:
            self.status, self.done_end = frame["status"], frame["end"]


class LoadSockets:
    """Signed-in websocket clients (aiohttp, in a thread with its own event loop), one per session cookie. Each sends
    ``chat.send`` on a new conversation and reads its socket until its ``chat.done``, all within ``LOAD_DEADLINE``.

    ``with LoadSockets(...) as load:`` starts them; leaving the block cancels whatever still runs and joins the
    thread, also when the test failed."""

    def __init__(self, server: DaphneServer, cookies: list[str], *, model_version_id: int) -> None:
        self.server = server
        self.cookies = cookies
        self.model_version_id = model_version_id
        self.replies = [LoadReply() for _ in cookies]
        self.failure: BaseException | None = None
        self.all_streaming = threading.Event()
        self._streaming = 0
        self._loop = asyncio.new_event_loop()
        self._main: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, name="load-sockets", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._cancel)
        self._thread.join(10)
        if exc_type is None:  # else the test's own failure is the one to report
            assert not self._thread.is_alive(), "load sockets did not stop"

    def running(self) -> int:
        """Load replies streaming now (started, not done)."""
        return sum(1 for reply in self.replies if reply.end and not reply.status)

    def finish(self) -> list[LoadReply]:
        """Waits for every load reply to end (bounded by ``LOAD_DEADLINE``) and returns them."""
        self._thread.join(LOAD_DEADLINE + 5)
        assert not self._thread.is_alive(), "load sockets still running"
        if self.failure is not None:
            raise AssertionError(f"a load socket failed: {self.failure!r}") from self.failure
        return self.replies

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._main = self._loop.create_task(self._all())
        try:
            self._loop.run_until_complete(self._main)
        except BaseException as exc:  # reported by finish(), not as an unhandled thread exception
            self.failure = exc
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def _cancel(self) -> None:
        if self._main is not None:
            self._main.cancel()

    async def _all(self) -> None:
        async with asyncio.timeout(LOAD_DEADLINE), aiohttp.ClientSession() as session, asyncio.TaskGroup() as tasks:
            for index, (cookie, reply) in enumerate(zip(self.cookies, self.replies, strict=True)):
                tasks.create_task(self._one(session, index, cookie, reply))

    async def _one(self, session: aiohttp.ClientSession, index: int, cookie: str, reply: LoadReply) -> None:
        headers = {"Origin": "http://127.0.0.1", "Cookie": f"sessionid={cookie}"}
        async with session.ws_connect(self.server.ws_url, headers=headers) as ws:

            async def receive() -> dict[str, Any]:
                message = await ws.receive()
                assert message.type == aiohttp.WSMsgType.TEXT, f"load socket {index}: {message}"
                frame: dict[str, Any] = json.loads(message.data)
                return frame

            ready = await receive()
            assert ready["type"] == "session.ready", ready
            reply.tenant = ready["tenant"]
            await ws.send_json(
                {
                    "type": "chat.send",
                    "request_id": f"load-{index}",
                    "conversation_id": None,
                    "text": f"Load question {index}",
                    "model_version_id": self.model_version_id,
                }
            )
            while not reply.status:
                streamed = bool(reply.end)
                reply.apply(await receive())
                if reply.end and not streamed:
                    self._streaming += 1  # only this loop's thread counts
                    if self._streaming == len(self.replies):
                        self.all_streaming.set()


def test_refresh_mid_stream_under_load_of_30_replies_in_two_tenants(
    page: Page,
    server: DaphneServer,
    user_a: User,
    client_a: Client,
    client_b: Client,
    tenant_a: Tenant,
    tenant_b: Tenant,
    gpt4o: ModelVersion,
    o3mini: ModelVersion,
    upstream: up.UpstreamServer,
) -> None:
    """While the page streams a reply and is reloaded, 30 other replies stream through the same daphne process:
    15 of other sockets of the same person (tenant A), 15 of a person in tenant B."""
    upstream.script("gpt-4o", up.stream_tokens(300, rate=40))
    upstream.script("o3-mini", *(up.stream_tokens(n, rate=LOAD_RATE) for n in LOAD_TOKENS))
    # One person per company runs all of it: lift the per-person cap on answers at once (default 3) for this load.
    Tenant.objects.filter(pk__in=[tenant_a.pk, tenant_b.pk]).update(max_concurrent_replies=LOAD_PER_TENANT + 1)
    sign_in(page, server, user_a)
    cookies = [client.cookies["sessionid"].value for client in (client_a, client_b) for _ in range(LOAD_PER_TENANT)]
    running_at_reload: list[int] = []

    with LoadSockets(server, cookies, model_version_id=o3mini.pk) as load:
        assert load.all_streaming.wait(15), f"load did not start: {load.failure!r}"
        saved = refresh_mid_stream(page, tokens=300, reloaded=lambda: running_at_reload.append(load.running()))
        replies = load.finish()

    # The reload happened under the whole load, and the browser's reply came out whole (checked above).
    assert running_at_reload == [len(LOAD_TOKENS)]
    assert len(upstream.requests_to("gpt-4o")) == 1  # the reload did not start another reply
    assert len(upstream.requests_to("o3-mini")) == len(LOAD_TOKENS)

    # Every load socket rebuilt its reply exactly, and it is what was saved.
    assert sorted(reply.tenant for reply in replies) == ["alpha"] * LOAD_PER_TENANT + ["beta"] * LOAD_PER_TENANT
    messages = Message.objects.in_bulk([reply.message_id for reply in replies])
    for reply in replies:
        message = messages[reply.message_id]
        assert (reply.status, message.status) == ("ok", Message.Status.OK)
        assert reply.text == message.content == words(len(reply.text.split()))
        assert reply.done_end == reply.end == len(message.content)
        assert message.tenant_id == (tenant_a if reply.tenant == "alpha" else tenant_b).pk
        assert (message.conversation_id, reply.conversations_seen) == (reply.conversation_id, {reply.conversation_id})
        assert reply.messages_seen == {reply.message_id}  # no frame of anyone else's reply
    assert sorted(len(reply.text.split()) for reply in replies) == LOAD_TOKENS  # each scripted reply once, unmixed

    # Tenant isolation: no socket of tenant B ever got a frame about a tenant-A conversation or message.
    a_conversations = set(Conversation.objects.filter(tenant=tenant_a).values_list("pk", flat=True))
    a_messages = set(Message.objects.filter(tenant=tenant_a).values_list("pk", flat=True))
    assert saved.conversation_id in a_conversations
    assert len(a_conversations) == 1 + LOAD_PER_TENANT
    for reply in replies:
        if reply.tenant == "beta":
            assert not reply.conversations_seen & a_conversations
            assert not reply.sidebar_seen & a_conversations
            assert not reply.messages_seen & a_messages


def test_edit_and_resend_keeps_the_earlier_question_and_answer_one_arrow_away(
    page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script(
        "gpt-4o", up.normal("About cats."), up.normal("Cats sleep a lot."), up.normal("About dogs."), up.normal("Woof.")
    )
    sign_in(page, server, user_a)
    send(page, "Tell me about cats")
    expect(answers(page).last).to_have_attribute("data-status", "ok", timeout=SLOW)
    send(page, "And their sleep?")
    expect(answers(page).last.get_by_test_id("message-body")).to_have_text("Cats sleep a lot.", timeout=SLOW)

    # Edit the first question, not the last: everything after it steps aside.
    first_question = user_messages(page).first
    first_question.hover()
    first_question.get_by_test_id("edit-message").click()
    editor = page.get_by_test_id("edit-input")
    expect(editor).to_have_value("Tell me about cats")
    expect(editor).to_be_focused()
    editor.fill("Tell me about dogs instead")
    page.get_by_test_id("edit-save").click()

    expect(editor).to_have_count(0)
    expect(answers(page).last.get_by_test_id("message-body")).to_have_text("About dogs.", timeout=SLOW)
    expect(answers(page).last).to_have_attribute("data-status", "ok")

    def check(questions: list[str], replies: list[str], shown: int) -> None:
        expect(user_messages(page).locator("[data-testid='message-body']")).to_have_text(questions)
        expect(answers(page).locator("[data-testid='message-body']")).to_have_text(replies)
        expect(user_messages(page).first.get_by_test_id("version-count")).to_have_text(f"{shown} / 2")

    dogs = (["Tell me about dogs instead"], ["About dogs."], 2)
    cats = (["Tell me about cats", "And their sleep?"], ["About cats.", "Cats sleep a lot."], 1)
    check(*dogs)
    assert upstream.requests_to("gpt-4o")[-1].json["messages"][-1]["content"] == "Tell me about dogs instead"
    assert len(upstream.requests_to("gpt-4o")[-1].json["messages"]) == 1  # the earlier turns are not context
    page.reload()
    check(*dogs)

    # "< 1/2": the earlier question comes back with everything that followed it.
    user_messages(page).first.get_by_test_id("version-previous").click()
    check(*cats)
    page.reload()
    check(*cats)
    # A follow-up continues the path shown.
    send(page, "Thanks")
    expect(answers(page).last.get_by_test_id("message-body")).to_have_text("Woof.", timeout=SLOW)
    sent = [m["content"] for m in upstream.requests_to("gpt-4o")[-1].json["messages"]]
    assert sent == ["Tell me about cats", "About cats.", "And their sleep?", "Cats sleep a lot.", "Thanks"]
    user_messages(page).first.get_by_test_id("version-next").click()
    check(*dogs)
    assert Message.objects.filter(role=Message.Role.USER).count() == 4  # nothing lost


def test_notice_banner_acknowledged_then_updated_live_from_the_admin(
    browser: Browser, page: Page, server: DaphneServer, user_a: User, operator: User, gpt4o: ModelVersion
) -> None:
    notice = notice_save(
        notice=Notice(web_text_en="Confidential data belongs **here**, not in Slack.", web_text_ja="機密はここへ。")
    )
    sign_in(page, server, user_a)
    banner = page.get_by_test_id("notice-banner")
    expect(banner).to_be_visible()
    expect(page.get_by_test_id("notice-text")).to_have_text("Confidential data belongs here, not in Slack.")
    expect(page.get_by_test_id("notice-text").locator("strong")).to_have_text("here")

    page.get_by_test_id("notice-ack").click()
    expect(banner).to_be_hidden()
    acks = NoticeAcknowledgement.objects.filter(user=user_a, notice=notice)
    assert wait_for(lambda: acks.filter(version=1).exists())  # stored by daphne on the notice.ack frame
    assert list(acks.values_list("version", flat=True)) == [1]
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    # An operator edits the English text in the admin console, in another browser.
    context = browser.new_context(locale="en-US")
    try:
        admin = context.new_page()
        admin.set_default_timeout(15_000)
        sign_in(admin, server, operator)
        admin.goto(f"{server.url}/admin/chat/notice/{notice.pk}/change/")
        admin.locator("textarea[name=web_text_en]").fill("From today: confidential data only in Office AI.")
        admin.locator("input[name=_save]").click()
        expect(admin).to_have_url(f"{server.url}/admin/chat/notice/")
    finally:
        context.close()

    expect(banner).to_be_visible()  # the new version asks to be read again
    expect(page.get_by_test_id("notice-text")).to_have_text("From today: confidential data only in Office AI.")
    expect(page.get_by_test_id("notice-ack")).to_have_attribute("data-version", "2")
    assert page.evaluate("window.__sameDocument") is True
    notice.refresh_from_db()
    assert (notice.version, notice.web_text_ja) == (2, "機密はここへ。")

    page.get_by_test_id("notice-ack").click()
    expect(banner).to_be_hidden()
    assert wait_for(lambda: acks.filter(version=2).exists())  # stored by daphne on the notice.ack frame
    assert sorted(acks.values_list("version", flat=True)) == [1, 2]
    page.reload()
    expect(page.get_by_test_id("composer")).to_be_visible()
    expect(banner).to_be_hidden()


def ja(msgid: str) -> str:
    """The Japanese translation of ``msgid`` in the committed catalogue."""
    entry = polib.pofile(str(PO)).find(msgid)
    assert entry is not None, msgid
    assert entry.msgstr, msgid
    return str(entry.msgstr)


def test_language_switch_to_japanese_and_chat_still_works(
    page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.normal("こんにちは。お手伝いします。"))
    sign_in(page, server, user_a)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("composer")).to_have_attribute("placeholder", "Message Office AI…")

    page.select_option("#lang-select", "ja")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("body")).to_have_attribute("data-socket", "open")
    expect(page.get_by_test_id("composer")).to_have_attribute("placeholder", ja("Message Office AI…"))
    expect(page.get_by_test_id("send")).to_have_attribute("aria-label", ja("Send message"))
    expect(page.get_by_test_id("new-chat")).to_have_text(ja("New chat"))
    expect(page.locator("#composer-hint")).to_have_text(
        ja("Enter to send, Shift+Enter for a new line. Answers can be wrong: check what matters.")
    )

    send(page, "日本語で答えてください")
    answer = answers(page).last
    expect(answer).to_have_attribute("data-status", "ok", timeout=SLOW)
    expect(answer.get_by_test_id("message-body")).to_have_text("こんにちは。お手伝いします。")
    expect(answer.get_by_test_id("model-label")).to_have_text(gpt4o.label)
    # Strings built by the chat modules (static/js/chat/) come translated too.
    expect(answer.get_by_test_id("regenerate")).to_have_attribute("aria-label", ja("Regenerate this answer"))
    assert upstream.requests_to("gpt-4o")[-1].json["messages"][-1]["content"] == "日本語で答えてください"


def test_enter_confirming_a_japanese_ime_conversion_does_not_send(
    page: Page, server: DaphneServer, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    sign_in(page, server, user_a)
    composer = page.get_by_test_id("composer")
    composer.focus()
    client = page.context.new_cdp_session(page)
    # What Chromium does for Japanese input: a composition, Enter (keyCode 229) to confirm it, then the commit.
    client.send("Input.imeSetComposition", {"text": "にほんご", "selectionStart": 4, "selectionEnd": 4})
    expect(composer).to_have_value("にほんご")
    enter = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 229, "nativeVirtualKeyCode": 229}
    client.send("Input.dispatchKeyEvent", {"type": "keyDown", **enter})
    client.send("Input.dispatchKeyEvent", {"type": "keyUp", **enter})
    client.send("Input.insertText", {"text": "日本語"})
    expect(composer).to_have_value("日本語")
    expect(user_messages(page)).to_have_count(0)
    assert upstream.requests_to("gpt-4o") == []
    assert not Message.objects.exists()

    # A real Enter now sends. (Had the IME Enter sent, its frame would have reached the server first.)
    page.keyboard.press("Enter")
    expect(user_messages(page)).to_have_count(1)
    expect(user_messages(page).first.get_by_test_id("message-body")).to_have_text("日本語")
    expect(answers(page).last).to_have_attribute("data-status", "ok", timeout=SLOW)
    expect(composer).to_have_value("")
    requests = upstream.requests_to("gpt-4o")
    assert len(requests) == 1
    assert requests[0].json["messages"][-1]["content"] == "日本語"
    assert list(Message.objects.filter(role=Message.Role.USER).values_list("content", flat=True)) == ["日本語"]
