"""Markdown (what the model writes) → Slack mrkdwn, and splitting long answers without losing a character.

mrkdwn is not Markdown: ``*bold*``, ``_italic_``, ``~strike~``, ``<url|text>``, no headings, and ``& < >`` must be
sent escaped. Code spans and fences are kept verbatim (only escaped).
"""

from __future__ import annotations

import re

# Slack answers msg_too_long well below its documented 40,000 characters; ~4,000 is the safe size per message.
MESSAGE_LIMIT = 3_000

_FENCE = re.compile(r"```[^\n`]*\n?(.*?)```", re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]+`")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+|mailto:[^)\s]+)\)")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![*\w])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_BULLET = re.compile(r"^(\s*)[-*+]\s+", re.MULTILINE)
_HRULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$", re.MULTILINE)


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(markdown: str) -> str:
    """Convert the model's Markdown to mrkdwn; code is protected from every rewrite."""
    protected: list[str] = []

    def keep(value: str) -> str:
        protected.append(value)
        return f"\x00{len(protected) - 1}\x00"

    text = _FENCE.sub(lambda m: keep("```\n" + escape(m.group(1)) + "```"), markdown)
    text = _INLINE_CODE.sub(lambda m: keep(escape(m.group(0))), text)
    text = _LINK.sub(lambda m: keep(f"<{m.group(2)}|{escape(m.group(1)).replace('|', '¦')}>"), text)
    text = escape(text)
    text = _HRULE.sub("──────────", text)
    text = _HEADING.sub(lambda m: keep(f"*{m.group(1).strip('*')}*"), text)
    text = _BOLD.sub(lambda m: keep(f"*{m.group(2)}*"), text)
    text = _ITALIC.sub(r"_\1_", text)
    text = _STRIKE.sub(r"~\1~", text)
    text = _BULLET.sub(r"\1• ", text)
    for _ in range(3):  # placeholders may nest (a link inside bold)
        text = re.sub(r"\x00(\d+)\x00", lambda m: protected[int(m.group(1))], text)
    return text


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Pieces of at most ``limit`` characters whose concatenation is exactly ``text``.

    Cuts after a blank line if one is in the second half of the window, else after a newline, else after a space,
    else hard at the limit."""
    if limit <= 0:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for separator in ("\n\n", "\n", " "):
            at = window.rfind(separator)
            if at >= limit // 2:
                cut = at + len(separator)
                break
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut])
        rest = rest[cut:]
    pieces.append(rest)
    return pieces
