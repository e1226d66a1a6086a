"""Canonical form and hashes of audit entries. Pure functions: the writer and the verifier share them."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.conf import settings

GENESIS = "0" * 64
HASHED_FIELDS = (
    "chain",
    "seq",
    "event_id",
    "tenant_id",
    "event_type",
    "occurred_at",
    "recorded_at",
    "actor_id",
    "actor_email",
    "channel",
    "model_label",
    "status",
    "payload",
    "prev_hash",
)


def _default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    return str(value)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, datetimes as ISO 8601 with microseconds: one byte string per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default).encode()


def entry_body(fields: Mapping[str, Any]) -> dict[str, Any]:
    body = {name: fields[name] for name in HASHED_FIELDS}
    body["event_id"] = str(body["event_id"])
    for name in ("occurred_at", "recorded_at"):
        value = body[name]
        body[name] = _default(value) if isinstance(value, datetime) else value
    return body


def entry_hash(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(entry_body(fields))).hexdigest()


def _signing_key() -> bytes:
    key = getattr(settings, "AUDIT_SIGNING_KEY", "") or settings.SECRET_KEY
    return hashlib.sha256(b"officeai-audit-checkpoint:" + key.encode()).digest()


def checkpoint_signature(*, chain: str, seq: int, entry_hash: str, deleted_count: int, created_at: datetime) -> str:
    message = canonical_json(
        {"chain": chain, "seq": seq, "entry_hash": entry_hash, "deleted_count": deleted_count, "created_at": created_at}
    )
    return hmac.new(_signing_key(), message, hashlib.sha256).hexdigest()


def fingerprint(secret: str) -> str:
    """What the trail shows of a secret: enough to tell two keys apart, nothing to use."""
    if not secret:
        return ""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:12]
