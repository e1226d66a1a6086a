"""Slack request signatures: ``v0=HMAC-SHA256(secret, "v0:<timestamp>:<raw body>")``, 5-minute replay window."""

from __future__ import annotations

import time

from slack_sdk.signature import Clock, SignatureVerifier

MAX_AGE_SECONDS = 300


class _FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def signature_is_valid(
    *, signing_secret: str, body: bytes, timestamp: str | None, signature: str | None, now: float | None = None
) -> bool:
    """True only for a well-formed, fresh (|now - ts| <= 300 s) signature made with ``signing_secret`` over ``body``.

    Missing or non-numeric headers and an empty secret are simply invalid (the SDK would raise on them)."""
    if not signing_secret or not signing_secret.strip() or not timestamp or not signature:
        return False
    if not timestamp.isascii() or not timestamp.isdigit():
        return False
    clock = _FixedClock(time.time() if now is None else now)
    return SignatureVerifier(signing_secret, clock=clock).is_valid(body=body, timestamp=timestamp, signature=signature)


def signature_make(*, signing_secret: str, body: bytes, timestamp: str) -> str:
    """What Slack would send (tests and the benchmark sign their requests with it)."""
    return SignatureVerifier(signing_secret).generate_signature(timestamp=timestamp, body=body) or ""
