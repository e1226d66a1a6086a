"""Files in the chat page, in Chromium: drop a PDF on the composer and paste a screenshot, watch the chips get read,
send, and see the answer that used both; a refused file says why on its chip and blocks nothing else."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from attachments.models import Attachment
from llm.models import ModelVersion
from tenants.models import User
from tests.attachments import files
from tests.browser.conftest import sign_in
from tests.browser.test_chat import SLOW, answers, send, user_messages
from tests.live import DaphneServer
from tests.upstream import server as up

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ANSWER = "The minutes say the budget passed (予算案は承認), and the screenshot shows a red chart."


def drop(page: Page, name: str, data: bytes, mime: str) -> None:
    """A file dropped on the composer, as the browser delivers it."""
    transfer = page.evaluate_handle(
        """([name, b64, mime]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, { type: mime }));
            return dt;
        }""",
        [name, base64.b64encode(data).decode(), mime],
    )
    page.dispatch_event("#composer-form", "dragover", {"dataTransfer": transfer})
    page.dispatch_event("#composer-form", "drop", {"dataTransfer": transfer})


def paste(page: Page, name: str, data: bytes, mime: str) -> None:
    """A screenshot pasted into the message box."""
    page.evaluate(
        """([name, b64, mime]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, { type: mime }));
            const box = document.getElementById("composer");
            box.focus();
            box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
        }""",
        [name, base64.b64encode(data).decode(), mime],
    )


@pytest.fixture
def vision(gpt4o: ModelVersion) -> ModelVersion:
    ModelVersion.objects.filter(pk=gpt4o.pk).update(vision=True)
    gpt4o.refresh_from_db()
    return gpt4o


def test_drop_a_pdf_paste_a_screenshot_send_and_the_answer_uses_both(
    page: Page,
    server: DaphneServer,
    user_a: User,
    vision: ModelVersion,
    upstream: up.UpstreamServer,
    celery_worker: Any,
    tmp_path: Path,
) -> None:
    upstream.script("gpt-4o", up.normal(ANSWER))
    sign_in(page, server, user_a)
    drop(page, "議事録.pdf", files.pdf_with_text(), "application/pdf")
    paste(page, "image.png", files.png(1600, 900), "image/png")
    chips = page.get_by_test_id("file-chip")
    expect(chips).to_have_count(2)
    expect(chips.nth(0)).to_contain_text("議事録.pdf")
    expect(chips.nth(0)).to_contain_text("PDF")
    expect(chips.nth(1)).to_contain_text("PNG")
    for i in range(2):
        expect(chips.nth(i)).to_have_attribute("data-status", "ready", timeout=SLOW)
    expect(chips.nth(0).get_by_test_id("file-state")).to_have_text("Ready")

    send(page, "この議事録とスクリーンショットを要約して")
    expect(answers(page).last.get_by_test_id("message-body")).to_have_text(ANSWER, timeout=SLOW)
    expect(page.get_by_test_id("file-tray")).to_be_hidden()  # the files went with the message
    sent = user_messages(page).last.get_by_test_id("message-files")
    expect(sent.locator("li")).to_have_count(2)
    expect(sent).to_contain_text("議事録.pdf")

    question = upstream.requests_to("gpt-4o")[-1].json["messages"][-1]
    text_part, image_part = question["content"]
    assert files.JAPANESE in text_part["text"]
    assert image_part["image_url"]["url"].startswith("data:image/")
    assert set(Attachment.objects.values_list("message_id", flat=True)) != {None}

    page.reload()  # the files stay listed under the question
    expect(user_messages(page).last.get_by_test_id("message-files").locator("li")).to_have_count(2)
    with page.expect_download() as download:
        user_messages(page).last.get_by_test_id("message-files").get_by_role("link", name="議事録.pdf").click()
    target = tmp_path / "download.pdf"
    download.value.save_as(target)
    assert target.read_bytes() == files.pdf_with_text()


def test_a_refused_file_says_why_on_its_chip_and_can_be_removed(
    page: Page, server: DaphneServer, user_a: User, vision: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.normal("Plain answer."))
    sign_in(page, server, user_a)
    drop(page, "secret.pdf", files.pdf_encrypted(), "application/pdf")
    chip = page.get_by_test_id("file-chip")
    expect(chip).to_have_attribute("data-status", "failed")
    expect(chip.get_by_role("alert")).to_contain_text("protected with a password")
    page.get_by_test_id("composer").fill("hello")
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("error-banner").last).to_contain_text("could not be attached")
    chip.get_by_test_id("file-remove").click()
    expect(page.get_by_test_id("file-chip")).to_have_count(0)
    page.get_by_test_id("send").click()
    expect(answers(page).last.get_by_test_id("message-body")).to_have_text("Plain answer.", timeout=SLOW)
    assert not Attachment.objects.exists()
