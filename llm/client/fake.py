"""The built-in ``fake`` provider: a deterministic Markdown answer, streamed word by word, with no HTTP at all.

It lets ``make run`` chat without any key. The endpoint carries its options: ``fake://?delay=0.02`` (seconds
between words; default 0.02).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEFAULT_DELAY = 0.02
FAKE_MODEL = "fake-model"
_ECHO_LIMIT = 500


def fake_delay(endpoint: str) -> float:
    values = parse_qs(urlsplit(endpoint).query).get("delay")
    try:
        return max(0.0, float(values[0])) if values else DEFAULT_DELAY
    except ValueError:
        return DEFAULT_DELAY


def _last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, Sequence):
                return " ".join(
                    str(p.get("text") or "") for p in content if isinstance(p, Mapping) and p.get("type") == "text"
                )
    return ""


def fake_answer(messages: Sequence[Mapping[str, Any]]) -> str:
    said = " ".join(_last_user_text(messages).split())
    if len(said) > _ECHO_LIMIT:
        said = said[:_ECHO_LIMIT] + "…"
    return (
        f"You said: “{said}”\n\n"
        "This answer comes from the built-in **fake** model, so no AI service was called. It shows:\n\n"
        "- a short list,\n"
        "- *emphasis* and `inline code`,\n"
        "- and a code block:\n\n"
        "```python\n"
        'def greet(name: str) -> str:\n    return f"Hello, {name}!"\n'
        "```\n"
    )


def fake_words(text: str) -> list[str]:
    """Word-sized pieces that join back to exactly ``text`` (whitespace travels with the following word)."""
    return re.findall(r"\s*\S+|\s+$", text)
