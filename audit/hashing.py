"""Canonical form, hashes and keyed seals of audit entries. Pure functions: the writer, the verifier and the offline
export checker share them.

Two layers (docs/audit.md, "Threat model"):

- ``entry_hash``: plain SHA-256 over the canonical entry and the previous entry's hash. Anyone can recompute it,
  so an exported file can be re-verified without a secret.
- ``entry_mac``: HMAC-SHA256 of the entry hash with a key the database does not hold (``AUDIT_HMAC_KEYS``). Someone
  who can write to the database can re-hash an edited chain; without the key they cannot re-seal it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

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


KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
MIN_KEY_CHARS = 32


@functools.cache
def _parse_hmac_keys(spec: tuple[str, ...], secret_key: str) -> tuple[tuple[str, bytes], ...]:
    if not spec:
        # Embedded and test modes: a key derived from SECRET_KEY, which lives in the environment, not the database.
        return (("sk", hashlib.sha256(b"officeai-audit-entry-mac:" + secret_key.encode()).digest()),)
    keys: list[tuple[str, bytes]] = []
    for item in spec:
        key_id, sep, secret = item.partition(":")
        if not sep or not KEY_ID.match(key_id) or len(secret) < MIN_KEY_CHARS:
            raise ImproperlyConfigured(
                "AUDIT_HMAC_KEYS must be comma-separated <id>:<secret> pairs (id: 1-16 of A-Z a-z 0-9 _ -; "
                f"secret: at least {MIN_KEY_CHARS} characters), newest first"
            )
        if any(key_id == known for known, _ in keys):
            raise ImproperlyConfigured(f"AUDIT_HMAC_KEYS names the key id {key_id!r} twice")
        keys.append((key_id, secret.encode()))
    return tuple(keys)


def hmac_keys() -> tuple[tuple[str, bytes], ...]:
    """``(key id, key)`` pairs, newest first: new entries are sealed with the first, old ones verify with any."""
    return _parse_hmac_keys(tuple(getattr(settings, "AUDIT_HMAC_KEYS", ()) or ()), settings.SECRET_KEY)


def _mac(key: bytes, entry_hash: str) -> str:
    return hmac.new(key, b"officeai-audit-entry:" + entry_hash.encode(), hashlib.sha256).hexdigest()


def entry_seal(entry_hash: str) -> tuple[str, str]:
    """``(key_id, mac)`` for a new entry, with the current key."""
    key_id, key = hmac_keys()[0]
    return key_id, _mac(key, entry_hash)


def seal_check(*, entry_hash: str, key_id: str, mac: str) -> bool | None:
    """True if the seal matches, False if not, None if ``key_id`` is not among the configured keys."""
    key = dict(hmac_keys()).get(key_id)
    if key is None:
        return None
    return hmac.compare_digest(_mac(key, entry_hash), mac)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


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


# --- Signed documents (digests of chain heads, export manifests) --------------------------------------------------
# Ed25519, so that whoever holds only the public key (a reviewer, an external auditor) can check them.
@functools.cache
def _ed25519(seed_b64: str, secret_key: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not seed_b64:
        seed = hashlib.sha256(b"officeai-audit-digest-key:" + secret_key.encode()).digest()
    else:
        try:
            seed = base64.b64decode(seed_b64, validate=True)
        except ValueError:
            seed = b""
        if len(seed) != 32:
            raise ImproperlyConfigured(
                "AUDIT_DIGEST_KEY must be 32 random bytes in base64 (manage.py audit_keys --new)"
            )
    return Ed25519PrivateKey.from_private_bytes(seed)


def digest_private_key() -> Any:
    return _ed25519(getattr(settings, "AUDIT_DIGEST_KEY", "") or "", settings.SECRET_KEY)


def digest_public_key() -> str:
    """The public half of ``AUDIT_DIGEST_KEY`` in base64 (raw 32 bytes): publish it to reviewers."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return b64(digest_private_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def document_sign(document: Mapping[str, Any]) -> dict[str, Any]:
    """``document`` plus ``public_key`` and ``signature`` (Ed25519 over its canonical JSON without the signature)."""
    signed = {k: v for k, v in document.items() if k != "signature"}
    signed["public_key"] = digest_public_key()
    signed["signature"] = b64(digest_private_key().sign(canonical_json(signed)))
    return signed


def document_signature_ok(document: Mapping[str, Any], *, public_key: str | None = None) -> bool:
    """Whether ``document`` was signed by the holder of ``public_key`` (default: the key it names itself, which
    proves only that it is unchanged since signing; pass the published key to prove who signed it)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = public_key or document.get("public_key")
    signature = document.get("signature")
    if not isinstance(key, str) or not isinstance(signature, str) or document.get("public_key") != key:
        return False
    body = {k: v for k, v in document.items() if k != "signature"}
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(key, validate=True)).verify(
            base64.b64decode(signature, validate=True), canonical_json(body)
        )
    except (InvalidSignature, ValueError):
        return False
    return True
