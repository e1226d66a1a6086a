"""Files in a chat turn: a PDF's text and a screenshot go to the model (the screenshot as an image part, to vision
models only), the audit trail says which files by hash without their contents, the question refuses files that do
not fit the model or are not the person's, later turns still see them, and they go with the conversation."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from attachments.models import Attachment
from audit.models import AuditOutbox
from chat.models import Conversation
from llm.models import ModelVersion
from tenants.models import User
from tests.attachments import files
from tests.attachments.test_upload import attachment_dir, stored_files  # noqa: F401 - attachment_dir: a fixture
from tests.chat.test_consumer import open_socket, until
from tests.conftest import wait_for
from tests.upstream import server as up

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def worker(celery_worker: Any) -> Any:
    """A real Celery worker reads the files where REDIS_URL is set (CI); eager Celery otherwise."""
    return celery_worker


@database_sync_to_async
def uploaded(client: Client, name: str, data: bytes, content_type: str = "application/octet-stream") -> int:
    """Upload and wait until the chip would say ready (the reading runs in the worker)."""
    response = client.post("/api/attachments/", {"file": _file(name, data, content_type)})
    assert response.status_code == 201, response.content
    attachment_id = int(response.json()["attachment"]["id"])
    assert wait_for(lambda: Attachment.objects.filter(pk=attachment_id, status="ready").exists(), timeout=30)
    return attachment_id


def _file(name: str, data: bytes, content_type: str) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


@database_sync_to_async
def llm_entries() -> list[AuditOutbox]:
    return list(AuditOutbox.objects.filter(event_type="llm.chat").order_by("pk"))


async def send(client: Client, text: str, attachment_ids: list[int], conversation_id: int | None = None) -> Any:
    socket = await open_socket(client)
    frame = {"type": "chat.send", "request_id": "r", "conversation_id": conversation_id, "text": text}
    await socket.send_json_to({**frame, "attachment_ids": attachment_ids})
    return socket


async def test_a_pdf_and_a_screenshot_reach_a_vision_model_and_the_audit_names_them_by_hash(
    client_a: Client, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    await database_sync_to_async(ModelVersion.objects.filter(pk=gpt4o.pk).update)(vision=True)
    upstream.script("gpt-4o", up.normal("The minutes say the budget passed; the screenshot shows a red chart."))
    pdf = await uploaded(client_a, "議事録.pdf", files.pdf_with_text())
    image = await uploaded(client_a, "screen.png", files.png(3000, 1000), "image/png")
    socket = await send(client_a, "この資料と画像を要約して", [pdf, image])
    accepted, _ = await until(socket, "chat.accepted")
    assert [a["name"] for a in accepted["user_message"]["attachments"]] == ["議事録.pdf", "screen.png"]
    done, _ = await until(socket, "chat.done")
    assert done["status"] == "ok"
    await socket.disconnect()

    question = upstream.requests_to("gpt-4o")[-1].json["messages"][-1]
    assert question["role"] == "user"
    text_part, image_part = question["content"]
    assert text_part["type"] == "text"
    assert text_part["text"].startswith("この資料と画像を要約して")
    assert '<attached_file name="議事録.pdf">' in text_part["text"]
    assert files.JAPANESE in text_part["text"]
    assert image_part["type"] == "image_url"
    url = image_part["image_url"]["url"]
    assert url.startswith("data:image/")
    from PIL import Image

    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert max(sent.size) <= 2048

    (entry,) = await llm_entries()
    recorded = entry.payload
    pdf_row = await database_sync_to_async(Attachment.objects.get)(pk=pdf)
    assert [a["name"] for a in recorded["attachments"]] == ["議事録.pdf", "screen.png"]
    assert recorded["attachments"][0]["sha256"] == pdf_row.sha256
    assert recorded["attachments"][0]["text_sha256"] == pdf_row.text_sha256
    flat = str(recorded["prompt_messages"])
    assert files.JAPANESE not in flat  # the file's text stays out of the trail
    assert "base64" not in flat
    assert f"sha256 {pdf_row.sha256}" in flat


async def test_images_are_refused_for_models_without_vision_and_nothing_is_sent(
    client_a: Client, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    image = await uploaded(client_a, "screen.png", files.png(100, 100), "image/png")
    socket = await send(client_a, "what is this?", [image])
    error, _ = await until(socket, "error")
    assert error["code"] == "vision_unsupported"
    assert "cannot read images" in error["message"]
    await socket.disconnect()
    assert upstream.requests_to("gpt-4o") == []
    row = await database_sync_to_async(Attachment.objects.get)(pk=image)
    assert row.message_id is None  # still the person's, to send elsewhere or remove


async def test_more_files_than_the_company_allows_per_message_are_refused(
    client_a: Client, tenant_a: Any, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    from tenants.models import Tenant

    await database_sync_to_async(Tenant.objects.filter(pk=tenant_a.pk).update)(attachment_max_files=2)
    ids = [await uploaded(client_a, f"note{i}.txt", f"メモ {i}".encode()) for i in range(3)]
    socket = await send(client_a, "read these", ids)
    error, _ = await until(socket, "error")
    assert error["code"] == "too_many_files"
    assert "At most 2 files" in error["message"]
    await socket.send_json_to(
        {"type": "chat.send", "request_id": "r2", "conversation_id": None, "text": "two", "attachment_ids": ids[:2]}
    )
    accepted, _ = await until(socket, "chat.accepted")
    assert len(accepted["user_message"]["attachments"]) == 2
    await until(socket, "chat.done")
    await socket.disconnect()


async def test_someone_elses_file_and_a_file_too_long_for_the_model_are_refused(
    client_a: Client, client_b: Client, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    theirs = await uploaded(client_b, "theirs.txt", b"secret of beta")
    socket = await send(client_a, "read it", [theirs])
    error, _ = await until(socket, "error")
    assert error["code"] == "not_found"
    await database_sync_to_async(ModelVersion.objects.filter(pk=gpt4o.pk).update)(
        context_window=4000, max_output_tokens=1000
    )
    long = await uploaded(client_a, "long.txt", ("長い文章です。" * 3000).encode())
    await socket.send_json_to(
        {"type": "chat.send", "request_id": "r2", "conversation_id": None, "text": "x", "attachment_ids": [long]}
    )
    error, _ = await until(socket, "error")
    assert error["code"] == "attachments_too_long"
    assert "too long for GPT-4o" in error["message"]
    await socket.send_json_to(
        {"type": "chat.send", "request_id": "r3", "conversation_id": None, "text": "x", "attachment_ids": "1"}
    )
    error, _ = await until(socket, "error")
    assert error["code"] == "bad_frame"
    await socket.disconnect()
    assert upstream.requests_to("gpt-4o") == []
    assert not await database_sync_to_async(Conversation.objects.exists)()


async def test_later_turns_still_see_the_file_and_deleting_the_conversation_deletes_it(
    client_a: Client,
    gpt4o: ModelVersion,
    upstream: up.UpstreamServer,
    attachment_dir: Path,  # noqa: F811
) -> None:
    upstream.script("gpt-4o", up.normal("First."), up.normal("Second."))
    doc = await uploaded(client_a, "予算.xlsx", files.xlsx())
    socket = await send(client_a, "この表は?", [doc])
    accepted, _ = await until(socket, "chat.accepted")
    await until(socket, "chat.done")
    conversation_id = accepted["conversation"]["id"]
    await socket.send_json_to(
        {"type": "chat.send", "request_id": "r2", "conversation_id": conversation_id, "text": "合計は?"}
    )
    await until(socket, "chat.done")
    await socket.disconnect()
    first_question = upstream.requests_to("gpt-4o")[-1].json["messages"][0]
    assert first_question["role"] == "user"
    assert files.JAPANESE in first_question["content"]  # the earlier file is still context

    detail = await database_sync_to_async(client_a.get)(f"/api/conversations/{conversation_id}/")
    question = detail.json()["messages"][0]
    assert [a["name"] for a in question["attachments"]] == ["予算.xlsx"]
    assert stored_files(attachment_dir)
    from django.test import TestCase

    def delete() -> Any:
        with TestCase.captureOnCommitCallbacks(execute=True):
            return client_a.post(f"/api/conversations/{conversation_id}/delete/", content_type="application/json")

    assert (await database_sync_to_async(delete)()).status_code == 200
    assert not await database_sync_to_async(Attachment.objects.exists)()
    assert stored_files(attachment_dir) == []


async def test_an_audit_export_can_carry_the_files_with_their_hashes_in_the_signed_manifest(
    client_a: Client, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer, tenant_a: Any
) -> None:
    import hashlib
    import json
    import zipfile

    from audit.models import AuditEntry
    from audit.offline import verify_export
    from tenants.services import user_create
    from tests.conftest import signed_in

    upstream.script("gpt-4o", up.normal("Read it."))
    pdf = files.pdf_with_text()
    attachment_id = await uploaded(client_a, "議事録.pdf", pdf)
    socket = await send(client_a, "要約して", [attachment_id])
    await until(socket, "chat.done")
    await socket.disconnect()

    def export(include: bool) -> bytes:
        assert wait_for(lambda: AuditEntry.objects.filter(event_type="llm.chat").exists(), timeout=30)
        reviewer = user_create(
            tenant=tenant_a, email=f"reviewer{int(include)}@alpha.example", role=User.Role.COMPLIANCE_REVIEWER
        )
        params = {"format": "jsonl", "event_type": "llm.chat", **({"include_files": "on"} if include else {})}
        response = signed_in(reviewer).get("/audit/export.zip", params)
        assert response.status_code == 200
        return b"".join(response.streaming_content)  # type: ignore[attr-defined]

    data = await database_sync_to_async(export)(True)
    archive = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(archive.read("manifest.json"))
    sha = hashlib.sha256(pdf).hexdigest()
    member = f"files/{sha}/議事録.pdf"
    assert archive.read(member) == pdf
    assert manifest["files"][member] == {"sha256": sha, "bytes": len(pdf)}
    assert manifest["attached_files"] == {sha: member}
    assert manifest["attached_files_missing"] == []
    assert verify_export(data).problems == []  # every file checked against the signed manifest

    plain = zipfile.ZipFile(io.BytesIO(await database_sync_to_async(export)(False)))
    assert [n for n in plain.namelist() if n.startswith("files/")] == []  # small unless asked for
