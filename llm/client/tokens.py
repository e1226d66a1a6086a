"""Offline token estimates for when the upstream does not report usage.

No tokenizer data is downloaded at run time (tiktoken would fetch its BPE files), so this is a heuristic: CJK
characters are about one token each, other text about four characters per token, plus the chat format's per-message
overhead. Good enough for quotas and the audit log, which mark such numbers as estimated.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

# Han, Hiragana, Katakana, Hangul, CJK punctuation and full-width forms.
_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")

TOKENS_PER_MESSAGE = 4  # role and separators around each message
REPLY_PRIMING = 3  # the assistant header every reply starts with
IMAGE_TOKENS = 85  # a low-detail image part


def estimate_tokens(text: str) -> int:
    if not text:
        return 0
    cjk = len(_CJK.findall(text))
    other = len(text) - cjk
    return cjk + math.ceil(other / 4)


def _content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return estimate_tokens(content)
    if isinstance(content, Iterable):
        total = 0
        for part in content:
            if isinstance(part, Mapping):
                if part.get("type") == "text":
                    total += estimate_tokens(str(part.get("text") or ""))
                elif part.get("type") in {"image_url", "input_image"}:
                    total += IMAGE_TOKENS
        return total
    return 0


def estimate_messages_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """Prompt tokens of a chat request: the contents plus per-message overhead and the reply priming."""
    total = REPLY_PRIMING
    for message in messages:
        total += TOKENS_PER_MESSAGE + _content_tokens(message.get("content"))
        if message.get("name"):
            total += estimate_tokens(str(message["name"]))
    return total
