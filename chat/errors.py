"""An answer's error in the reader's language. What is stored is the error's code and parameters
(``Message.error_code``, ``Message.error_params``); the sentence is made each time it is read, so an answer that
failed while someone read the page in English says it in Japanese to a Japanese reader later."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext

from llm.client.errors import MESSAGES, user_message

INTERRUPTED = "interrupted"


def error_params(*, retry_after: float | None, partial: bool) -> dict[str, Any]:
    """What ``error_text`` needs besides the code: the server's retry hint, and whether text had been shown."""
    params: dict[str, Any] = {"partial": partial}
    if retry_after is not None:
        params["retry_after"] = retry_after
    return params


def error_text(code: str, params: Mapping[str, Any] | None = None, stored: str = "") -> str:
    """The sentence for ``code`` in the active language. ``stored`` (the text saved before codes carried their
    parameters) is the fallback for a code this version does not know."""
    params = params or {}
    if not code:
        return ""
    if code == INTERRUPTED:
        if params.get("slack"):  # Slack has no regenerate button
            return gettext("The answer was interrupted on the server. Ask again to try once more.")
        return gettext("The answer was interrupted on the server. Regenerate it to try again.")
    if code in MESSAGES or code in ("rate_limited", "timeout", "connection", "stream_error"):
        retry_after = params.get("retry_after")
        return user_message(
            code,
            retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
            partial=bool(params.get("partial")),
        )
    return stored or user_message(code)


def filter_note(status: str) -> str:
    """The plain sentence under an answer the content filter cut (its text stops where the filter stopped it)."""
    if status == "completion_filtered":
        return gettext(
            "The content filter stopped this answer here. The text above is what was written before it stopped."
        )
    return ""


def message_error(code: str, params: Mapping[str, Any] | None, stored: str) -> dict[str, str] | None:
    """The ``error`` of a saved answer as the API and the websocket give it, in the reader's language."""
    if not code:
        return None
    return {"code": code, "message": error_text(code, params, stored)}
