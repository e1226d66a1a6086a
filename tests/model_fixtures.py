"""Model fixtures shared by the chat, Slack, browser and model-admin tests: the real test upstream, deployments and
model versions pointing at it, two tenants' access. A conftest imports the fixtures it needs from here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llm.models import Deployment, ModelVersion, ModelVersionAccess, ModelVersionDeployment, ProviderKind
from tenants.models import Tenant
from tests.upstream.server import UpstreamServer

KEY = "sk-test-SECRET-0123456789abcdef"


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    with UpstreamServer(key=KEY) as server:
        server.add_deployment("gpt-4o")
        server.add_deployment("gpt-4o-eu")
        server.add_deployment("o3-mini", reasoning=True)
        yield server


def make_deployment(upstream: UpstreamServer, label: str, name: str, **extra: object) -> Deployment:
    fields: dict[str, object] = {
        "label": label,
        "kind": ProviderKind.AZURE_DATED,
        "endpoint": upstream.url,
        "deployment_name": name,
        "api_version": "2024-10-21",
        "api_key": KEY,
        "first_token_timeout": 2,
        "stall_timeout": 2,
        **extra,
    }
    return Deployment.objects.create(**fields)


@pytest.fixture
def gpt4o(upstream: UpstreamServer, tenant_a: Tenant, tenant_b: Tenant) -> ModelVersion:
    """gpt-4o served by a primary and a fallback deployment, allowed for tenant A only (A's default)."""
    primary = make_deployment(upstream, "japaneast-gpt4o", "gpt-4o")
    fallback = make_deployment(upstream, "eu-gpt4o", "gpt-4o-eu")
    version = ModelVersion.objects.create(display_name="GPT-4o", family="gpt-4o", version="2024-11-20")
    ModelVersionDeployment.objects.create(model_version=version, deployment=primary, priority=0)
    ModelVersionDeployment.objects.create(model_version=version, deployment=fallback, priority=1)
    ModelVersionAccess.objects.create(model_version=version, tenant=tenant_a, is_default=True)
    return version


@pytest.fixture
def o3mini(upstream: UpstreamServer, tenant_a: Tenant, tenant_b: Tenant) -> ModelVersion:
    """An o-series version allowed for both tenants (B's default)."""
    deployment = make_deployment(upstream, "japaneast-o3mini", "o3-mini", api_version="2024-12-01-preview")
    version = ModelVersion.objects.create(
        display_name="o3-mini",
        family="o3-mini",
        version="2025-01-31",
        token_param=ModelVersion.TokenParam.MAX_COMPLETION_TOKENS,
        temperature_allowed=False,
        system_role=ModelVersion.SystemRole.DEVELOPER,
        reasoning_efforts="low,medium,high",
        context_window=200_000,
        max_output_tokens=100_000,
    )
    ModelVersionDeployment.objects.create(model_version=version, deployment=deployment)
    ModelVersionAccess.objects.create(model_version=version, tenant=tenant_a)
    ModelVersionAccess.objects.create(model_version=version, tenant=tenant_b, is_default=True)
    return version
