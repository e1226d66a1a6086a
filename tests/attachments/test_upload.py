"""Attachments (docs/attachments.md): every kind of file read with its Japanese text intact, images prepared for
vision models, stored encrypted per company, never served to anyone else, limits enforced, bad input refused
cleanly with nothing half-stored, deleted with the row, and kept only as long as the company says."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from django.utils import timezone

from attachments.crypto import decrypt_for
from attachments.models import Attachment
from attachments.services import attachment_image, attachment_text, attachments_expire
from tenants.models import Tenant, User
from tenants.services import user_create
from tests.attachments import files
from tests.conftest import signed_in


@pytest.fixture(autouse=True)
def celery_eager() -> Any:
    """The reading task in-process even where REDIS_URL makes Celery publish (CI); test_turns uses a real worker."""
    from config.celery_app import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


@pytest.fixture(autouse=True)
def attachment_dir(settings: Any, tmp_path: Path) -> Path:
    folder = tmp_path / "attachments"
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {**settings.STORAGES["attachments"], "OPTIONS": {"location": str(folder)}},
    }
    return folder


def upload(client: Client, name: str, data: bytes, content_type: str = "application/octet-stream") -> Any:
    """POST the file and run what its commit starts (the reading task: eager Celery, as in the embedded mode)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post("/api/attachments/", {"file": SimpleUploadedFile(name, data, content_type=content_type)})


def state(client: Client, attachment_id: int) -> dict[str, Any]:
    response = client.get(f"/api/attachments/{attachment_id}/")
    assert response.status_code == 200
    return response.json()["attachment"]


def stored_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        ("議事録.pdf", files.pdf_with_text, files.JAPANESE),
        ("報告.docx", files.docx, files.JAPANESE),
        ("予算.xlsx", files.xlsx, files.JAPANESE),
        ("報告.pptx", files.pptx, files.JAPANESE),
        ("一覧.csv", files.csv_cp932, files.JAPANESE),
        ("メモ.md", lambda: f"# 見出し\n\n{files.JAPANESE}\n".encode(), files.JAPANESE),
        ("main.py", lambda: b"print('hello')  # \xe4\xbc\x9a\xe8\xad\xb0\n", "print('hello')  # 会議"),
    ],
)
def test_documents_are_read_with_their_japanese_text_intact(
    client_a: Client, tenant_a: Tenant, attachment_dir: Path, name: str, make: Any, expected: str
) -> None:
    data = make()
    response = upload(client_a, name, data)
    assert response.status_code == 201, response.content
    body = state(client_a, response.json()["attachment"]["id"])
    assert (body["name"], body["kind"], body["status"], body["progress"]) == (name, "document", "ready", 100)
    attachment = Attachment.objects.get(pk=body["id"])
    assert expected in attachment_text(attachment)
    assert attachment.text_chars == len(attachment_text(attachment))
    # At rest the file is encrypted with the company's key: neither the text nor the bytes show in the store.
    (stored,) = stored_files(attachment_dir)
    raw = stored.read_bytes()
    assert data[:20] not in raw
    assert files.JAPANESE.encode() not in raw
    assert decrypt_for(tenant_a.pk, raw) == data


def test_an_image_is_downscaled_for_vision_models_and_its_metadata_dropped(client_a: Client) -> None:
    from io import BytesIO

    from PIL import Image

    response = upload(client_a, "スクリーンショット.png", files.png(3000, 1000), "image/png")
    assert response.status_code == 201, response.content
    attachment = Attachment.objects.get(pk=response.json()["attachment"]["id"])
    assert (attachment.kind, attachment.status) == ("image", "ready")
    prepared = Image.open(BytesIO(attachment_image(attachment)))
    assert max(prepared.size) <= 2048
    assert min(prepared.size) <= 768
    assert (attachment.width, attachment.height) == prepared.size


@pytest.mark.parametrize(
    ("name", "make", "code"),
    [
        ("empty.txt", lambda: b"", "empty"),
        ("photo.pdf", lambda: files.png(10, 10), "wrong_type"),  # an image named .pdf
        ("report.docx", lambda: b"PK\x03\x04not really a zip", "wrong_type"),
        ("notes.txt", lambda: b"\x00\x01\x02binary", "wrong_type"),
        ("setup.exe", lambda: b"MZ\x90\x00", "unsupported"),
        ("bomb.docx", files.zip_bomb_docx, "zip_bomb"),
        ("bomb.xlsx", files.zip_bomb_xlsx, "zip_bomb"),
        ("secret.pdf", files.pdf_encrypted, "encrypted"),
        ("panorama.png", lambda: files.png(20_000, 10), "image_too_large"),
        ("broken.pdf", lambda: b"%PDF-1.7\nthis is not a pdf", "unreadable"),
    ],
)
def test_bad_files_are_refused_with_a_sentence_and_nothing_is_stored(
    client_a: Client, attachment_dir: Path, name: str, make: Any, code: str
) -> None:
    response = upload(client_a, name, make())
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert len(error["message"]) > 20
    assert not Attachment.objects.exists()
    assert stored_files(attachment_dir) == []


def test_refusals_are_in_the_readers_language(client_a: Client) -> None:
    client_a.cookies["django_language"] = "ja"
    response = upload(client_a, "secret.pdf", files.pdf_encrypted())
    assert "パスワード" in response.json()["error"]["message"]


def test_company_limits_per_file_and_per_person(client_a: Client, tenant_a: Tenant) -> None:
    Tenant.objects.filter(pk=tenant_a.pk).update(attachment_max_mb=1, attachment_quota_mb=2)
    big = b"a" * (1024 * 1024 + 1)
    response = upload(client_a, "big.txt", big)
    assert (response.status_code, response.json()["error"]["code"]) == (413, "too_large")
    assert "1 MB" in response.json()["error"]["message"]
    for i in range(2):
        assert upload(client_a, f"part{i}.txt", b"b" * (1024 * 1024 - 10)).status_code == 201
    response = upload(client_a, "third.txt", b"c" * 100)
    assert (response.status_code, response.json()["error"]["code"]) == (413, "quota")
    assert Attachment.objects.count() == 2


def test_nobody_else_reads_status_downloads_or_deletes_a_file(
    client_a: Client, client_b: Client, tenant_a: Tenant, user_a: User
) -> None:
    attachment_id = upload(client_a, "議事録.pdf", files.pdf_with_text()).json()["attachment"]["id"]
    colleague = signed_in(user_create(tenant=tenant_a, email="colleague@alpha.example"))
    for other in (client_b, colleague):  # another company, and a colleague in the same one
        assert other.get(f"/api/attachments/{attachment_id}/").status_code == 404
        assert other.get(f"/api/attachments/{attachment_id}/download").status_code == 404
        assert other.post(f"/api/attachments/{attachment_id}/delete/").status_code == 404
    mine = client_a.get(f"/api/attachments/{attachment_id}/download")
    assert mine.status_code == 200
    assert mine.content == files.pdf_with_text()
    assert mine["Content-Type"] == "application/octet-stream"
    assert mine["X-Content-Type-Options"] == "nosniff"
    assert "attachment;" in mine["Content-Disposition"]
    assert Attachment.objects.filter(pk=attachment_id).exists()


def test_removing_a_file_removes_its_stored_bytes(client_a: Client, attachment_dir: Path) -> None:
    attachment_id = upload(client_a, "image.png", files.png(100, 100), "image/png").json()["attachment"]["id"]
    assert len(stored_files(attachment_dir)) == 2  # the original and the prepared image
    with TestCase.captureOnCommitCallbacks(execute=True):  # the files go once the deletion commits
        response = client_a.post(f"/api/attachments/{attachment_id}/delete/")
    assert response.status_code == 200
    assert not Attachment.objects.exists()
    assert stored_files(attachment_dir) == []


@pytest.mark.django_db(transaction=True)
def test_retention_deletes_old_files_of_companies_that_set_it(
    tenant_a: Tenant, tenant_b: Tenant, user_a: User, user_b: User, attachment_dir: Path
) -> None:
    a, b = signed_in(user_a), signed_in(user_b)
    old_a = upload(a, "old.txt", b"old").json()["attachment"]["id"]
    upload(b, "old.txt", b"old in b")
    Attachment.objects.update(created_at=timezone.now() - timedelta(days=40))
    new_a = upload(a, "new.txt", b"new").json()["attachment"]["id"]
    Tenant.objects.filter(pk=tenant_a.pk).update(attachment_retention_days=30)  # B keeps files
    assert attachments_expire() == 1
    assert set(Attachment.objects.values_list("pk", flat=True)) == {
        new_a,
        *Attachment.objects.filter(tenant=tenant_b).values_list("pk", flat=True),
    }
    assert not Attachment.objects.filter(pk=old_a).exists()
    assert len(stored_files(attachment_dir)) == 2


def test_a_request_without_a_file_is_a_clear_error(client_a: Client) -> None:
    response = client_a.post("/api/attachments/", {})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "no_file")
    assert client_a.get("/api/attachments/").status_code == 405
