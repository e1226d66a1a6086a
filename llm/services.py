"""Writes of the model layer: live checks of a deployment against its upstream, and their result on the row.

A live check is a network call: callers make it outside any database transaction (the admin runs it before the
transaction of a save opens, and records the result after), and it is bounded by ``LLM_ADMIN_CHECK_TIMEOUT``
whatever the deployment's own timeouts, so a hanging upstream never holds an admin request or a pooled
connection for long. Several deployments are checked at once."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from llm.client import ConnectionTestResult, DeploymentSpec, test_connection
from llm.models import Deployment, ModelVersion
from llm.specs import deployment_spec, model_spec


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
