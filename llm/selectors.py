"""Reads of the model layer: which versions a company may use now, and which deployments serve them."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef, Prefetch, QuerySet
from django.http import Http404

from llm.models import Deployment, ModelVersion, ModelVersionAccess, ModelVersionDeployment
from tenants.models import Tenant

USABLE_STATUSES = (ModelVersion.Status.PREVIEW, ModelVersion.Status.ACTIVE, ModelVersion.Status.DEPRECATED)


def model_version_list(*, tenant: Tenant) -> QuerySet[ModelVersion]:
    """Versions people of ``tenant`` may pick: allowed for the tenant, not retired, served by an enabled
    deployment. Read per request, so an admin's change applies at once (no restart)."""
    served = ModelVersionDeployment.objects.filter(model_version=OuterRef("pk"), deployment__enabled=True)
    return (
        ModelVersion.objects.filter(modelversionaccess__tenant=tenant, status__in=USABLE_STATUSES)
        .filter(Exists(served))
        .order_by("family", "-version")
    )


def model_version_get(*, tenant: Tenant, model_version_id: int) -> ModelVersion:
    """A version ``tenant`` may use now; unknown, retired, disabled and forbidden are the same 404."""
    try:
        return model_version_list(tenant=tenant).get(pk=model_version_id)
    except (ModelVersion.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def model_version_default(*, tenant: Tenant) -> ModelVersion | None:
    """The tenant's default version, else the first usable one (one query: every new conversation asks)."""
    usable = model_version_list(tenant=tenant)
    return usable.order_by(F("modelversionaccess__is_default").desc(), "family", "-version").first()


def model_version_with_deployments(*, model_version_id: int) -> ModelVersion:
    """For building the client spec: enabled deployments in priority order, fetched in one go."""
    links = ModelVersionDeployment.objects.filter(deployment__enabled=True).select_related("deployment")
    return ModelVersion.objects.prefetch_related(
        Prefetch("modelversiondeployment_set", queryset=links.order_by("priority", "pk"), to_attr="serving")
    ).get(pk=model_version_id)


@dataclass(frozen=True)
class ServedModel:
    version: ModelVersion
    deployments: list[Deployment]  # enabled, primary first


def models_served(*, tenant: Tenant) -> list[ServedModel]:
    """Every version ``tenant`` may use now with its enabled deployments, the tenant's default first, in one query
    (a turn resolves its model and deployments from this). Same rules as ``model_version_list``."""
    links = (
        ModelVersionDeployment.objects.filter(
            deployment__enabled=True,
            model_version__modelversionaccess__tenant=tenant,
            model_version__status__in=USABLE_STATUSES,
        )
        .annotate(is_default=F("model_version__modelversionaccess__is_default"))
        .select_related("deployment", "model_version")
        .order_by("-is_default", "model_version__family", "-model_version__version", "priority", "pk")
    )
    served: dict[int, ServedModel] = {}
    for link in links:
        entry = served.get(link.model_version_id)
        if entry is None:
            entry = served[link.model_version_id] = ServedModel(link.model_version, [])
        entry.deployments.append(link.deployment)
    return list(served.values())


def model_access_list(*, tenant: Tenant) -> QuerySet[ModelVersionAccess]:
    return ModelVersionAccess.objects.filter(tenant=tenant).select_related("model_version")


def deployment_list() -> QuerySet[Deployment]:
    return Deployment.objects.order_by("label")
