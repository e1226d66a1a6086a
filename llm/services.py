"""Writes of the model layer: live checks of a deployment against its upstream, and their result on the row.

A live check is a network call: callers make it outside any database transaction (the admin runs it before the
transaction of a save opens, and records the result after), and it is bounded by ``LLM_ADMIN_CHECK_TIMEOUT``
whatever the deployment's own timeouts, so a hanging upstream never holds an admin request or a pooled
connection for long. Several deployments are checked at once."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from audit.services import audit_record
from llm.client import ConnectionTestResult, DeploymentSpec, test_connection
from llm.models import Deployment, ModelVersion, ModelVersionAccess, ModelVersionDeployment
from llm.release import version_diff
from llm.signals import model_version_replaced
from llm.specs import deployment_spec, model_spec
from tenants.models import Tenant, User


def bounded(spec: DeploymentSpec) -> DeploymentSpec:
    """The deployment's spec with every timeout capped at the admin's budget."""
    budget = float(settings.LLM_ADMIN_CHECK_TIMEOUT)
    return dataclasses.replace(
        spec,
        connect_timeout=min(spec.connect_timeout, budget),
        first_token_timeout=min(spec.first_token_timeout, budget),
        total_timeout=min(spec.total_timeout, budget),
    )


def deployments_check(
    *, deployments: Sequence[Deployment], model_version: ModelVersion | None = None
) -> list[ConnectionTestResult]:
    """Live calls to each deployment's upstream with its current settings (saved or not), all at once."""
    calls = [
        (bounded(deployment_spec(d)), model_spec(model_version, deployments=[d]) if model_version else None)
        for d in deployments
    ]

    async def run_all() -> list[ConnectionTestResult]:
        return list(await asyncio.gather(*(test_connection(spec, model) for spec, model in calls)))

    return async_to_sync(run_all)() if calls else []


@transaction.atomic
def deployment_save(
    *, deployment: Deployment, acting_user: AbstractBaseUser | AnonymousUser, check: ConnectionTestResult | None = None
) -> Deployment:
    """Save a deployment edited in the admin console, with the result of the live check made before this
    transaction (``check``). Platform operators only. The admin records the audit entry (before/after, key as a
    fingerprint) in the same transaction."""
    if not getattr(acting_user, "is_superuser", False):
        raise PermissionDenied("only platform operators manage deployments")
    deployment.save()
    if check is not None:
        deployment_check_record(deployment=deployment, result=check)
    return deployment


def deployment_check(*, deployment: Deployment, model_version: ModelVersion | None = None) -> ConnectionTestResult:
    return deployments_check(deployments=[deployment], model_version=model_version)[0]


@transaction.atomic
def deployment_check_record(*, deployment: Deployment, result: ConnectionTestResult) -> None:
    """Keep the last check on the row (health page); not an admin change, so not audited."""
    Deployment.objects.filter(pk=deployment.pk).update(
        last_check_at=timezone.now(),
        last_check_ok=result.ok,
        last_check_latency_ms=result.latency_ms,
        last_check_model=(result.upstream_model or "")[:200],
        last_check_error="" if result.ok else result.admin_message,
        last_check_error_params=_error_params(deployment, result),
    )


def _error_params(deployment: Deployment, result: ConnectionTestResult) -> dict[str, Any]:
    """What ``Deployment.last_check_error_text`` needs to say the error in the reader's language."""
    if result.ok or result.error is None:
        return {}
    spec = deployment_spec(deployment)
    return {
        "kind": result.error.kind,
        "status_code": result.error.status_code,
        "retry_after": result.error.retry_after,
        "detail": result.error.detail,
        "host": spec.host,
        "deployment_name": spec.deployment_name,
        "api_version": spec.api_version,
    }


def deployments_check_and_record(*, deployments: Sequence[Deployment]) -> list[ConnectionTestResult]:
    """Check at once, then record each result (the writes come after the network, one short transaction each)."""
    results = deployments_check(deployments=deployments)
    for deployment, result in zip(deployments, results, strict=True):
        deployment_check_record(deployment=deployment, result=result)
    return results


# --- Release day (llm.release, docs/models.md "Release-day runbook") ---------------------------------------------
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
        allowed = had | chosen_ids  # who may use the new version now: those who had it, and those just granted
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
