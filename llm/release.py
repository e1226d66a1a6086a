"""Release day (docs/models.md, "Release-day runbook"): a new model version in one step.

* **Presets** per model family: the capability flags and limits a family needs, as a starting point.
* **New version from this one**: the flags, descriptions and company access of an existing version copied onto a
  new one, tested with the request its flags build before anything is saved (``llm.services.deployments_check``).
* **Roll-out**: give chosen companies (or all) access, make it their default, retire the version it replaces and
  move that version's conversations, in one transaction that never trips the one-default-per-company constraint.

Every change is recorded in the audit trail in its own transaction: the platform's chain, and each company's for
what changed for that company.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.services import audit_record
from llm.models import ModelVersion, ModelVersionAccess, ModelVersionDeployment
from llm.signals import model_version_replaced
from tenants.models import Tenant, User

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


def _operator(acting_user: AbstractBaseUser | AnonymousUser) -> User:
    if not getattr(acting_user, "is_superuser", False) or not isinstance(acting_user, User):
        raise PermissionDenied("only platform operators manage model versions")
    return acting_user


@transaction.atomic
def model_version_copy(
    *,
    source: ModelVersion,
    version: ModelVersion,
    deployment_ids: Sequence[int],
    acting_user: AbstractBaseUser | AnonymousUser,
) -> ModelVersion:
    """Save ``version`` (unsaved, validated, its request already tested on ``deployment_ids``) as a new version
    from ``source``: served by those deployments in the order given, open to the companies ``source`` is open to
    (defaults stay where they are: the roll-out moves them)."""
    actor = _operator(acting_user)
    version.save(force_insert=True)
    links = [
        ModelVersionDeployment(model_version=version, deployment_id=pk, priority=i)
        for i, pk in enumerate(deployment_ids)
    ]
    ModelVersionDeployment.objects.bulk_create(links)
    tenants = list(ModelVersionAccess.objects.filter(model_version=source).values_list("tenant_id", flat=True))
    ModelVersionAccess.objects.bulk_create(ModelVersionAccess(model_version=version, tenant_id=t) for t in tenants)
    audit_record(
        event_type="admin.modelversion.created",
        tenant=None,
        actor=actor,
        model_label=version.label,
        payload={
            "model_version": version.label,
            "from": source.label,
            "changed": {c.field: [c.before, c.after] for c in version_diff(source, version)},
            "deployments": list(deployment_ids),
            "companies": tenants,
        },
    )
    return version


def model_defaults_take_over(
    *, version: ModelVersion, tenant_ids: set[int], acting_user: AbstractBaseUser | AnonymousUser
) -> list[int]:
    """``version`` becomes the default of these companies (the admin's access rows): their old defaults step down
    first, in the caller's transaction, so the switch never trips mva_one_default_per_tenant. Returns the companies
    whose default changed, each told on its own audit chain."""
    actor = _operator(acting_user)
    stepping_down = ModelVersionAccess.objects.filter(tenant_id__in=tenant_ids, is_default=True)
    if version.pk is not None:
        stepping_down = stepping_down.exclude(model_version=version)
    changed = list(stepping_down.select_related("model_version").order_by("tenant_id"))
    stepping_down.update(is_default=False)
    for access in changed:
        audit_record(
            event_type="admin.modelversion.default_changed",
            tenant=access.tenant_id,
            actor=actor,
            model_label=version.label,
            payload={"from": access.model_version.label, "to": version.label},
        )
    return [access.tenant_id for access in changed]


@dataclass(frozen=True)
class Rollout:
    version: ModelVersion
    granted: list[Tenant]  # companies that had no access before
    defaults: list[Tenant]  # companies whose default it became
    retired: ModelVersion | None
    conversations_moved: int


@transaction.atomic
def model_version_rollout(
    *,
    version: ModelVersion,
    tenants: Sequence[Tenant] | None,
    make_default: bool,
    retire: ModelVersion | None,
    acting_user: AbstractBaseUser | AnonymousUser,
) -> Rollout:
    """Open ``version`` to ``tenants`` (None: every active company), optionally as their default, and optionally
    retire ``retire``: its conversations move to ``version`` where the company may use it, else to the company's
    default. All or nothing; a roll-out that would leave a company without a default is refused (ValidationError)."""
    actor = _operator(acting_user)
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if version.status == ModelVersion.Status.RETIRED:
        raise ValidationError(gettext("%(label)s is retired: it cannot be rolled out.") % {"label": version.label})
    if retire is not None and retire.pk == version.pk:
        raise ValidationError(gettext("A version cannot replace itself."))
    chosen = list(Tenant.objects.filter(is_active=True)) if tenants is None else list(tenants)
    if not chosen:
        raise ValidationError(gettext("Choose at least one company, or all companies."))
    if make_default and not version.modelversiondeployment_set.filter(deployment__enabled=True).exists():
        raise ValidationError(
            gettext("%(label)s has no enabled deployment: people could not use it as their default.")
            % {"label": version.label}
        )
    chosen_ids = {t.pk for t in chosen}
    had = set(ModelVersionAccess.objects.filter(model_version=version).values_list("tenant_id", flat=True))
    granted = [t for t in chosen if t.pk not in had]
    ModelVersionAccess.objects.bulk_create(ModelVersionAccess(model_version=version, tenant=t) for t in granted)

    defaults: list[Tenant] = []
    if make_default:
        # The old defaults step down first: at no point does a company have two (mva_one_default_per_tenant).
        model_defaults_take_over(version=version, tenant_ids=chosen_ids, acting_user=actor)
        ModelVersionAccess.objects.filter(model_version=version, tenant_id__in=chosen_ids).update(is_default=True)
        defaults = chosen

    moved = 0
    if retire is not None:
        retire = ModelVersion.objects.select_for_update().get(pk=retire.pk)
        orphaned = list(
            Tenant.objects.filter(
                modelversionaccess__model_version=retire, modelversionaccess__is_default=True
            ).order_by("name")
        )
        if orphaned:
            raise ValidationError(
                gettext(
                    "Retiring %(old)s would leave these companies without a default model: %(names)s. "
                    "Include them and make %(new)s their default, or choose another default for them first."
                )
                % {"old": retire.label, "new": version.label, "names": ", ".join(t.name for t in orphaned)}
            )
        retire.status = ModelVersion.Status.RETIRED
        retire.save(update_fields=["status", "updated_at"])
        allowed = set(ModelVersionAccess.objects.filter(model_version=version).values_list("tenant_id", flat=True))
        # chat listens (it owns conversations): in this transaction, so a failure there undoes the roll-out.
        for _receiver, count in model_version_replaced.send(
            sender=ModelVersion, old=retire, new=version, tenant_ids=allowed
        ):
            moved += int(count or 0)

    payload = {
        "model_version": version.label,
        "companies": sorted(chosen_ids),
        "granted": [t.pk for t in granted],
        "default": make_default,
        "retired": retire.label if retire is not None else "",
        "conversations_moved": moved,
    }
    audit_record(
        event_type="admin.modelversion.rolled_out", tenant=None, actor=actor, model_label=version.label, payload=payload
    )
    for tenant in chosen:  # each company's own trail says what changed for it
        audit_record(
            event_type="admin.modelversion.rolled_out",
            tenant=tenant,
            actor=actor,
            model_label=version.label,
            payload={
                "model_version": version.label,
                "access_granted": tenant in granted,
                "default": make_default,
                "retired": payload["retired"],
            },
        )
    return Rollout(version=version, granted=granted, defaults=defaults, retired=retire, conversations_moved=moved)
