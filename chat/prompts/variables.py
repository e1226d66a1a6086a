"""``{{variable}}`` placeholders in a prompt: listing them and filling them in. Pure text, no database.

A placeholder is ``{{`` + a name + ``}}``. A name is one or more words of letters (any script, Japanese included),
digits, ``_`` and ``-``, separated by single spaces; spaces (and ideographic spaces) around and between the words
are allowed and normalised, so ``{{ 対象 言語 }}`` is the variable ``対象 言語``. Anything else between braces
(``{{ user.name }}``, ``{{a|b}}``, a line break) is not a placeholder and stays as written. The same name twice is
one variable. Names are case-sensitive. The front end reads the names from the API (``variables``) and need not
parse; the regular expression for a script is::

    \\{\\{[ \\t\\u3000]*([\\w-]+(?:[ \\t\\u3000]+[\\w-]+)*)[ \\t\\u3000]*\\}\\}      (Unicode \\w)

Filling is one pass over the prompt's text: a value is inserted as plain text and never scanned again, so a value
that itself contains ``{{x}}`` stays literally ``{{x}}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MAX_VARIABLES = 20
MAX_NAME = 50  # a longer "name" is text in braces, not a variable

_SPACE = r"[ \t\u3000]"
PLACEHOLDER = re.compile(r"\{\{" + _SPACE + r"*([\w-]+(?:" + _SPACE + r"+[\w-]+)*)" + _SPACE + r"*\}\}")


def _name(match: re.Match[str]) -> str | None:
    name = " ".join(match.group(1).split())
    return name if len(name) <= MAX_NAME else None


def prompt_variables(content: str) -> list[str]:
    """The prompt's variable names in order of first appearance, each once (all of them: callers that store a
    prompt refuse more than ``MAX_VARIABLES``)."""
    names: dict[str, None] = {}
    for match in PLACEHOLDER.finditer(content):
        name = _name(match)
        if name is not None:
            names.setdefault(name, None)
    return list(names)


def prompt_fill(content: str, values: Mapping[str, str]) -> str:
    """``content`` with each placeholder whose name is in ``values`` replaced by its value, literally. Placeholders
    without a value stay as they are."""

    def replace(match: re.Match[str]) -> str:
        name = _name(match)
        if name is None or name not in values:
            return match.group(0)
        return str(values[name])

    return PLACEHOLDER.sub(replace, content)
