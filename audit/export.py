"""Export of a tenant's audit trail for compliance: one ZIP generator for the inline download, the Celery job
and the ``audit_export`` command.

The ZIP is written to an unseekable sink (``zipfile`` then uses data descriptors), drained after every chunk of
rows, so memory stays constant however many rows there are. Contents: ``audit.csv`` or ``audit.jsonl``, then
``manifest.json`` (filters, row count, first/last seq, last entry hash, SHA-256 and size of the data file, the
chain's verification at export time), signed with the digest key so a reviewer can check the whole file offline
(``audit.offline``, ``manage.py audit_verify_export``).

An export is a snapshot: rows are pinned to ``seq <= through_seq`` when it is prepared, so the row count that is
audited is the row count that is written even while new entries arrive. Every export records ``audit.export``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from audit.forms import filters_from_json
from audit.hashing import HASHED_FIELDS, canonical_json, document_sign
from audit.models import AuditExport, Channel, chain_for
from audit.selectors import audit_entry_list
from audit.services import audit_chain_verify, audit_job_claim, audit_record, audit_verify_record
from ops import queue
from tenants.models import Tenant, User

logger = logging.getLogger("officeai.audit")

FORMATS = ("csv", "jsonl", "xlsx")
# Every field of an entry, in CSV and JSONL alike: each row can be re-hashed (audit.hashing.entry_hash) and linked to
# the one before it without the database; key_id and mac let an operator holding the key re-check the seals.
FIELDS = (*HASHED_FIELDS, "entry_hash", "key_id", "mac")
# Read first (time, person, channel, model, status, what was asked and answered, tokens), then what proves it
# (seq, hashes, seal) and, last, the whole payload for re-hashing. The read columns come from the payload and are
# not part of the hash.
READ_COLUMNS = ("prompt", "answer", "input_tokens", "output_tokens", "error")
CSV_COLUMNS = (
    "occurred_at",
    "actor_email",
    "channel",
    "model_label",
    "status",
    "event_type",
    *READ_COLUMNS,
    "seq",
    "recorded_at",
    "event_id",
    "chain",
    "tenant_id",
    "actor_id",
    "prev_hash",
    "entry_hash",
    "key_id",
    "mac",
    "payload",
)
# Spreadsheet formula triggers (OWASP CSV injection): such a cell gets a leading apostrophe. A cell that already
# starts with one gets another, so that stripping exactly one restores every value (audit.offline).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
ESCAPED_PREFIXES = (*FORMULA_PREFIXES, "'")
# A chunk is drained after this many rows, or sooner once this much text is buffered (llm.chat rows carry whole
# prompts and answers, so rows vary from 0.5 kB to megabytes).
ROWS_PER_CHUNK = 500
CHUNK_CHARS = 1 << 20
PROGRESS_EVERY = 1000  # rows between progress updates of a job
DB_CHUNK_SIZE = 2000


def neutralise(cell: str) -> str:
    return "'" + cell if cell.startswith(ESCAPED_PREFIXES) else cell


def _iso(value: datetime) -> str:
    # The same form audit.hashing hashes, so exported rows can be re-verified.
    return value.isoformat(timespec="microseconds")


def _json_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["event_id"] = str(row["event_id"])
    out["occurred_at"] = _iso(row["occurred_at"])
    out["recorded_at"] = _iso(row["recorded_at"])
    return out


def _text_of(content: Any) -> str:
    """A chat message's text: a string, or the text parts of a content-part list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _of_type(value: Any, kind: type) -> Any:
    return value if isinstance(value, kind) else kind()


def read_columns(payload: Any) -> dict[str, Any]:
    """What a person reads of an ``llm.chat`` entry: the last question, the answer, the tokens, the error."""
    if not isinstance(payload, dict):
        return dict.fromkeys(READ_COLUMNS, "")
    messages = _of_type(payload.get("prompt_messages"), list)
    questions = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    usage = _of_type(payload.get("usage"), dict)
    error = _of_type(payload.get("error"), dict)
    return {
        "prompt": _text_of(questions[-1].get("content")) if questions else "",
        "answer": payload.get("response_text", "") if isinstance(payload.get("response_text"), str) else "",
        "input_tokens": usage.get("prompt_tokens", ""),
        "output_tokens": usage.get("completion_tokens", ""),
        "error": error.get("code") or error.get("kind") or "",
    }


def _csv_cells(row: Mapping[str, Any]) -> list[str]:
    values = {**_json_row(row), **read_columns(row["payload"])}
    values["payload"] = canonical_json(row["payload"]).decode()
    return [neutralise("" if values[name] is None else str(values[name])) for name in CSV_COLUMNS]


XLSX_CELL_MAX = 32_767  # Excel's limit on one cell
XLSX_NUMBERS = ("seq", "tenant_id", "actor_id", "input_tokens", "output_tokens")


def _xlsx_cells(row: Mapping[str, Any]) -> list[Any]:
    """The CSV's columns for Excel: numbers as numbers, text neutralised as in the CSV, characters XML cannot hold
    dropped, and a cell over Excel's limit cut with a note (the CSV and JSONL keep every character)."""
    values = {**_json_row(row), **read_columns(row["payload"])}
    values["payload"] = canonical_json(row["payload"]).decode()
    cells: list[Any] = []
    for name in CSV_COLUMNS:
        value = values[name]
        if name in XLSX_NUMBERS and isinstance(value, int) and not isinstance(value, bool):
            cells.append(value)
            continue
        text = ILLEGAL_CHARACTERS_RE.sub("", "" if value is None else str(value))
        if len(text) > XLSX_CELL_MAX:
            note = f" … [{len(text):,} characters; the CSV and JSONL exports hold it whole]"
            text = text[: XLSX_CELL_MAX - len(note) - 1] + note
        cells.append(neutralise(text))
    return cells


class _XlsxRows:
    """A write-only workbook (openpyxl keeps each row on disk as it is appended, so memory stays flat however many
    rows), read back in blocks once saved: an .xlsx is a ZIP that can only be finished at the end."""

    def __init__(self) -> None:
        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet("audit")
        self.sheet.append(list(CSV_COLUMNS))

    def append(self, row: Mapping[str, Any]) -> None:
        self.sheet.append(_xlsx_cells(row))

    def blocks(self) -> Generator[bytes, None, None]:
        with tempfile.TemporaryFile() as out:
            self.book.save(out)
            out.seek(0)
            while block := out.read(CHUNK_CHARS):
                yield block


# Files of model calls (attachments, an app above this one, registers the source at start-up): given the tenant and
# the SHA-256s the exported rows name, yields ``("files/<sha256>/<name>", bytes)`` for those still stored.
FileSource = Callable[[int, list[str]], Iterable[tuple[str, bytes]]]


def _no_files(tenant_id: int, hashes: list[str]) -> Iterable[tuple[str, bytes]]:
    return []


_file_source: FileSource = _no_files


def use_file_source(source: FileSource) -> None:
    global _file_source
    _file_source = source


def _attachment_hashes(payload: Any) -> list[str]:
    attachments = payload.get("attachments") if isinstance(payload, dict) else None
    if not isinstance(attachments, list):
        return []
    return [a["sha256"] for a in attachments if isinstance(a, dict) and isinstance(a.get("sha256"), str)]


def _jsonl_line(row: Mapping[str, Any]) -> str:
    line = json.dumps(_json_row(row), ensure_ascii=False, separators=(",", ":"))
    # Valid JSON, but str.splitlines() and some editors break lines there.
    return line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n"


class _Sink:
    """A write-only, unseekable file for ZipFile; the generator takes out what was written after each chunk."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def _member(name: str) -> zipfile.ZipInfo:
    # ZipInfo defaults to 1980-01-01; ZIP timestamps are local wall-clock time (settings.TIME_ZONE).
    info = zipfile.ZipInfo(name, date_time=timezone.localtime().timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16  # extracted files stay owner-only
    return info


@dataclass
class AuditExportStream:
    """A prepared export: what to write (tenant, format, filters, snapshot bound) and, once written, the manifest."""

    tenant: Tenant
    format: str
    filters: dict[str, str]
    through_seq: int | None
    total_rows: int
    include_files: bool = False  # the files attached to the exported model calls, under files/ (see FileSource)
    manifest: dict[str, Any] | None = field(default=None, init=False)

    @property
    def data_name(self) -> str:
        return f"audit.{self.format}"

    def rows(self) -> Iterable[dict[str, Any]]:
        if self.through_seq is None:  # nothing matched when prepared
            return []
        qs = audit_entry_list(tenant=self.tenant, filters=self.filters).filter(seq__lte=self.through_seq)
        return qs.order_by("seq").values(*FIELDS).iterator(chunk_size=DB_CHUNK_SIZE)

    def verification(self) -> dict[str, Any]:
        """The whole chain verified as the export closes (recorded as ``audit.verify``, kind ``export``): the
        manifest says whether the trail these rows come from was whole, and up to which seq a signed digest
        vouches for it."""
        report = audit_chain_verify(chain=chain_for(self.tenant.pk))
        audit_verify_record(reports=[report], kind="export")
        return {"verified_at": timezone.now().isoformat(), **report.as_json()}

    def chunks(self, on_progress: Callable[[int], None] | None = None) -> Generator[bytes, None, None]:
        """The ZIP file, chunk by chunk. ``on_progress(rows_done)`` is called every PROGRESS_EVERY rows."""
        sink = _Sink()
        archive = zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED)
        digest, size, count = hashlib.sha256(), 0, 0
        first_seq: int | None = None
        last_seq: int | None = None
        last_hash = ""
        attached: dict[str, None] = {}  # sha256 of each file sent with an exported model call, in order
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        # Size unknown in advance and possibly over 2 GiB: ZIP64 from the start.
        with archive.open(_member(self.data_name), mode="w", force_zip64=True) as member:

            def put() -> None:
                nonlocal size
                data = text.getvalue().encode()
                text.seek(0)
                text.truncate()
                member.write(data)
                digest.update(data)
                size += len(data)

            workbook = _XlsxRows() if self.format == "xlsx" else None
            if self.format == "csv":
                text.write("\ufeff")  # BOM: Excel then reads UTF-8 (Japanese) correctly
                writer.writerow(CSV_COLUMNS)
            for row in self.rows():
                if workbook is not None:
                    workbook.append(row)
                elif self.format == "csv":
                    writer.writerow(_csv_cells(row))
                else:
                    text.write(_jsonl_line(row))
                count += 1
                if self.include_files:
                    attached.update(dict.fromkeys(_attachment_hashes(row["payload"])))
                first_seq = row["seq"] if first_seq is None else first_seq
                last_seq, last_hash = row["seq"], row["entry_hash"]
                if count % ROWS_PER_CHUNK == 0 or text.tell() >= CHUNK_CHARS:
                    put()
                    if chunk := sink.drain():
                        yield chunk
                if on_progress is not None and count % PROGRESS_EVERY == 0:
                    on_progress(count)
            put()
            if workbook is not None:
                for block in workbook.blocks():
                    member.write(block)
                    digest.update(block)
                    size += len(block)
                    if chunk := sink.drain():
                        yield chunk
        files_info = {self.data_name: {"sha256": digest.hexdigest(), "bytes": size}}
        attached_files: dict[str, str] = {}
        if self.include_files:
            for name, data in _file_source(self.tenant.pk, list(attached)):
                archive.writestr(_member(name), data)
                files_info[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
                attached_files[name.split("/")[1]] = name
                if chunk := sink.drain():
                    yield chunk
        self.manifest = document_sign(
            {
                "version": 2,
                "tenant": self.tenant.slug,
                "tenant_id": self.tenant.pk,
                "chain": chain_for(self.tenant.pk),
                "format": self.format,
                "filters": self.filters,
                "row_count": count,
                "first_seq": first_seq,
                "last_seq": last_seq,
                "last_entry_hash": last_hash,
                "generated_at": timezone.now().isoformat(),
                "files": files_info,
                **(
                    {
                        "attached_files": attached_files,  # sha256 -> its member; absent: deleted since (retention)
                        "attached_files_missing": [sha for sha in attached if sha not in attached_files],
                    }
                    if self.include_files
                    else {}
                ),
                "verification": self.verification(),
            }
        )
        # Last, so that it describes the file already written.
        archive.writestr(_member("manifest.json"), json.dumps(self.manifest, ensure_ascii=False, indent=2) + "\n")
        archive.close()
        yield sink.drain()


def audit_export_prepare(
    *,
    tenant: Tenant,
    format: str,
    filters: Mapping[str, str],
    through_seq: int | None = None,
    include_files: bool = False,
) -> AuditExportStream:
    """Count the rows and pin the snapshot (``seq <= through_seq``). ``filters`` are validated, JSON-safe ones."""
    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}")
    qs = audit_entry_list(tenant=tenant, filters=filters)
    if through_seq is not None:
        qs = qs.filter(seq__lte=through_seq)
    # One statement: the count and the bound describe the same rows.
    agg = qs.order_by().aggregate(n=Count("pk"), last=Max("seq"))
    return AuditExportStream(
        tenant=tenant,
        format=format,
        filters=dict(filters),
        through_seq=agg["last"],
        total_rows=agg["n"],
        include_files=include_files,
    )


def audit_export_record(
    *,
    stream: AuditExportStream,
    kind: str,
    actor: User | None = None,
    actor_email: str = "",
    channel: str = Channel.WEB,
    export_id: int | None = None,
) -> None:
    """``audit.export`` on the exported tenant's chain (an operator's export shows up in that tenant's trail)."""
    payload: dict[str, Any] = {"format": stream.format, "filters": stream.filters, "kind": kind}
    payload["row_count"] = stream.total_rows
    if export_id is not None:
        payload["export_id"] = export_id
    with transaction.atomic():
        audit_record(
            event_type="audit.export",
            tenant=stream.tenant,
            actor=actor,
            actor_email=actor_email,
            channel=channel,
            payload=payload,
        )


def write_file(chunks: Iterable[bytes], path: Path) -> None:
    """Write next to ``path`` and rename: nobody ever downloads half a file. Owner-only: it holds the trail."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


async def async_chunks(chunks: Generator[bytes, None, None]) -> AsyncIterator[bytes]:
    """Serve a sync generator over ASGI one chunk at a time. Django would otherwise buffer a sync iterator whole
    (``StreamingHttpResponse.__aiter__``). Thread-sensitive: the DB cursor stays on the request's thread."""

    def step() -> bytes | None:
        return next(chunks, None)

    try:
        while (chunk := await sync_to_async(step, thread_sensitive=True)()) is not None:
            yield chunk
    finally:
        await sync_to_async(chunks.close, thread_sensitive=True)()


# --- Jobs ---------------------------------------------------------------------------------------------------------
def export_file_path(export: AuditExport) -> Path:
    return Path(settings.AUDIT_EXPORT_DIR) / export.file_path


# Looked up by name: audit.tasks imports this module, so this module does not import it back.
EXPORT_TASK = "audit.tasks.audit_export_task"


def _not_queued(export_id: int) -> None:
    # A broker that is down must not leave the job waiting forever: the reviewer sees it failed and can retry.
    AuditExport.objects.filter(pk=export_id, status=AuditExport.Status.PENDING).update(
        status=AuditExport.Status.FAILED,
        error="could not be queued (broker unavailable)",
        finished_at=timezone.now(),
    )


@transaction.atomic
def audit_export_create(
    *, tenant: Tenant, requested_by: User, format: str, filters: Mapping[str, str], include_files: bool = False
) -> AuditExport:
    """A large export as a Celery job; recorded as ``audit.export`` (kind ``job``) in the same transaction."""
    stream = audit_export_prepare(tenant=tenant, format=format, filters=filters, include_files=include_files)
    export = AuditExport.objects.create(
        tenant=tenant,
        requested_by=requested_by,
        format=format,
        include_files=include_files,
        filters=stream.filters,
        total_rows=stream.total_rows,
        # Until the job is done, the manifest holds only the snapshot bound it must export up to.
        manifest={"through_seq": stream.through_seq or 0},
    )
    audit_export_record(stream=stream, kind="job", actor=requested_by, export_id=export.pk)
    queue.enqueue_on_commit(EXPORT_TASK, export.pk, on_failure=lambda exc: _not_queued(export.pk))
    return export


def audit_export_run(*, export_id: int) -> None:
    """The job's body: write ``AUDIT_EXPORT_DIR/<tenant_id>/<export_id>.zip``. Only a pending job runs, so a
    redelivered task does nothing."""
    export = audit_job_claim(AuditExport, export_id)
    if export is None:
        return
    jobs = AuditExport.objects.filter(pk=export_id)
    relative = Path(str(export.tenant_id)) / f"{export.pk}.zip"
    try:
        filters_from_json(export.filters)  # stored by the view after validation; refuse anything else
        stream = audit_export_prepare(
            tenant=export.tenant,
            format=export.format,
            filters=export.filters,
            through_seq=export.manifest.get("through_seq"),
            include_files=export.include_files,
        )
        jobs.update(total_rows=stream.total_rows)

        def progress(done: int) -> None:
            jobs.update(done_rows=done)

        write_file(
            stream.chunks(on_progress=progress),
            Path(settings.AUDIT_EXPORT_DIR) / relative,
        )
    except Exception as exc:
        logger.exception("audit export id=%s failed", export_id)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        jobs.update(status=AuditExport.Status.FAILED, error=error, finished_at=timezone.now())
        return
    assert stream.manifest is not None  # set by the generator once it has run to the end
    rows = stream.manifest["row_count"]
    jobs.update(
        status=AuditExport.Status.DONE,
        total_rows=rows,
        done_rows=rows,
        file_path=str(relative),
        manifest=stream.manifest,
        finished_at=timezone.now(),
    )


def audit_export_cleanup(*, now: datetime | None = None) -> int:
    """Delete export files older than ``AUDIT_EXPORT_TTL_DAYS`` (the trail stays; files are copies) and fail jobs
    left running past the task's hard time limit (a crashed worker). Returns how many files were deleted."""
    now = now or timezone.now()
    expired = AuditExport.objects.filter(
        status=AuditExport.Status.DONE, finished_at__lt=now - timedelta(days=settings.AUDIT_EXPORT_TTL_DAYS)
    ).exclude(file_path="")
    deleted = 0
    for export in expired:
        export_file_path(export).unlink(missing_ok=True)
        export.file_path = ""
        export.error = "expired"
        export.save(update_fields=["file_path", "error"])
        deleted += 1
    AuditExport.objects.filter(status=AuditExport.Status.RUNNING, created_at__lt=now - timedelta(hours=3)).update(
        status=AuditExport.Status.FAILED, error="the export job stopped (worker lost)", finished_at=now
    )
    return deleted
