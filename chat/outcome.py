"""What one model call produced, gathered from the client layer's events (pure: no ORM, no I/O)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from llm.client import Attempt, Error, FilterAnnotation, Finish, LLMEvent, RequestInfo, TextDelta, Usage

# Message.Status values (kept as strings so this module stays free of the ORM).
FINISH_STATUS = {"ok": "ok", "completion_filtered": "completion_filtered", "truncated": "truncated", "length": "length"}
# audit.models.LLMStatus values: the audit trail says what the page says (tests/audit/test_vocabulary.py).
AUDIT_STATUSES = frozenset({"ok", "stopped", "length", "error", "prompt_filtered", "completion_filtered", "truncated"})


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ReplyOutcome:
    received_at: datetime = field(default_factory=_now)
    parts: list[str] = field(default_factory=list)
    length: int = 0  # code points so far: the protocol's offsets
    status: str = "streaming"
    finish_reason: str = ""
    error: Error | None = None
    usage: Usage | None = None
    filters: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    request_params: dict[str, Any] = field(default_factory=dict)
    request_messages: list[dict[str, Any]] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)
    deployment_id: int | None = None
    first_token_at: datetime | None = None
    completed_at: datetime | None = None

    @property
    def text(self) -> str:
        if len(self.parts) > 1:
            self.parts[:] = ["".join(self.parts)]
        return self.parts[0] if self.parts else ""

    @property
    def finished(self) -> bool:
        return self.status != "streaming"

    def apply(self, event: LLMEvent) -> str | None:
        """Fold one event in; returns the text it added, if any."""
        match event:
            case TextDelta(text=text):
                if self.first_token_at is None:
                    self.first_token_at = _now()
                self.parts.append(text)
                self.length += len(text)
                return text
            case RequestInfo(params=params, messages=messages):
                self.request_params, self.request_messages = params, messages
            case Attempt():
                self.attempts.append(_attempt_dict(event))
                self.deployment_id = event.deployment_id
                if event.request_id:
                    self.request_ids.append(event.request_id)
            case FilterAnnotation(stage=stage, results=results):
                self.filters.setdefault(stage, []).append(results)
            case Usage():
                self.usage = event
            case Error():
                self.error = event
                if event.request_id and event.request_id not in self.request_ids:
                    self.request_ids.append(event.request_id)
                if event.kind == "prompt_filtered":
                    self.finish("prompt_filtered")
                elif not self.length:
                    self.finish("error")
                # With text already shown, a Finish("truncated") follows and decides.
            case Finish(reason=reason, status=status):
                self.finish_reason = reason
                self.finish(FINISH_STATUS.get(status, "ok"))
        return None

    def finish(self, status: str) -> None:
        if not self.finished:
            self.status = status
            self.completed_at = _now()

    @property
    def audit_status(self) -> str:
        return self.status if self.status in AUDIT_STATUSES else "error"

    def usage_dict(self) -> dict[str, Any]:
        if self.usage is None:
            return {}
        return dataclasses.asdict(self.usage)

    def error_dict(self) -> dict[str, Any] | None:
        if self.error is None:
            return None
        return {
            "kind": self.error.kind,
            "code": self.error.code,
            "status_code": self.error.status_code,
            "message": str(self.error.message),
            "detail": self.error.detail,
            "retryable": self.error.retryable,
            "retry_after": self.error.retry_after,
        }

    def timings(self) -> dict[str, Any]:
        def ms(later: datetime | None) -> float | None:
            return round((later - self.received_at).total_seconds() * 1000, 1) if later else None

        return {
            "received": self.received_at.isoformat(),
            "first_token": self.first_token_at.isoformat() if self.first_token_at else None,
            "completed": self.completed_at.isoformat() if self.completed_at else None,
            "ttft_ms": ms(self.first_token_at),
            "duration_ms": ms(self.completed_at),
        }


def _attempt_dict(attempt: Attempt) -> dict[str, Any]:
    data = dataclasses.asdict(attempt)
    data["started_at"] = attempt.started_at.isoformat()
    return data
