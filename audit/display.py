"""An audit entry as a compliance officer reads it (the entry page): an ``llm.chat`` entry's prompt and answer as a
conversation, its attempts as a table, usage, content-filter results and the client; the raw JSON stays available.

Text from the payload is rendered by the chat's own Markdown renderer and sanitiser (``chat.rendering``), which
chat registers here at start-up (``use_renderers``): the audit app sits below chat and does not import it. Until
then (or in a process without chat) text is shown escaped, never as HTML.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe

from audit.models import status_label

Renderer = Callable[[str], str]


def _escaped(text: str) -> str:
    return linebreaks(escape(text))


_renderers: dict[str, Renderer] = {"markdown": _escaped, "plain": _escaped}


def use_renderers(*, markdown: Renderer, plain: Renderer) -> None:
    """The chat's renderers (sanitised HTML), for answers (Markdown) and people's text (plain)."""
    _renderers.update(markdown=markdown, plain=plain)


@dataclass(frozen=True)
class Turn:
    role: str
    html: SafeString


@dataclass(frozen=True)
class ChatEntry:
    """What the page shows of an ``llm.chat`` payload."""

    turns: list[Turn]
    answer_html: SafeString
    finish_reason: str
    status: str
    attempts: list[dict[str, Any]]
    usage: dict[str, Any]
    content_filter: list[tuple[str, str, str]]  # (stage, category, verdict)
    client: dict[str, Any]
    error: dict[str, Any]
    conversation_id: int | None
    timings: dict[str, Any] = field(default_factory=dict)

    @property
    def error_text(self) -> str:
        """``code — message`` of the error, "" without one."""
        code = str(self.error.get("code") or self.error.get("kind") or "")
        message = str(self.error.get("message") or "")
        return " — ".join(part for part in (code, message) if part)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: the text ones
        return "\n\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _filter_rows(content_filter: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``{"prompt": [{"hate": {"filtered": false, "severity": "safe"}}], ...}`` as rows (stage, category, verdict)."""
    rows = []
    for stage, results in content_filter.items():
        for result in _list(results) if isinstance(results, list) else [results]:
            for category, verdict in _dict(result).items():
                if isinstance(verdict, dict):
                    parts = [f"{k}: {v}" for k, v in verdict.items()]
                    rows.append((str(stage), str(category), ", ".join(parts)))
                else:
                    rows.append((str(stage), str(category), str(verdict)))
    return rows


def chat_entry(payload: Any, status: str) -> ChatEntry:
    """The readable parts of an ``llm.chat`` payload; anything missing or of the wrong shape shows as empty."""
    payload = _dict(payload)
    turns = []
    for message in _list(payload.get("prompt_messages")):
        message = _dict(message)
        role = str(message.get("role", ""))
        render = _renderers["markdown"] if role == "assistant" else _renderers["plain"]
        turns.append(Turn(role=role, html=mark_safe(render(_text(message.get("content"))))))  # noqa: S308 - sanitised
    answer = payload.get("response_text")
    conversation_id = payload.get("conversation_id")
    return ChatEntry(
        turns=turns,
        answer_html=mark_safe(_renderers["markdown"](answer if isinstance(answer, str) else "")),  # noqa: S308
        finish_reason=str(payload.get("finish_reason") or ""),
        status=status_label(status),
        attempts=[_dict(a) for a in _list(payload.get("attempts"))],
        usage=_dict(payload.get("usage")),
        content_filter=_filter_rows(_dict(payload.get("content_filter"))),
        client=_dict(payload.get("client")),
        error=_dict(payload.get("error")),
        conversation_id=conversation_id if isinstance(conversation_id, int) else None,
        timings=_dict(payload.get("timings")),
    )
