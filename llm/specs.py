"""From the admin console's rows to the client layer's plain specs (llm.client has no ORM)."""

from __future__ import annotations

from django.conf import settings

from llm.client.types import DeploymentSpec, ModelSpec, ProviderKind
from llm.models import DIRECT, Deployment, ModelVersion
from llm.selectors import model_version_with_deployments


def deployment_spec(deployment: Deployment) -> DeploymentSpec:
    return DeploymentSpec(
        id=deployment.pk,
        label=deployment.label,
        kind=ProviderKind(deployment.kind),
        endpoint=deployment.endpoint,
        deployment_name=deployment.deployment_name,
        api_version=deployment.api_version,
        api_key=deployment.api_key or "",
        connect_timeout=deployment.connect_timeout,
        first_token_timeout=deployment.first_token_timeout,
        stall_timeout=deployment.stall_timeout,
        proxy=egress_proxy(deployment),
    )


def egress_proxy(deployment: Deployment) -> str:
    """The deployment's own proxy, else LLM_EGRESS_PROXY; ``direct`` on the deployment means none."""
    own = (deployment.proxy_url or "").strip()
    if own.lower() == DIRECT:
        return ""
    return own or str(settings.LLM_EGRESS_PROXY or "")


def model_spec(model_version: ModelVersion, deployments: list[Deployment] | None = None) -> ModelSpec:
    """The spec for one call. ``deployments`` defaults to the version's enabled ones, primary first."""
    if deployments is None:
        loaded = model_version_with_deployments(model_version_id=model_version.pk)
        deployments = [link.deployment for link in loaded.serving]  # type: ignore[attr-defined]
    return ModelSpec(
        label=model_version.label,
        family=model_version.family,
        version=model_version.version,
        token_param=model_version.token_param,  # type: ignore[arg-type]
        temperature_allowed=model_version.temperature_allowed,
        system_role=model_version.system_role,  # type: ignore[arg-type]
        streaming=model_version.streaming,
        usage_in_stream=model_version.usage_in_stream,
        reasoning_efforts=model_version.reasoning_effort_values,
        context_window=model_version.context_window,
        max_output_tokens=model_version.max_output_tokens,
        deployments=tuple(deployment_spec(d) for d in deployments),
    )


def deployment_snapshot(deployment: Deployment | None, model_version: ModelVersion | None) -> dict[str, str]:
    """What the audit trail keeps of where a call went: never the key."""
    if deployment is None:
        return {"model_version": model_version.label if model_version else ""}
    return {
        "deployment_label": deployment.label,
        "endpoint_host": deployment.endpoint_host,
        "api_style": deployment.kind,
        "api_version": deployment.api_version,
        "deployment_name": deployment.deployment_name,
        "model_version": model_version.label if model_version else "",
    }
