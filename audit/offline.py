"""Re-verify an exported ZIP without the database: what a reviewer or an outside auditor runs on the file they were
given (``manage.py audit_verify_export``).

Checks, in order: the manifest's Ed25519 signature (against the published public key, if given), each file's SHA-256
and size, every row's entry hash recomputed from its own columns, the link of each row to the row before it where
seqs are consecutive, that the rows are the manifest's (count, first/last seq, last hash, chain), and the chain's
verification recorded at export time. With ``check_seals`` (run where AUDIT_HMAC_KEYS is configured) the keyed seals
are checked too.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from audit.hashing import document_signature_ok, entry_hash, seal_check

INT_COLUMNS = ("seq", "tenant_id", "actor_id")


@dataclass
class ExportCheck:
    rows: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _csv_rows(data: bytes) -> Iterator[dict[str, Any]]:
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    header = next(reader, [])
    for cells in reader:
        # The exporter prefixed every cell starting with a formula character or an apostrophe with one apostrophe.
        row: dict[str, Any] = {
            name: cell[1:] if cell.startswith("'") else cell for name, cell in zip(header, cells, strict=True)
        }
        for name in INT_COLUMNS:
            row[name] = int(row[name]) if row.get(name) not in (None, "") else None
        row["payload"] = json.loads(row["payload"])
        yield row


def _jsonl_rows(data: bytes) -> Iterator[dict[str, Any]]:
    for line in data.decode().splitlines():
        if line.strip():
            yield json.loads(line)


def verify_export(data: bytes, *, public_key: str | None = None, check_seals: bool = False) -> ExportCheck:
    result = ExportCheck()
    problems = result.problems
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        manifest = json.loads(archive.read("manifest.json"))
    except (zipfile.BadZipFile, KeyError, ValueError):
        problems.append("not an audit export: no readable manifest.json in a ZIP file")
        return result
    result.manifest = manifest
    if not document_signature_ok(manifest, public_key=public_key):
        problems.append("the manifest's signature does not verify (the manifest was altered, or signed by another key)")
    elif public_key is None:
        result.notes.append(
            f"signed by public key {manifest.get('public_key')}: compare it with the key your operator published "
            "(manage.py audit_keys)"
        )
    files = manifest.get("files") or {}
    for name, info in files.items():
        try:
            content = archive.read(name)
        except KeyError:
            problems.append(f"{name} is listed in the manifest but missing from the ZIP")
            continue
        if hashlib.sha256(content).hexdigest() != info.get("sha256") or len(content) != info.get("bytes"):
            problems.append(f"{name} does not match the SHA-256 and size in the manifest (altered)")
    data_name = f"audit.{manifest.get('format')}"
    if data_name not in files or data_name not in archive.namelist():
        problems.append("the export holds no data file the manifest vouches for")
        return result
    if manifest["format"] == "xlsx":
        # A spreadsheet cell holds at most 32,767 characters, so rows cannot be re-hashed from it: the signed
        # manifest vouches for the file as a whole (checked above). Re-hash rows from a CSV or JSONL export.
        result.rows = int(manifest.get("row_count") or 0)
        result.notes.append("an XLSX export is checked as a whole file; export CSV or JSONL to re-hash each row")
        return result
    parse = _csv_rows if manifest["format"] == "csv" else _jsonl_rows
    prev: dict[str, Any] | None = None
    first_seq = None
    try:
        for row in parse(archive.read(data_name)):
            result.rows += 1
            seq = row["seq"]
            first_seq = seq if first_seq is None else first_seq
            if row.get("chain") != manifest.get("chain"):
                problems.append(f"row seq {seq} belongs to chain {row.get('chain')!r}, not the exported one")
            if entry_hash(row) != row["entry_hash"]:
                problems.append(f"row seq {seq}: its content does not match its entry hash (edited)")
            if check_seals and not seal_check(entry_hash=row["entry_hash"], key_id=row["key_id"], mac=row["mac"]):
                problems.append(f"row seq {seq}: its keyed seal does not match (re-hashed, or an unknown key)")
            if prev is not None and seq <= prev["seq"]:
                problems.append(f"row seq {seq} comes after seq {prev['seq']} (rows reordered)")
            elif prev is not None and seq == prev["seq"] + 1 and row["prev_hash"] != prev["entry_hash"]:
                problems.append(f"row seq {seq} does not link to row seq {prev['seq']} (replaced)")
            prev = row
            if len(problems) >= 20:
                problems.append("stopped after 20 problems")
                return result
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(f"{data_name} cannot be read as an export ({type(exc).__name__}: {exc})")
        return result
    if result.rows != manifest.get("row_count"):
        problems.append(f"{result.rows} rows, but the manifest says {manifest.get('row_count')}")
    if prev is not None and (
        first_seq != manifest.get("first_seq")
        or prev["seq"] != manifest.get("last_seq")
        or prev["entry_hash"] != manifest.get("last_entry_hash")
    ):
        problems.append("the first/last rows are not the ones the manifest names")
    verification = manifest.get("verification") or {}
    if not verification.get("ok"):
        found = "; ".join(verification.get("problems") or ["not verified"])
        problems.append(f"the chain was not whole when this was exported: {found}")
    elif verification.get("vouched_seq"):
        vouched = verification["vouched_seq"]
        result.notes.append(f"the chain verified whole at export; a signed digest vouched for it up to seq {vouched}")
    return result
