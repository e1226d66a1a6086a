"""Pure text work: Markdown → mrkdwn, splitting, Slack markup → plain text, a thread → roles."""

from __future__ import annotations

import pytest

from slack.context import FOOTER_SEPARATOR, slack_to_plain, strip_bot_mention, thread_turns
from slack.mrkdwn import split_text, to_mrkdwn


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold** and __bold__", "*bold* and *bold*"),
        ("*italic* text", "_italic_ text"),
        ("~~gone~~", "~gone~"),
        ("[Docs](https://example.com/a?b=1)", "<https://example.com/a?b=1|Docs>"),
        ("# Title\nbody", "*Title*\nbody"),
        ("- one\n- two", "• one\n• two"),
        ("a < b && c > d", "a &lt; b &amp;&amp; c &gt; d"),
        ("`x **not bold** <y>`", "`x **not bold** &lt;y&gt;`"),
        ("```python\nprint('**hi**')\n```", "```\nprint('**hi**')\n```"),
        ("**[link](https://e.x)**", "*<https://e.x|link>*"),
    ],
)
def test_markdown_becomes_mrkdwn(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


@pytest.mark.parametrize("limit", [7, 50, 300])
def test_split_never_loses_or_exceeds(limit: int) -> None:
    text = "\n\n".join(" ".join(f"w{i}x{j}" for j in range(i % 9 + 1)) for i in range(80)) + "X" * 120
    parts = split_text(text, limit)
    assert "".join(parts) == text
    assert all(0 < len(p) <= limit for p in parts)


def test_split_prefers_paragraph_breaks() -> None:
    assert split_text("aaaa bbbb\n\ncccc", 12) == ["aaaa bbbb\n\n", "cccc"]
    assert split_text("short", 3000) == ["short"]


def test_slack_markup_becomes_plain_text() -> None:
    names = {"U1": "alice"}.get
    text = (
        "<@U1> and <@U2|bob> see <https://x.example/a|the doc> or <https://y.example> in <#C1|general>, "
        "<!here> &amp; <!subteam^S1|@devs> &lt;3 <mailto:a@b.example|a@b.example>"
    )
    assert slack_to_plain(text, name_of=lambda u: names(u) or "") == (
        "@alice and @bob see the doc (https://x.example/a) or https://y.example in #general, "
        "@here & @devs <3 a@b.example"
    )
    assert slack_to_plain("<@U9>") == "@U9"
    assert slack_to_plain("&amp;lt;") == "&lt;"


def test_leading_bot_mention_is_stripped() -> None:
    assert strip_bot_mention("<@UBOT> hi <@UBOT>", bot_user_id="UBOT") == "hi <@UBOT>"
    assert strip_bot_mention("  <@UBOT|officeai>: question", bot_user_id="UBOT") == "question"


def thread() -> list[dict[str, str]]:
    return [
        {"ts": "1.1", "user": "UA", "text": "<@UBOT> first question"},
        {"ts": "1.2", "user": "UBOT", "bot_id": "BBOT", "text": "_Thinking…_"},
        {"ts": "1.3", "user": "UBOT", "bot_id": "BBOT", "text": "part one, "},
        {"ts": "1.4", "user": "UBOT", "bot_id": "BBOT", "text": "part two" + FOOTER_SEPARATOR + "notice"},
        {"ts": "1.5", "user": "UC", "text": "chatter"},
        {"ts": "1.6", "user": "UX", "bot_id": "BOTHER", "text": "other bot"},
        {"ts": "1.7", "user": "UA", "subtype": "channel_join", "text": "joined"},
        {"ts": "1.8", "user": "UA", "text": "<@UBOT> second"},
    ]


def test_channel_thread_keeps_mentions_and_bot_replies_only() -> None:
    turns = thread_turns(
        messages=thread(),
        current=thread()[-1],
        bot_user_id="UBOT",
        bot_id="BBOT",
        direct=False,
        include_others=False,
        placeholder="_Thinking…_",
    )
    assert [(t.role, t.content) for t in turns] == [
        ("user", "first question"),
        ("assistant", "part one, part two"),
        ("user", "second"),
    ]


def test_dm_thread_keeps_every_human_message() -> None:
    turns = thread_turns(
        messages=thread(),
        current=thread()[-1],
        bot_user_id="UBOT",
        bot_id="BBOT",
        direct=True,
        include_others=False,
        placeholder="_Thinking…_",
    )
    assert [t.content for t in turns] == ["first question", "part one, part two", "chatter", "second"]


def test_current_message_is_added_when_replies_do_not_have_it_yet() -> None:
    current = {"ts": "2.0", "user": "UA", "text": "<@UBOT> newest"}
    turns = thread_turns(
        messages=thread()[:2],
        current=current,
        bot_user_id="UBOT",
        bot_id="BBOT",
        direct=False,
        include_others=False,
        placeholder="_Thinking…_",
    )
    assert [(t.role, t.content) for t in turns] == [("user", "first question"), ("user", "newest")]
