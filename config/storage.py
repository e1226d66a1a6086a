"""Static files in production: whitenoise's compressed, hashed storage, with two changes the front end needs.

- The chat page's script is a set of native ES modules (static/js/chat/). Django rewrites ``import … from "./x.js";``
  to the hashed names only when ``support_js_module_import_aggregation`` is on (off by default): without it the
  hashed main module would import the unhashed siblings, which are cached for a year under a name that never
  changes. Import statements start a line and end with a semicolon (the patterns below), and the modules must not
  import each other in a cycle (the hashes would never settle; collectstatic stops after
  ``max_post_process_passes``).
- A vendored library's ``//# sourceMappingURL=`` comment names a ``.map`` file we do not ship (it only serves the
  browser's developer tools). Django stops collectstatic on such a missing file; here the comment is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from whitenoise.storage import CompressedManifestStaticFilesStorage

Converter = Callable[[re.Match[str]], str]


class StaticModulesStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
    # Django's own patterns match from any word "import" or "export" across lines, comments included: a comment that
    # says "export" above an import statement makes the export pattern re-read the statement the import pattern has
    # just rewritten, and collectstatic fails on the hashed name. These match statements only: at the start of a
    # line, braces (which may span lines), a default or namespace import, a relative URL, the closing semicolon.
    # Dynamic import() is not rewritten (the modules use none; a JSDoc type `import("./x.js")` stays as written).
    _js_module_import_aggregation_patterns = (
        "*.js",
        (
            (
                r"""(?m)^(?P<matched>import(?P<import>\s*\{[^}]*\}|\s+[\w$]+(?:\s*,\s*\{[^}]*\})?|\s*\*\s*as\s+[\w$]+)"""
                r"""\s*from\s*["'](?P<url>\.{1,2}/[^"'\n]+)["']\s*;)""",
                """import%(import)s from "%(url)s";""",
            ),
            (
                r"""(?m)^(?P<matched>export(?P<exports>\s*\{[^}]*\}|\s*\*(?:\s*as\s+[\w$]+)?)"""
                r"""\s*from\s*["'](?P<url>\.{1,2}/[^"'\n]+)["']\s*;)""",
                """export%(exports)s from "%(url)s";""",
            ),
            (
                r"""(?m)^(?P<matched>import\s*["'](?P<url>\.{1,2}/[^"'\n]+)["']\s*;)""",
                """import"%(url)s";""",
            ),
        ),
    )

    def url_converter(self, name: str, hashed_files: dict[str, Any], template: str | None = None) -> Converter:
        convert: Converter = super().url_converter(name, hashed_files, template)

        def tolerant(match: re.Match[str]) -> str:
            try:
                return convert(match)
            except ValueError:
                if "sourceMappingURL" in match["matched"]:
                    return match["matched"]
                raise

        return tolerant
