"""The compliance export: ZIP format (CSV/JSONL + manifest), streaming, snapshot, jobs, the command, auditing."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import AsyncClient, Client

from audit.export import (
    FORMULA_PREFIXES,
    audit_export_prepare,
    audit_export_run,
    neutralise,
)
from audit.hashing import canonical_json, digest_public_key, entry_hash, entry_seal
from audit.models import AuditChainHead, AuditEntry, AuditExport, AuditOutbox, Channel
from audit.offline import verify_export
from audit.services import audit_pending_sweep, audit_record, chain_for
from tenants.models import Tenant, User
from tenants.services import user_create
from tests.conftest import signed_in

JAPANESE = "機密情報の扱い"
BOM = b"\xef\xbb\xbf"


# --- Helpers shared with test_views.py ----------------------------------------------------------------------------
def record(tenant: Tenant | None, n: int = 1, **fields: Any) -> list[AuditEntry]:
    """Record events as services do (outbox row in a transaction), then chain them for real."""
    for i in range(n):
        with transaction.atomic():
            audit_record(**{"event_type": "test.event", "tenant": tenant, "payload": {"i": i}, **fields})
    audit_pending_sweep(older_than=timedelta(0))
    chain = chain_for(tenant.pk if tenant else None)
    return list(AuditEntry.objects.filter(chain=chain).order_by("-seq")[:n])[::-1]


def bulk_entries(tenant: Tenant, n: int, *, start: datetime | None = None) -> None:
    """``n`` chained entries in a few INSERTs, hashed exactly as audit_chain_advance hashes them.

    Row 100k is "dangerous" (formula prefixes in every text column), row 100k+1 has tab/CR prefixes.
    """
    chain = chain_for(tenant.pk)
    head, _ = AuditChainHead.objects.get_or_create(chain=chain)
    seq, prev = head.last_seq, head.last_hash
    start = start or datetime(2026, 4, 1, tzinfo=UTC)
    rows = []
    for i in range(n):
        seq += 1
        fields: dict[str, Any] = {
            "chain": chain,
            "seq": seq,
            "event_id": uuid.uuid4(),
            "tenant_id": tenant.pk,
            "event_type": "llm.chat",
            "occurred_at": start + timedelta(seconds=i, microseconds=i % 1000),
            "recorded_at": start + timedelta(seconds=i, milliseconds=5),
            "actor_id": None,
            "actor_email": f"user{i % 7}@alpha.example",
            "channel": Channel.SLACK if i % 2 else Channel.WEB,
            "model_label": "gpt-4o 2024-08-06",
            "status": "ok",
            "payload": {"i": i, "text": JAPANESE, "prompt": "=SUM(A1:A2)", "quote": 'say "hi"'},
            "prev_hash": prev,
        }
        if i % 100 == 0:
            fields.update(event_type="@llm.chat", actor_email="=HYPERLINK(1)@x", model_label="+gpt", status="-1")
        elif i % 100 == 1:
            fields.update(model_label="\tgpt", status="\rok")
        fields["entry_hash"] = prev = entry_hash(fields)
        fields["key_id"], fields["mac"] = entry_seal(prev)
        rows.append(AuditEntry(**fields))
    AuditEntry.objects.bulk_create(rows, batch_size=2000)
    head.last_seq, head.last_hash = seq, prev
    head.save(update_fields=["last_seq", "last_hash"])


def open_zip(data: bytes) -> tuple[zipfile.ZipFile, dict[str, Any]]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    names = archive.namelist()
    assert names[-1] == "manifest.json"  # written last
    manifest = json.loads(archive.read("manifest.json"))
    for name, info in manifest["files"].items():
        content = archive.read(name)
        assert hashlib.sha256(content).hexdigest() == info["sha256"]
        assert len(content) == info["bytes"]
    return archive, manifest


def streamed(response: Any) -> list[bytes]:
    assert response.streaming is True
    return [bytes(chunk) for chunk in response.streaming_content]


@pytest.fixture(autouse=True)
def export_dir(settings: Any, tmp_path: Path) -> Path:
    settings.AUDIT_EXPORT_DIR = tmp_path / "exports"
    return Path(settings.AUDIT_EXPORT_DIR)


@pytest.fixture
def reviewer_a(tenant_a: Tenant) -> User:
    return user_create(tenant=tenant_a, email="reviewer@alpha.example", role=User.Role.COMPLIANCE_REVIEWER)


@pytest.fixture
def entries_10k(tenant_a: Tenant) -> int:
    bulk_entries(tenant_a, 10_000)
    return 10_000


# --- CSV / JSONL ----------------------------------------------------------------------------------------------
def test_csv_export_of_10000_entries(reviewer_a: User, tenant_a: Tenant, entries_10k: int) -> None:
    client = signed_in(reviewer_a)
    response = client.get("/audit/export.zip", {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert 'attachment; filename="audit-alpha-' in response["Content-Disposition"]
    chunks = streamed(response)
    assert len(chunks) > 1  # really streamed, not built in memory and sent at once
    archive, manifest = open_zip(b"".join(chunks))
    assert archive.namelist() == ["audit.csv", "manifest.json"]
    assert archive.getinfo("audit.csv").compress_type == zipfile.ZIP_DEFLATED
    assert archive.getinfo("audit.csv").date_time > (1980, 1, 1, 0, 0, 0)  # not zipfile's default

    raw = archive.read("audit.csv")
    assert raw.startswith(BOM)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert len(rows) == 10_001
    header, data = rows[0], rows[1:]
    # One column per field, the ones people read first (docs/audit.md "Exports"); the whole payload last.
    assert header[:11] == [
        "occurred_at", "actor_email", "channel", "model_label", "status", "event_type",
        "prompt", "answer", "input_tokens", "output_tokens", "error",
    ]  # fmt: skip
    assert header[-1] == "payload"
    assert b"\r\n" in raw
    assert raw.count(b"\r\n") >= 10_001
    col = {name: header.index(name) for name in header}

    last = AuditEntry.objects.filter(chain=chain_for(tenant_a.pk)).order_by("-seq").first()
    assert last is not None
    seqs = [int(row[col["seq"]]) for row in data]
    assert seqs == sorted(seqs)
    assert seqs[0] == 1
    assert seqs[-1] == last.seq
    assert manifest["tenant"] == "alpha"
    assert manifest["format"] == "csv"
    assert manifest["filters"] == {}
    assert manifest["row_count"] == 10_000
    assert (manifest["first_seq"], manifest["last_seq"]) == (1, last.seq)
    assert manifest["last_entry_hash"] == last.entry_hash == data[-1][col["entry_hash"]]

    payload = json.loads(data[5][col["payload"]])
    assert payload["text"] == JAPANESE  # readable, not \u-escaped
    assert JAPANESE in raw.decode("utf-8-sig")
    # Row i=0 is the dangerous one: every text column neutralised with a leading apostrophe.
    first = data[0]
    assert first[col["event_type"]] == "'@llm.chat"
    assert first[col["actor_email"]] == "'=HYPERLINK(1)@x"
    assert first[col["model_label"]] == "'+gpt"
    assert first[col["status"]] == "'-1"
    assert data[1][col["model_label"]] == "'\tgpt"
    assert data[1][col["status"]] == "'\rok"
    for row in data:
        assert not any(cell.startswith(FORMULA_PREFIXES) for cell in row), row


def test_jsonl_export_of_10000_entries(reviewer_a: User, tenant_a: Tenant, entries_10k: int) -> None:
    response = signed_in(reviewer_a).get("/audit/export.zip", {"format": "jsonl", "channel": "web"})
    assert response.status_code == 200
    chunks = streamed(response)
    assert len(chunks) > 1
    archive, manifest = open_zip(b"".join(chunks))
    assert archive.namelist() == ["audit.jsonl", "manifest.json"]
    text = archive.read("audit.jsonl").decode("utf-8")
    assert not text.startswith("\ufeff")
    lines = [json.loads(line) for line in text.split("\n") if line]
    assert len(lines) == 5_000 == manifest["row_count"]  # every other row is web
    assert manifest["filters"] == {"channel": "web"}
    assert all(line["channel"] == "web" for line in lines)
    assert lines[0]["payload"]["text"] == JAPANESE
    assert JAPANESE in text
    assert lines[0]["event_type"] == "@llm.chat"  # JSON is never evaluated: no neutralisation
    assert manifest["first_seq"] == lines[0]["seq"]
    assert manifest["last_seq"] == lines[-1]["seq"]
    assert manifest["last_entry_hash"] == lines[-1]["entry_hash"]
    # Every field is there, in the hashed form: anyone can re-verify each exported entry.
    for line in lines:
        assert entry_hash(line) == line["entry_hash"]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=1", "a=1"),
        ("", ""),
        (JAPANESE, JAPANESE),
    ],
)
def test_neutralise(cell: str, expected: str) -> None:
    assert neutralise(cell) == expected


def test_export_of_nothing_is_a_valid_zip(tenant_b: Tenant) -> None:
    stream = audit_export_prepare(tenant=tenant_b, format="csv", filters={})
    archive, manifest = open_zip(b"".join(stream.chunks()))
    assert manifest["row_count"] == 0
    assert manifest["first_seq"] is None
    assert manifest["last_seq"] is None
    rows = list(csv.reader(io.StringIO(archive.read("audit.csv").decode("utf-8-sig"), newline="")))
    assert len(rows) == 1  # header only


def test_big_rows_are_drained_before_500_rows(tenant_a: Tenant) -> None:
    import secrets

    record(tenant_a, 6, payload={"answer": secrets.token_hex(300_000)})  # 600 kB of text per row
    stream = audit_export_prepare(tenant=tenant_a, format="csv", filters={})
    chunks = list(stream.chunks())
    assert len(chunks) >= 3
    assert max(len(chunk) for chunk in chunks) < 2_000_000
    _, manifest = open_zip(b"".join(chunks))
    assert manifest["row_count"] == 6


def test_csv_has_the_question_answer_and_tokens_in_their_own_columns_for_excel(tenant_a: Tenant) -> None:
    payload = {
        "prompt_messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "前の質問"},
            {"role": "assistant", "content": "前の回答"},
            {"role": "user", "content": [{"type": "text", "text": "=SUM(A1)の意味は?"}]},
        ],
        "response_text": "合計です。",
        "usage": {"prompt_tokens": 42, "completion_tokens": 7},
        "error": None,
    }
    record(tenant_a, event_type="llm.chat", status="ok", model_label="gpt-4o", payload=payload)
    record(tenant_a, event_type="llm.chat", status="error", payload={"error": {"code": "rate_limited"}})
    record(tenant_a, event_type="admin.user.created", payload={"prompt_messages": "not a list", "usage": 3})
    archive, _ = open_zip(b"".join(audit_export_prepare(tenant=tenant_a, format="csv", filters={}).chunks()))
    raw = archive.read("audit.csv")
    assert raw.startswith(BOM)  # Excel reads it as UTF-8
    text = raw.decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(text, newline="")))
    chat, failed, admin = csv.DictReader(io.StringIO(text, newline=""))
    assert header[:11] == [*header[:6], "prompt", "answer", "input_tokens", "output_tokens", "error"]
    assert chat["prompt"] == "'=SUM(A1)の意味は?"  # the last question, formula-neutralised
    assert (chat["answer"], chat["input_tokens"], chat["output_tokens"]) == ("合計です。", "42", "7")
    assert (failed["status"], failed["error"], failed["prompt"]) == ("error", "rate_limited", "")
    assert (admin["prompt"], admin["answer"], admin["input_tokens"]) == ("", "", "")
    assert json.loads(chat["payload"]) == payload  # lossless beside the read columns


def test_xlsx_export_opens_in_a_spreadsheet_reader_with_japanese_numbers_and_neutralised_cells(
    reviewer_a: User, tenant_a: Tenant, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    payload = {
        "prompt_messages": [{"role": "user", "content": "=cmd|' /C calc'!A0 会議の要約"}],
        "response_text": JAPANESE + "\x07bell",  # a control character XML cannot hold
        "usage": {"prompt_tokens": 42, "completion_tokens": 7},
    }
    record(tenant_a, event_type="llm.chat", status="stopped", model_label="gpt-4o", payload=payload)
    record(tenant_a, event_type="llm.chat", payload={"response_text": "x" * 40_000})  # over Excel's cell limit
    client = signed_in(reviewer_a)
    response = client.get("/audit/export.zip", {"format": "xlsx"})
    assert response.status_code == 200
    archive, manifest = open_zip(b"".join(streamed(response)))
    assert archive.namelist() == ["audit.xlsx", "manifest.json"]
    assert (manifest["format"], manifest["row_count"]) == ("xlsx", 2)
    path = tmp_path / "audit.xlsx"
    path.write_bytes(archive.read("audit.xlsx"))
    sheet = load_workbook(path, read_only=True)["audit"]
    rows = [tuple(r) for r in sheet.iter_rows(values_only=True)]
    header = rows[0]
    chat = dict(zip(header, rows[1], strict=True))
    assert header[:11] == ("occurred_at", "actor_email", "channel", "model_label", "status", "event_type", "prompt",
                           "answer", "input_tokens", "output_tokens", "error")  # fmt: skip
    assert chat["prompt"] == "'=cmd|' /C calc'!A0 会議の要約"  # text, never a formula
    assert chat["answer"] == JAPANESE + "bell"
    assert (chat["input_tokens"], chat["output_tokens"], chat["status"]) == (42, 7, "stopped")
    assert isinstance(chat["seq"], int)
    long = dict(zip(header, rows[2], strict=True))
    assert 32_000 < len(long["answer"]) <= 32_767  # Excel's limit, with room for a neutralising apostrophe
    assert long["answer"].endswith("the CSV and JSONL exports hold it whole]")
    # The signed manifest vouches for the file as a whole; rows are re-hashed from CSV or JSONL.
    check = verify_export(b"".join(streamed(client.get("/audit/export.zip", {"format": "xlsx"}))))
    assert check.problems == []
    assert any("XLSX" in note for note in check.notes)


def test_export_is_a_snapshot(tenant_a: Tenant) -> None:
    record(tenant_a, 3)
    stream = audit_export_prepare(tenant=tenant_a, format="jsonl", filters={})
    record(tenant_a, 2)  # arrives after the export was prepared (and audited with its row count)
    _, manifest = open_zip(b"".join(stream.chunks()))
    assert stream.total_rows == manifest["row_count"] == 3


def test_inline_export_is_audited(reviewer_a: User, tenant_a: Tenant) -> None:
    record(tenant_a, 4, event_type="llm.chat")
    client = signed_in(reviewer_a)
    response = client.get("/audit/export.zip", {"format": "csv", "event_type": "llm."})
    assert response.status_code == 200
    b"".join(streamed(response))
    outbox = AuditOutbox.objects.get(event_type="audit.export")
    assert outbox.tenant_id == tenant_a.pk
    assert outbox.actor_email == reviewer_a.email
    assert outbox.channel == "web"
    assert outbox.payload == {"format": "csv", "filters": {"event_type": "llm."}, "kind": "inline", "row_count": 4}
    audit_pending_sweep(older_than=timedelta(0))
    entry = AuditEntry.objects.get(event_type="audit.export")
    assert entry.chain == chain_for(tenant_a.pk)
    assert entry.payload["kind"] == "inline"


def test_asgi_download_streams_chunk_by_chunk(reviewer_a: User, tenant_a: Tenant) -> None:
    # Under ASGI Django buffers a sync iterator whole; the view must hand it an async one.
    bulk_entries(tenant_a, 3_000)
    client = AsyncClient(headers={"accept-language": "en"})
    client.force_login(reviewer_a, backend="tenants.backends.TenantModelBackend")

    async def fetch() -> tuple[Any, list[bytes]]:
        response: Any = await client.get("/audit/export.zip", {"format": "jsonl"})
        return response, [chunk async for chunk in response.streaming_content]

    response, chunks = async_to_sync(fetch)()
    assert response.status_code == 200
    assert response.is_async is True
    assert len(chunks) > 1
    _, manifest = open_zip(b"".join(chunks))
    assert manifest["row_count"] == 3_000


# --- Jobs ---------------------------------------------------------------------------------------------------------
def _job(tenant: Tenant, user: User, fmt: str = "csv", filters: dict[str, str] | None = None) -> AuditExport:
    stream = audit_export_prepare(tenant=tenant, format=fmt, filters=filters or {})
    return AuditExport.objects.create(
        tenant=tenant,
        requested_by=user,
        format=fmt,
        filters=filters or {},
        total_rows=stream.total_rows,
        manifest={"through_seq": stream.through_seq or 0},
    )


def test_progress_is_reported_every_1000_rows(tenant_a: Tenant) -> None:
    bulk_entries(tenant_a, 2_500)
    seen: list[int] = []
    stream = audit_export_prepare(tenant=tenant_a, format="csv", filters={})
    for _chunk in stream.chunks(on_progress=seen.append):
        pass
    assert seen == [1000, 2000]


def test_job_writes_the_zip(reviewer_a: User, tenant_a: Tenant, export_dir: Path) -> None:
    bulk_entries(tenant_a, 2_500)
    export = _job(tenant_a, reviewer_a, "jsonl")
    audit_export_run(export_id=export.pk)
    export.refresh_from_db()
    assert export.status == AuditExport.Status.DONE, export.error
    assert export.done_rows == export.total_rows == 2_500
    assert export.finished_at is not None
    path = export_dir / str(tenant_a.pk) / f"{export.pk}.zip"
    assert export.file_path == f"{tenant_a.pk}/{export.pk}.zip"
    assert path.is_file()
    assert path.stat().st_mode & 0o077 == 0  # owner-only: it holds the trail
    assert not list(path.parent.glob("*.part"))
    _, manifest = open_zip(path.read_bytes())
    assert manifest == export.manifest
    assert manifest["row_count"] == 2_500


def test_job_runs_once(reviewer_a: User, tenant_a: Tenant) -> None:
    record(tenant_a, 2)
    export = _job(tenant_a, reviewer_a)
    audit_export_run(export_id=export.pk)
    export.refresh_from_db()
    finished = export.finished_at
    audit_export_run(export_id=export.pk)  # a redelivered task
    audit_export_run(export_id=999_999)  # an unknown id
    export.refresh_from_db()
    assert export.status == AuditExport.Status.DONE
    assert export.finished_at == finished


def test_job_failure_is_recorded_on_the_job(
    reviewer_a: User, tenant_a: Tenant, export_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(tenant_a, 2)
    export = _job(tenant_a, reviewer_a)

    def broken(chunks: Iterable[bytes], path: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("audit.export.write_file", broken)
    audit_export_run(export_id=export.pk)
    export.refresh_from_db()
    assert export.status == AuditExport.Status.FAILED
    assert export.error == "OSError: disk full"
    assert export.finished_at is not None


def test_job_refuses_tampered_filters(reviewer_a: User, tenant_a: Tenant) -> None:
    export = _job(tenant_a, reviewer_a)
    AuditExport.objects.filter(pk=export.pk).update(filters={"date_from": "notadate"})
    audit_export_run(export_id=export.pk)
    export.refresh_from_db()
    assert export.status == AuditExport.Status.FAILED
    assert "invalid filters" in export.error


def test_job_broker_down_fails_the_job_not_the_request(
    reviewer_a: User, tenant_a: Tenant, broker_down: None, django_capture_on_commit_callbacks: Any
) -> None:
    record(tenant_a, 2)
    client = signed_in(reviewer_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/audit/exports/", {"format": "csv"})
    assert response.status_code == 302
    export = AuditExport.objects.get()
    assert export.status == AuditExport.Status.FAILED
    assert "could not be queued" in export.error


# --- Management command -------------------------------------------------------------------------------------------
def test_command_writes_a_valid_zip(tenant_a: Tenant, tenant_b: Tenant, tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    tokyo = ZoneInfo("Asia/Tokyo")
    record(tenant_a, 2, occurred_at=datetime(2026, 3, 31, 23, 0, tzinfo=tokyo), payload={"text": JAPANESE})
    record(tenant_a, 3, occurred_at=datetime(2026, 4, 1, 9, 0, tzinfo=tokyo), payload={"text": JAPANESE})
    record(tenant_b, 4, occurred_at=datetime(2026, 4, 1, 9, 0, tzinfo=tokyo))
    output = tmp_path / "alpha.zip"
    out = io.StringIO()
    call_command(
        "audit_export", "--tenant", "alpha", "--format", "csv", "--output", str(output), "--from", "2026-04-01",
        "--to", "2026-04-01", stdout=out,
    )  # fmt: skip
    assert "3 entries of alpha" in out.getvalue()
    archive, manifest = open_zip(output.read_bytes())
    assert manifest["row_count"] == 3
    assert manifest["filters"] == {"date_from": "2026-04-01", "date_to": "2026-04-01"}
    rows = list(csv.reader(io.StringIO(archive.read("audit.csv").decode("utf-8-sig"), newline="")))
    assert len(rows) == 4
    outbox = AuditOutbox.objects.get(event_type="audit.export")
    assert outbox.tenant_id == tenant_a.pk
    assert outbox.channel == "system"
    assert outbox.payload["kind"] == "command"
    assert outbox.payload["row_count"] == 3
    assert outbox.actor_email  # the OS user and host who ran it


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "nope"], "no tenant with slug 'nope'"),
        (["--tenant", "alpha", "--from", "2026-13-01"], "--from"),
        (["--tenant", "alpha", "--from", "2026-04-02", "--to", "2026-04-01"], "--to"),
        (["--tenant", "alpha", "--from", "0001-01-01"], "--from"),
    ],
)
def test_command_refuses_bad_input(tenant_a: Tenant, tmp_path: Path, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("audit_export", *args, "--output", str(tmp_path / "x.zip"))
    assert not (tmp_path / "x.zip").exists()
    assert not AuditOutbox.objects.filter(event_type="audit.export").exists()


def test_command_jsonl_and_missing_directory(tenant_a: Tenant, tmp_path: Path) -> None:
    record(tenant_a, 2)
    with pytest.raises(CommandError, match="does not exist"):
        call_command("audit_export", "--tenant", "alpha", "--output", str(tmp_path / "no" / "x.zip"))
    output = tmp_path / "a.zip"
    call_command(
        "audit_export", "--tenant", "alpha", "--format", "jsonl", "--output", str(output), stdout=io.StringIO()
    )
    archive, manifest = open_zip(output.read_bytes())
    assert archive.namelist() == ["audit.jsonl", "manifest.json"]
    assert manifest["row_count"] == 2


def test_inline_export_for_anonymous_redirects_to_sign_in(db: None) -> None:
    response = Client().get("/audit/export.zip", {"format": "csv"})
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_cleanup_deletes_expired_files_and_fails_lost_jobs(tenant_a: Tenant, user_a: User, tmp_path: Path) -> None:
    from django.test import override_settings
    from django.utils import timezone

    from audit.export import audit_export_cleanup

    with override_settings(AUDIT_EXPORT_DIR=tmp_path, AUDIT_EXPORT_TTL_DAYS=7):
        old_file = tmp_path / "old.zip"
        old_file.write_bytes(b"zip")
        fresh_file = tmp_path / "fresh.zip"
        fresh_file.write_bytes(b"zip")
        now = timezone.now()
        common = {"tenant": tenant_a, "requested_by": user_a, "format": "csv"}
        old = AuditExport.objects.create(
            **common, status="done", file_path="old.zip", finished_at=now - timedelta(days=8)
        )
        AuditExport.objects.create(**common, status="done", file_path="fresh.zip", finished_at=now - timedelta(days=1))
        lost = AuditExport.objects.create(**common, status="running")
        AuditExport.objects.filter(pk=lost.pk).update(created_at=now - timedelta(hours=4))
        assert audit_export_cleanup(now=now) == 1
        assert not old_file.exists()
        assert fresh_file.exists()
        old.refresh_from_db()
        assert old.file_path == ""
        lost.refresh_from_db()
        assert lost.status == "failed"


# --- Offline re-verification (audit.offline) ------------------------------------------------------------------
def _rezip(data: bytes, replace: dict[str, bytes]) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            target.writestr(name, replace.get(name, source.read(name)))
    return out.getvalue()


def _export(client: Client, fmt: str) -> bytes:
    response = client.get("/audit/export.zip", {"format": fmt})
    assert response.status_code == 200
    return b"".join(streamed(response))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_re_verifies_offline_and_carries_the_chains_verification(
    fmt: str, reviewer_a: User, tenant_a: Tenant, tenant_b: Tenant, tmp_path: Path
) -> None:
    bulk_entries(tenant_a, 250)  # rows 0 and 1 carry formula prefixes in every text column
    record(tenant_a, 2, payload={"text": JAPANESE, "quote": "'already quoted"}, actor_email="'x@alpha.example")
    bulk_entries(tenant_b, 3)
    data = _export(signed_in(reviewer_a), fmt)
    _, manifest = open_zip(data)
    assert manifest["chain"] == chain_for(tenant_a.pk)
    assert manifest["tenant_id"] == tenant_a.pk
    assert manifest["verification"]["ok"] is True
    assert manifest["verification"]["checked"] == 252
    assert manifest["public_key"] == digest_public_key()
    check = verify_export(data, public_key=digest_public_key(), check_seals=True)
    assert check.problems == []
    assert check.rows == 252
    # The verification is recorded, and shows on the reviewer pages as "last verified".
    assert AuditOutbox.objects.filter(event_type="audit.verify", tenant_id=tenant_a.pk, status="ok").exists()

    out = io.StringIO()
    path = tmp_path / "export.zip"
    path.write_bytes(data)
    call_command("audit_verify_export", str(path), "--public-key", digest_public_key(), stdout=out)
    assert "OK: 252 rows verified" in out.getvalue()


def test_tampered_exports_are_named_offline(reviewer_a: User, tenant_a: Tenant, tmp_path: Path) -> None:
    bulk_entries(tenant_a, 20)
    data = _export(signed_in(reviewer_a), "csv")
    archive, manifest = open_zip(data)
    text = archive.read("audit.csv").decode("utf-8-sig")
    edited = ("\ufeff" + text.replace("user3@alpha.example", "user9@alpha.example", 1)).encode()

    # 1. A cell edited: the file no longer matches its manifest.
    check = verify_export(_rezip(data, {"audit.csv": edited}))
    assert "audit.csv does not match the SHA-256 and size in the manifest (altered)" in check.problems
    assert any("its content does not match its entry hash (edited)" in p for p in check.problems)

    # 2. The manifest's file hash fixed to match: its signature breaks.
    forged = {**manifest, "files": {"audit.csv": {"sha256": hashlib.sha256(edited).hexdigest(), "bytes": len(edited)}}}
    check = verify_export(_rezip(data, {"audit.csv": edited, "manifest.json": json.dumps(forged).encode()}))
    assert any("signature does not verify" in p for p in check.problems)

    # 3. Re-signed with the forger's own key: it verifies only against itself, not against the published key.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    forger = Ed25519PrivateKey.generate()
    body = {k: v for k, v in forged.items() if k != "signature"}
    body["public_key"] = base64.b64encode(forger.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    body["signature"] = base64.b64encode(forger.sign(canonical_json(body))).decode()
    resigned = _rezip(data, {"audit.csv": edited, "manifest.json": json.dumps(body).encode()})
    assert any(
        "signature does not verify" in p for p in verify_export(resigned, public_key=digest_public_key()).problems
    )

    # 4. A row dropped from the middle: its successor no longer links, and the count is wrong.
    lines = text.split("\r\n")
    dropped = ("\ufeff" + "\r\n".join(lines[:5] + lines[6:])).encode()
    check = verify_export(_rezip(data, {"audit.csv": dropped}))
    assert "20 rows" not in " ".join(check.problems)
    assert "19 rows, but the manifest says 20" in check.problems

    path = tmp_path / "forged.zip"
    path.write_bytes(resigned)
    with pytest.raises(CommandError, match="does not verify"):
        call_command("audit_verify_export", str(path), "--public-key", digest_public_key(), stdout=io.StringIO())
    assert verify_export(b"not a zip").problems == ["not an audit export: no readable manifest.json in a ZIP file"]
