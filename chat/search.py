"""Full-text search over message text that works for Japanese as well as English (docs/search.md).

PostgreSQL: every message keeps ``search_text``, its text as space-separated tokens: NFKC + casefold, CJK runs (Han,
Hiragana, Katakana, Hangul) cut into overlapping character bigrams plus the run's last character alone, other text
into words, each token once. A GIN index on ``to_tsvector('simple', search_text)`` (migration 0007) answers a query
tokenised the same way, its terms AND-ed ("会議室" → ``'会議' & '議室'``), so a two-character word is found
through the index, which pg_trgm cannot do. Other databases (the embedded SQLite) search with ``icontains``.

Whatever writes a message's content also writes ``search_text_for(content)``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from operator import add
from typing import TYPE_CHECKING

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connections
from django.db.models import QuerySet

if TYPE_CHECKING:
    from chat.models import Message

CONFIG = "simple"  # no stemming, no stop words: the tokens are already what is to be matched
INDEX_NAME = "msg_search_gin"  # created by chat/migrations/0007_message_search.py on PostgreSQL only
MAX_WORD = 100  # longer "words" (base64, hashes) are not indexed; a query for one finds no message
# to_tsvector refuses more than 1 MiB of lexemes and positions; stay well under it (a token costs its bytes and ~6).
_TSVECTOR_BUDGET = 800_000
_TOKEN_OVERHEAD = 6

# Han (with the iteration and closing marks, Hangzhou numerals), Hiragana, Katakana (not its middle dot), Hangul.
# Fullwidth and halfwidth forms are folded into these (and into ASCII) by NFKC before matching.
_CJK = (
    "\u3005-\u3007\u3021-\u3029\u3031-\u3035\u303b\u303c"
    "\u3041-\u309f\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff"
    "\u1100-\u11ff\u3131-\u318e\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U000323af"
)
# A CJK run, or a word: letters and digits that are not CJK (underscores and punctuation separate words).
_TOKEN = re.compile(f"([{_CJK}]+)|([^\\W_{_CJK}]+)")
_WORD_CHAR = f"[^\\W_{_CJK}]"


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _runs(text: str) -> list[tuple[str, str]]:
    """(CJK run, "") or ("", word) for each token of ``text``, normalised, in order."""
    return _TOKEN.findall(normalize(text))


def search_text_for(text: str) -> str:
    """What ``Message.search_text`` holds for ``text``: its distinct tokens, space-separated. Linear in the length
    of ``text`` (it runs on the answer's finalize)."""
    tokens: dict[str, None] = {}
    for cjk, word in _runs(text):
        if cjk:
            tokens.update(dict.fromkeys(map(add, cjk, cjk[1:])))  # overlapping bigrams
            tokens[cjk[-1]] = None  # the last character alone: a one-character query is a prefix match (below)
        elif len(word) <= MAX_WORD:
            tokens[word] = None
    joined = " ".join(tokens)
    if len(joined.encode()) + _TOKEN_OVERHEAD * len(tokens) <= _TSVECTOR_BUDGET:
        return joined
    kept, used = [], 0  # a huge answer: index its first distinct tokens, up to what a tsvector holds
    for token in tokens:
        used += len(token.encode()) + _TOKEN_OVERHEAD + 1
        if used > _TSVECTOR_BUDGET:
            break
        kept.append(token)
    return " ".join(kept)


@dataclass(frozen=True)
class Term:
    lexeme: str
    prefix: bool  # a lone CJK character: any bigram starting with it, or itself at the end of a run


def search_terms(query: str) -> list[Term]:
    """The query, tokenised as messages are: a CJK run of two or more characters becomes its bigrams, a single CJK
    character a prefix term, words themselves."""
    terms: dict[Term, None] = {}
    for cjk, word in _runs(query):
        if len(cjk) == 1:
            terms[Term(cjk, prefix=True)] = None
        elif cjk:
            terms.update(dict.fromkeys(Term(bigram, prefix=False) for bigram in map(add, cjk, cjk[1:])))
        else:
            terms[Term(word, prefix=False)] = None
    return list(terms)


def _quoted(lexeme: str) -> str:
    # tsquery syntax: a quoted lexeme is literal; inside the quotes a quote is doubled and a backslash escaped.
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsquery_for(query: str) -> str | None:
    """The ``to_tsquery`` text for ``query``: every term quoted, AND-ed. None when no message can match (no term,
    or a word too long to be indexed)."""
    terms = search_terms(query)
    if not terms or any(len(term.lexeme) > MAX_WORD for term in terms):
        return None
    return " & ".join(_quoted(term.lexeme) + (":*" if term.prefix else "") for term in terms)


def messages_matching(messages: QuerySet[Message], query: str) -> QuerySet[Message]:
    """``messages`` narrowed to those whose text matches ``query``. PostgreSQL: the indexed expression
    ``to_tsvector('simple', search_text) @@ to_tsquery('simple', …)``, the query a bound parameter. Elsewhere:
    every whitespace-separated word of the query ``icontains`` in the content."""
    if connections[messages.db].vendor == "postgresql":
        tsquery = tsquery_for(query)
        if tsquery is None:
            return messages.none()
        return messages.alias(search=SearchVector("search_text", config=CONFIG)).filter(
            search=SearchQuery(tsquery, config=CONFIG, search_type="raw")
        )
    words = query.split()
    if not words:
        return messages.none()
    for word in words:
        messages = messages.filter(content__icontains=word)
    return messages


# --- Snippets -----------------------------------------------------------------------------------------------------
SNIPPET_LENGTH = 120
_SNIPPET_LEAD = 40  # characters shown before the hit


def _folded(text: str) -> tuple[str, list[int] | None]:
    """``text`` normalised as the tokens are, and where each of its characters came from (None: same place)."""
    folded = normalize(text)
    if len(folded) == len(text):
        return folded, None  # the common case (fullwidth → ASCII is one for one): positions line up
    chars: list[str] = []
    origin: list[int] = []
    for i, char in enumerate(text):
        part = normalize(char)
        chars.append(part)
        origin.extend([i] * len(part))
    return "".join(chars), origin


def _first_hit(folded: str, query: str) -> tuple[int, int] | None:
    terms = [term.lexeme for term in search_terms(query)] or [normalize(word) for word in query.split()]
    if not terms:
        return None
    alternatives = "|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True))
    # A word term as a whole word first (what PostgreSQL matched), then anywhere (what icontains matched).
    for pattern in (f"(?<!{_WORD_CHAR})(?:{alternatives})(?!{_WORD_CHAR})", alternatives):
        hit = re.search(pattern, folded)
        if hit:
            return hit.start(), hit.end()
    return None


def snippet_for(text: str, query: str, length: int = SNIPPET_LENGTH) -> str:
    """About ``length`` characters of ``text`` around the first hit of ``query``, whitespace collapsed, with "…"
    where the text goes on. The text's start when no hit is found."""
    folded, origin = _folded(text)
    hit = _first_hit(folded, query)
    start = 0
    if hit is not None:
        start = hit[0] if origin is None else origin[hit[0]]
        start = max(0, start - _SNIPPET_LEAD)
    end = min(len(text), start + length)
    start = max(0, end - length)
    body = " ".join(text[start:end].split())
    return ("…" if start > 0 else "") + body + ("…" if end < len(text) else "")
