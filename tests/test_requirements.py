"""The run command installs only requirements.txt. Every module that code outside tests/ and bench/ imports must come
from a package requirements.txt brings in (directly or as a dependency): a fresh-clone `make run` once crashed on
Pygments, which only the test requirements had pulled in."""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
NOT_SHIPPED = {"tests", "bench", ".venv", "node_modules", "var", "staticfiles"}
# The project's own top-level packages (every folder with an __init__.py) and manage.py.
PROJECT = {path.parent.name for path in ROOT.glob("*/__init__.py")} | {"manage"}


def shipped_files() -> Iterator[Path]:
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] not in NOT_SHIPPED and not parts[0].startswith("."):
            yield path


def _optional(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """An import inside ``try: … except ImportError`` is allowed to be missing."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
                if any(isinstance(n, ast.Name) and n.id in {"ImportError", "ModuleNotFoundError"} for n in names):
                    return True
    return False


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if _optional(node, parents):
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def runtime_requirements() -> list[Requirement]:
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [Requirement(re.sub(r"\s+#.*$", "", line).strip()) for line in lines if line.strip() and line[0] != "#"]


def installed_closure(requirements: list[Requirement]) -> set[str]:
    """Distribution names requirements.txt installs: the listed ones and, recursively, what they require (with the
    extras asked for), as pip would on this Python."""
    seen: set[str] = set()
    todo = [(req, frozenset(req.extras)) for req in requirements]
    while todo:
        req, extras = todo.pop()
        name = canonicalize_name(req.name)
        key = f"{name}[{','.join(sorted(extras))}]"
        if key in seen:
            continue
        seen.add(key)
        seen.add(name)
        for spec in md.requires(req.name) or []:
            child = Requirement(spec)
            if child.marker is not None:
                base = {key: str(value) for key, value in default_environment().items()}
                wanted = [{**base, "extra": extra} for extra in (extras or {""})]
                if not any(child.marker.evaluate(env) for env in wanted):
                    continue
            todo.append((child, frozenset(child.extras)))
    return {name for name in seen if "[" not in name}


def test_every_module_the_product_imports_comes_from_requirements_txt() -> None:
    providers = md.packages_distributions()
    closure = installed_closure(runtime_requirements())
    missing: dict[str, set[str]] = {}
    for path in shipped_files():
        for module in imported_modules(path):
            if module in PROJECT or module in sys.stdlib_module_names or module == "__future__":
                continue
            dists = {canonicalize_name(d) for d in providers.get(module, [])}
            if not dists & closure:
                missing.setdefault(module, set()).add(str(path.relative_to(ROOT)))
    assert missing == {}, f"imported but not brought in by requirements.txt: {missing}"


def test_the_check_sees_a_module_only_the_test_requirements_bring() -> None:
    # pytest (and Pygments through it) is installed here, but requirements.txt does not bring pytest in.
    closure = installed_closure(runtime_requirements())
    assert "django" in closure
    assert "channels" in closure
    assert "psycopg-pool" in closure
    assert "pytest" not in closure
    assert "pytest" in {canonicalize_name(d) for d in md.packages_distributions()["pytest"]}
    # The parser finds imports, nested ones too, and lets ImportError-guarded ones go.
    sample = ROOT / "var" / "requirements_probe.py"
    sample.parent.mkdir(exist_ok=True)
    sample.write_text(
        "import pygments.lexers\nfrom yaml import safe_load\n"
        "def f():\n    import pytest\n"
        "try:\n    import uvloop\nexcept ImportError:\n    uvloop = None\n",
        encoding="utf-8",
    )
    try:
        assert imported_modules(sample) == {"pygments", "yaml", "pytest"}
    finally:
        sample.unlink()
