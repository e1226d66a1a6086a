"""Signed digests of the chain heads, kept outside the database (in the style of CloudTrail digest files).

A digest says "chain X had N entries, the last with hash H, at time T", links to the chain's previous digest and is
signed with Ed25519 (``AUDIT_DIGEST_KEY``, never in the database). One is written for every chain whose head moved:
by beat every ``AUDIT_DIGEST_INTERVAL`` seconds, after every clean ``audit_verify`` and with every export. Files go
to the ``audit_digests`` storage (a directory by default; production points it at write-once storage).

The verifier holds the chain against every digest: a tail cut off with the head rolled back, or an entry edited with
everything after it re-hashed, no longer matches what was signed. Only what was chained after the newest digest is
not yet vouched for (docs/audit.md, "Threat model").
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.utils import timezone

from audit.hashing import digest_public_key, document_sign, document_signature_ok
from audit.models import AuditChainHead, AuditEntry

logger = logging.getLogger("officeai.audit")

VERSION = 1


@dataclass(frozen=True)
class Digest:
    name: str  # path inside the storage
    body: dict[str, Any]
    sha256: str  # of the file's bytes: the next digest links to it

    @property
    def seq(self) -> int:
        return int(self.body["seq"])

    @property
    def entry_hash(self) -> str:
        return str(self.body["entry_hash"])

    @property
    def created_at(self) -> str:
        return str(self.body["created_at"])


def _storage() -> Storage:
    return storages["audit_digests"]


def _folder(chain: str) -> str:
    return chain.replace(":", "-")


def _seq_of(filename: str) -> int:
    # <UTC time>-<seq>.json: names sort by time, and the seq is readable without opening the file.
    try:
        return int(filename.rsplit("-", 1)[1].removesuffix(".json"))
    except (IndexError, ValueError):
        return -1


def _names(chain: str) -> list[str]:
    try:
        _, files = _storage().listdir(_folder(chain))
    except FileNotFoundError:
        return []
    return sorted(f for f in files if f.endswith(".json"))


def _read(chain: str, filename: str) -> Digest:
    name = f"{_folder(chain)}/{filename}"
    with _storage().open(name, "rb") as fh:
        data = fh.read()
    try:
        body = json.loads(data)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return Digest(name=name, body=body, sha256=hashlib.sha256(data).hexdigest())


def latest_digest(chain: str) -> Digest | None:
    names = _names(chain)
    return _read(chain, names[-1]) if names else None


def audit_digest_write(*, chain: str) -> Digest | None:
    """Sign the chain's current head, unless it has not moved since the last digest. Refuses (and logs) a head
    whose entry is missing or differs: a broken chain is never signed as if it were whole."""
    head = AuditChainHead.objects.filter(chain=chain).first()
    if head is None or head.last_seq == 0:
        return None
    previous = latest_digest(chain)
    if previous is not None and previous.seq == head.last_seq and previous.entry_hash == head.last_hash:
        return None
    entry = AuditEntry.objects.filter(chain=chain, seq=head.last_seq).values_list("entry_hash", flat=True).first()
    if entry != head.last_hash:
        logger.error("audit chain %s: head seq %s does not match its entry; no digest written", chain, head.last_seq)
        return None
    now = timezone.now()
    body = document_sign(
        {
            "version": VERSION,
            "chain": chain,
            "seq": head.last_seq,
            "entry_hash": head.last_hash,
            "created_at": now.isoformat(timespec="microseconds"),
            "previous": {"name": previous.name, "sha256": previous.sha256} if previous is not None else None,
        }
    )
    data = (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()
    name = _storage().save(f"{_folder(chain)}/{now:%Y%m%dT%H%M%S%f}Z-{head.last_seq:012d}.json", ContentFile(data))
    return Digest(name=name, body=body, sha256=hashlib.sha256(data).hexdigest())


def audit_digests_write_all() -> int:
    """A digest for every chain whose head moved (beat task). Returns how many were written."""
    written = 0
    for chain in AuditChainHead.objects.order_by("chain").values_list("chain", flat=True):
        if audit_digest_write(chain=chain) is not None:
            written += 1
    return written


def trusted_public_keys() -> set[str]:
    # The current key, plus retired ones whose digests must still verify after a rotation.
    return {digest_public_key(), *getattr(settings, "AUDIT_DIGEST_RETIRED_PUBLIC_KEYS", [])}


@dataclass(frozen=True)
class DigestView:
    """What the digests of a chain vouch for, from seq ``after`` on."""

    vouched: dict[int, Digest]  # seq -> newest valid digest of that seq
    newest: Digest | None  # the valid digest with the highest seq
    problems: list[str]


def audit_digests_check(*, chain: str, after: int = 0) -> DigestView:
    """Read the chain's digests for seq > ``after`` (older ones cover entries retention deleted), check each
    signature and the links between consecutive files."""
    keys = trusted_public_keys()
    problems: list[str] = []
    vouched: dict[int, Digest] = {}
    newest: Digest | None = None
    before: Digest | None = None
    for filename in _names(chain):
        if _seq_of(filename) <= after:
            continue
        digest = _read(chain, filename)
        body = digest.body
        key = body.get("public_key")
        if key not in keys or not document_signature_ok(body, public_key=str(key)) or body.get("chain") != chain:
            problems.append(f"digest {digest.name} has a bad signature (forged or altered)")
            before = None
            continue
        if before is not None and body.get("previous") != {"name": before.name, "sha256": before.sha256}:
            problems.append(f"digest {digest.name} does not link to {before.name} (a digest was removed or replaced)")
        vouched[digest.seq] = digest
        if newest is None or digest.seq >= newest.seq:
            newest = digest
        before = digest
    return DigestView(vouched=vouched, newest=newest, problems=problems)
