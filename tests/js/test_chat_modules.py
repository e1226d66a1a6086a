"""The chat page's ES modules (static/js/chat/): their strings have one source (chat/views.py CHAT_STRINGS, sent in
the page's configuration), and production's static storage rewrites their imports to hashed names."""

from __future__ import annotations

import json
import re
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from chat.views import CHAT_STRINGS

ROOT = Path(__file__).resolve().parents[2]
MODULES = ROOT / "static" / "js" / "chat"
# t("key") and t("key", {...}); any other first argument is refused below (keys must be visible to this test).
KEY_CALL = re.compile(r"\bt\(\s*\"([a-z0-9_]+)\"")
ANY_CALL = re.compile(r"(?<![\w.$])t\(\s*([^\s)])")
IMPORT = re.compile(r"""(?m)^(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']\s*;|^import\s*["']([^"']+)["']\s*;""")
# Words Django's own patterns trip over (config/storage.py): "import"/"export" in comments above import statements,
# braces over several lines, a JSDoc type import, a namespace import, a re-export.
TRICKY = {
    "a.js": "// Modules import and export: this comment says export before the imports.\n"
    '/** @typedef {import("./b.js").Thing} Thing */\n'
    'import {\n  one,\n  two,\n} from "./b.js";\n'
    'import * as c from "./c.js";\n'
    "export { one, two, c };\n",
    "b.js": '// export first, then import\nexport * from "./c.js";\nexport const one = 1;\nexport const two = 2;\n',
    "c.js": "export const three = 3; // import nothing\n",
}


COMMENTS = re.compile(r"/\*.*?\*/|^\s*//.*?$", re.DOTALL | re.MULTILINE)


def module_sources() -> dict[str, str]:
    """The modules' code without its comments (which quote keys and strings when they explain them)."""
    return {path.name: COMMENTS.sub("", path.read_text(encoding="utf-8")) for path in sorted(MODULES.glob("*.js"))}


def test_every_key_the_modules_use_is_sent_by_the_view_and_every_sent_key_is_used() -> None:
    used: set[str] = set()
    for name, source in module_sources().items():
        used |= set(KEY_CALL.findall(source))
        for match in ANY_CALL.finditer(source):
            line = source[: match.start()].count("\n") + 1
            assert match.group(1) == '"' or source[match.start() - 9 : match.start()] == "function ", (
                f"{name}:{line}: t() with a computed key; write the key out as a literal"
            )
    assert used, "no t() calls found"
    assert used - set(CHAT_STRINGS) == set(), "used by the modules but missing from CHAT_STRINGS"
    assert set(CHAT_STRINGS) - used == set(), "in CHAT_STRINGS but used by no module"


def test_no_module_keeps_its_own_copy_of_a_string() -> None:
    sources = "\n".join(module_sources().values())
    copies = []
    for text in CHAT_STRINGS.values():
        for quote in ('"', "'", "`"):
            for match in re.finditer(re.escape(f"{quote}{text}{quote}"), sources):
                if not re.search(r"\.key\s*[!=]==\s*$", sources[: match.start()]):  # a key name ("Delete"), not text
                    copies.append(text)
    assert copies == []


def test_collectstatic_rewrites_module_imports_to_hashed_names(tmp_path: Path) -> None:
    """Production's storage (config/storage.py, from config/settings/base.py): the hashed main module imports
    hashed siblings, and so does every module it reaches."""
    storages = {**settings.STORAGES, "staticfiles": {"BACKEND": "config.storage.StaticModulesStorage"}}
    extra = tmp_path / "extra"
    (extra / "tricky").mkdir(parents=True)
    for name, source in TRICKY.items():
        (extra / "tricky" / name).write_text(source, encoding="utf-8")
    root = tmp_path / "root"
    dirs = [*settings.STATICFILES_DIRS, str(extra)]
    with override_settings(STATIC_ROOT=str(root), STORAGES=storages, STATICFILES_DIRS=dirs):
        call_command("collectstatic", "--noinput", verbosity=0)
    manifest: dict[str, str] = json.loads((root / "staticfiles.json").read_text())["paths"]
    tricky_a, tricky_b, tricky_c = (manifest[f"tricky/{n}"] for n in ("a.js", "b.js", "c.js"))
    source_a = (root / tricky_a).read_text(encoding="utf-8")
    assert f'}} from "./{tricky_b.split("/")[-1]}";' in source_a
    assert f'import * as c from "./{tricky_c.split("/")[-1]}";' in source_a
    assert 'import("./b.js")' in source_a  # a comment: left alone
    assert f'export * from "./{tricky_c.split("/")[-1]}";' in (root / tricky_b).read_text(encoding="utf-8")
    hashed = set(manifest.values())
    main = manifest["js/chat/main.js"]
    assert re.fullmatch(r"js/chat/main\.[0-9a-f]{12}\.js", main)

    seen: set[str] = set()
    todo = [main]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        source = (root / name).read_text(encoding="utf-8")
        for match in IMPORT.finditer(source):
            target = match.group(1) or match.group(2)
            resolved = str(Path(name).parent / target).replace("\\", "/")
            resolved = str(Path(resolved)).replace("\\", "/")  # drops the "./"
            assert resolved in hashed, f"{name} imports {target}, not a hashed file"
            assert re.search(r"\.[0-9a-f]{12}\.js$", target), f"{name} imports unhashed {target}"
            todo.append(resolved)
    expected = {manifest[f"js/chat/{path.name}"] for path in MODULES.glob("*.js")}
    # Every module is reached through hashed imports (an import without its semicolon would not be rewritten, and
    # its module would be missing here).
    assert seen == expected
