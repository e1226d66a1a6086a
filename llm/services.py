"""Writes of the model layer: live checks of a deployment against its upstream, and their result on the row."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.db import transaction
from django.utils import timezone

from llm.client import ConnectionTestResult, test_connection
from llm.models import Deployment, ModelVersion
from llm.specs import deployment_spec, model_spec


def deployment_check(*, deployment: Deployment, model_version: ModelVersion | None = None) -> ConnectionTestResult:
    """A live call to the upstream with this deployment's current settings (saved or not)."""
    spec = deployment_spec(deployment)
    model = model_spec(model_version, deployments=[deployment]) if model_version is not None else None
    return async_to_sync(test_connection)(spec, model)


@transaction.atomic
def deployment_check_record(*, deployment: Deployment, result: ConnectionTestResult) -> None:
    """Keep the last check on the row (health page); not an admin change, so not audited."""
    Deployment.objects.filter(pk=deployment.pk).update(
        last_check_at=timezone.now(),
        last_check_ok=result.ok,
        last_check_latency_ms=result.latency_ms,
        last_check_model=(result.upstream_model or "")[:200],
        last_check_error="" if result.ok else result.admin_message,
    )


def deployment_check_and_record(*, deployment: Deployment) -> ConnectionTestResult:
    result = deployment_check(deployment=deployment)
    deployment_check_record(deployment=deployment, result=result)
    return result
