"""The tenant rule, enforced mechanically: a tenant-scoped model (one with a ``tenant`` FK) is queried only in the
layers that take ``tenant=`` — selectors, services and the models themselves — never straight from a view, a
consumer, the engine, a sink, a task or a command. A door that needs rows calls a selector or a service."""

from __future__ import annotations

import ast
from pathlib import Path

from django.apps import apps

from tenants.models import TenantScopedModel

ROOT = Path(__file__).resolve().parent.parent
# The layers allowed to touch a tenant-scoped manager: they take ``tenant=`` (or work on one row they were given).
# audit/export.py and audit/verification.py: the services of the export and verification jobs.
LAYERS = {"selectors.py", "services.py", "models.py", "export.py", "verification.py"}
NOT_PRODUCT = {"tests", "bench", ".venv", "var", "node_modules"}
# Demo data for the embedded mode: it creates both demo companies, and no request reaches it.
EXEMPT = {"chat/management/commands/seed_demo.py"}


def scoped_models() -> set[str]:
    return {m.__name__ for m in apps.get_models() if issubclass(m, TenantScopedModel)}


def manager_uses(path: Path, names: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.value.id}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in {"objects", "_default_manager", "_base_manager"}
        and isinstance(node.value, ast.Name)
        and node.value.id in names
    ]


def product_files() -> list[Path]:
    found = []
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in NOT_PRODUCT or parts[0].startswith(".") or "migrations" in parts:
            continue
        if path.name in LAYERS or str(path.relative_to(ROOT)) in EXEMPT:
            continue
        found.append(path)
    return found


def test_tenant_scoped_models_are_queried_only_in_selectors_and_services() -> None:
    names = scoped_models()
    assert {"Conversation", "Message", "SlackEvent", "SlackWorkspace", "ModelVersionAccess"} <= names
    offenders = [use for path in product_files() for use in manager_uses(path, names)]
    assert offenders == [], "query these through a selector or a service:\n" + "\n".join(offenders)


def test_the_rule_catches_a_query_in_a_door() -> None:
    door = ROOT / "var" / "tenant_rule_probe.py"
    door.parent.mkdir(exist_ok=True)
    door.write_text("def view(request):\n    return Message.objects.filter(pk=1)\n", encoding="utf-8")
    try:
        assert manager_uses(door, scoped_models()) == ["var/tenant_rule_probe.py:2 Message.objects"]
    finally:
        door.unlink()
