"""Release day (docs/models.md, "Release-day runbook"): a new model version in one step.

* **Presets** per model family: the capability flags and limits a family needs, as a starting point.
* **New version from this one**: the flags, descriptions and company access of an existing version copied onto a
  new one, tested with the request its flags build before anything is saved (``llm.services.deployments_check``).
* **Roll-out**: give chosen companies (or all) access, make it their default, retire the version it replaces and
  move that version's conversations, in one transaction that never trips the one-default-per-company constraint.

The writes (copy, roll-out, default switch) are services in ``llm.services``; this module holds the presets and
the diff the pages show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from llm.models import ModelVersion

# The flags a preset sets and a copy carries over; the rest of a version (name, version, dates) is its own.
FLAG_FIELDS = (
    "context_window",
    "max_output_tokens",
    "token_param",
    "temperature_allowed",
    "system_role",
    "reasoning_efforts",
    "vision",
    "streaming",
    "usage_in_stream",
)
COPIED_FIELDS = ("display_name", "family", "description_en", "description_ja", *FLAG_FIELDS)


@dataclass(frozen=True)
class Preset:
    key: str
    name: Promise
    hint: Promise
    flags: dict[str, Any] = field(default_factory=dict)


PRESETS = {
    preset.key: preset
    for preset in (
        Preset(
            "gpt-4o",
            _("GPT-4o / GPT-4.1"),
            _("Chat models: max_tokens, temperature, the system role."),
            {
                "context_window": 128_000,
                "max_output_tokens": 16_384,
                "token_param": ModelVersion.TokenParam.MAX_TOKENS,
                "temperature_allowed": True,
                "system_role": ModelVersion.SystemRole.SYSTEM,
                "reasoning_efforts": "",
                "vision": True,
                "streaming": True,
                "usage_in_stream": True,
            },
        ),
        Preset(
            "o-series",
            _("o-series (o3, o4-mini)"),
            _("Reasoning models: max_completion_tokens, no temperature, the developer role, reasoning effort."),
            {
                "context_window": 200_000,
                "max_output_tokens": 100_000,
                "token_param": ModelVersion.TokenParam.MAX_COMPLETION_TOKENS,
                "temperature_allowed": False,
                "system_role": ModelVersion.SystemRole.DEVELOPER,
                "reasoning_efforts": "low,medium,high",
                "vision": True,
                "streaming": True,
                "usage_in_stream": True,
            },
        ),
        Preset(
            "gpt-5",
            _("GPT-5 family"),
            _("Reasoning chat models: max_completion_tokens, no temperature, the developer role, minimal effort too."),
            {
                "context_window": 400_000,
                "max_output_tokens": 128_000,
                "token_param": ModelVersion.TokenParam.MAX_COMPLETION_TOKENS,
                "temperature_allowed": False,
                "system_role": ModelVersion.SystemRole.DEVELOPER,
                "reasoning_efforts": "minimal,low,medium,high",
                "vision": True,
                "streaming": True,
                "usage_in_stream": True,
            },
        ),
    )
}


def preset_get(key: object) -> Preset | None:
    return PRESETS.get(key) if isinstance(key, str) else None


def copy_initial(source: ModelVersion, preset: Preset | None = None) -> dict[str, Any]:
    """The form's starting values for a new version from ``source``: its flags (a preset's over them), no version."""
    initial = {name: getattr(source, name) for name in COPIED_FIELDS}
    if preset is not None:
        initial.update(preset.flags)
    initial["status"] = ModelVersion.Status.ACTIVE
    return initial


@dataclass(frozen=True)
class Change:
    field: str
    label: str
    before: str
    after: str


def version_diff(before: ModelVersion, after: ModelVersion) -> list[Change]:
    """What differs between two versions, field by field, in the form's order (``version`` included)."""
    changes = []
    for name in ("version", *COPIED_FIELDS):
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            label = str(getattr(ModelVersion._meta.get_field(name), "verbose_name", name))
            changes.append(Change(name, label, _shown(before, name, old), _shown(after, name, new)))
    return changes


def _shown(version: ModelVersion, name: str, value: Any) -> str:
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, int):
        return f"{value:,}"
    display = getattr(version, f"get_{name}_display", None)
    return str(display()) if display is not None else (str(value) or "—")
