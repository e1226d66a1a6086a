"""A Slack thread as model context: which messages count, in which role, and Slack markup turned into plain text.

Pure functions over the dicts ``conversations.replies`` returns; the Web API calls live in slack.services.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# New human messages: plain, broadcast from a thread, or with files. Edits, deletes, joins... are not turns.
HUMAN_SUBTYPES = frozenset({"", "thread_broadcast", "file_share"})
FOOTER_SEPARATOR = "\n\n──────────\n"

_ANGLE = re.compile(r"<([^<>]*)>")


@dataclass(frozen=True)
class Turn:
    role: str  # "user" | "assistant"
    content: str
    ts: str
    user: str


def slack_to_plain(text: str, *, name_of: Callable[[str], str] | None = None) -> str:
    """``<@U1>`` → ``@name`` (or the id), ``<#C1|general>`` → ``#general``, ``<!here>`` → ``@here``,
    ``<url|text>`` → ``text (url)``, then ``&amp; &lt; &gt;`` unescaped."""

    def convert(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith(("@U", "@W", "@B")):
            user_id = target[1:]
            return "@" + (label or (name_of(user_id) if name_of else "") or user_id)
        if target.startswith("#C") or target.startswith("#G"):
            return "#" + (label or target[1:])
        if target.startswith("!subteam^"):
            return label or "@" + target.split("^", 1)[1]
        if target.startswith("!date^"):
            return label or target
        if target.startswith("!"):
            return "@" + target[1:]
        if label:
            url = target.removeprefix("mailto:")
            return label if label == url else f"{label} ({target})"
        return target.removeprefix("mailto:")

    return unescape(_ANGLE.sub(convert, text))


def unescape(text: str) -> str:
    """Slack escapes exactly these three; ``&amp;`` last so ``&amp;lt;`` stays ``&lt;``."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def strip_bot_mention(text: str, *, bot_user_id: str) -> str:
    """The leading ``<@BOT>`` of a mention is an address, not part of the question."""
    if not bot_user_id:
        return text.strip()
    return re.sub(rf"^\s*<@{re.escape(bot_user_id)}(\|[^>]*)?>[\s:,、]*", "", text).strip()


def strip_footer(text: str) -> str:
    """The bot's own reply without the notice it always appends."""
    return text.split(FOOTER_SEPARATOR, 1)[0]


def is_from_bot(message: dict[str, Any], *, bot_user_id: str, bot_id: str) -> bool:
    return bool((bot_user_id and message.get("user") == bot_user_id) or (bot_id and message.get("bot_id") == bot_id))


def thread_turns(
    *,
    messages: list[dict[str, Any]],
    current: dict[str, Any],
    bot_user_id: str,
    bot_id: str,
    direct: bool,
    include_others: bool,
    placeholder: str,
    name_of: Callable[[str], str] | None = None,
) -> list[Turn]:
    """The thread mapped to roles, oldest first, ending with ``current`` (the message being answered).

    Assistant: the bot's own replies (split parts joined, notice removed, unfinished placeholders skipped).
    User: in a DM every human message; in a channel the messages that mention the bot, and the others only with
    ``include_others``. Other bots and non-message subtypes are left out.
    """
    mention = f"<@{bot_user_id}"
    turns: list[Turn] = []
    seen_current = False
    ordered = sorted(messages, key=lambda m: float(m.get("ts") or 0))
    for message in ordered:
        ts = str(message.get("ts") or "")
        if ts == current.get("ts"):
            seen_current = True
            message = current  # the event's own copy is what we answer
        text = str(message.get("text") or "")
        if is_from_bot(message, bot_user_id=bot_user_id, bot_id=bot_id):
            content = slack_to_plain(strip_footer(text), name_of=name_of)
            if not content.strip() or strip_footer(text).strip() == placeholder:
                continue
            if turns and turns[-1].role == "assistant" and turns[-1].ts != ts:
                turns[-1] = Turn("assistant", turns[-1].content + content, turns[-1].ts, turns[-1].user)
            else:
                turns.append(Turn("assistant", content, ts, bot_user_id))
            continue
        if message.get("bot_id") or message.get("subtype") not in (None, *HUMAN_SUBTYPES) or not message.get("user"):
            continue
        if not direct and mention not in text and ts != current.get("ts") and not include_others:
            continue
        content = slack_to_plain(strip_bot_mention(text, bot_user_id=bot_user_id), name_of=name_of)
        if content.strip():
            turns.append(Turn("user", content, ts, str(message["user"])))
    if not seen_current:
        text = slack_to_plain(
            strip_bot_mention(str(current.get("text") or ""), bot_user_id=bot_user_id), name_of=name_of
        )
        turns.append(Turn("user", text, str(current.get("ts") or ""), str(current.get("user") or "")))
    speakers = {t.user for t in turns if t.role == "user"}
    if len(speakers) > 1 and name_of is not None:
        # Several people in one thread: say who is speaking, as a person reading the thread would see it.
        turns = [
            Turn(t.role, f"@{name_of(t.user) or t.user}: {t.content}", t.ts, t.user) if t.role == "user" else t
            for t in turns
        ]
    return turns
