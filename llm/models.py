"""Deployments and model versions (global, managed by platform operators) and, per tenant, which versions a
company may use."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlparse

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, URLValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from llm.crypto import EncryptedTextField
from tenants.models import Tenant, TenantScopedModel

DIRECT = "direct"  # Deployment.proxy_url: no proxy, even when LLM_EGRESS_PROXY is set


class ProviderKind(models.TextChoices):
    AZURE_DATED = "azure_dated", _("Azure OpenAI, dated API (/openai/deployments/…?api-version=)")
    AZURE_V1 = "azure_v1", _("Azure OpenAI, v1 API (/openai/v1/)")
    OPENAI_COMPATIBLE = "openai_compatible", _("OpenAI or OpenAI-compatible endpoint")
    FAKE = "fake", _("Built-in fake model (development)")


class _CheckedDeployment:
    """The few facts of a deployment an admin error sentence names (host, deployment name, api-version)."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.host = str(params.get("host") or "?")
        self.deployment_name = str(params.get("deployment_name") or "?")
        self.api_version = str(params.get("api_version") or "?")


class Deployment(models.Model):
    """One upstream deployment of a model: where to call and with which key."""

    label = models.CharField(_("label"), max_length=100, unique=True, help_text=_("e.g. japaneast-gpt4o"))
    kind = models.CharField(_("API style"), max_length=32, choices=ProviderKind.choices)
    endpoint = models.CharField(
        _("endpoint"),
        max_length=300,
        help_text=_(
            "Azure: https://RESOURCE.openai.azure.com · OpenAI-compatible: the base URL, e.g. https://api.openai.com/v1"
        ),
    )
    deployment_name = models.CharField(
        _("deployment / model name"),
        max_length=200,
        blank=True,
        help_text=_("Azure: the deployment name. OpenAI-compatible: the model name sent in requests."),
    )
    api_version = models.CharField(
        _("api-version"), max_length=40, blank=True, help_text=_("Azure dated API only, e.g. 2024-10-21.")
    )
    api_key = EncryptedTextField(_("API key"), blank=True)
    connect_timeout = models.FloatField(_("connect timeout (s)"), default=5, validators=[MinValueValidator(0.1)])
    first_token_timeout = models.FloatField(
        _("first-token timeout (s)"), default=60, validators=[MinValueValidator(0.1)]
    )
    stall_timeout = models.FloatField(_("stall timeout (s)"), default=60, validators=[MinValueValidator(0.1)])
    enabled = models.BooleanField(_("enabled"), default=True)
    proxy_url = models.CharField(
        _("outbound proxy"),
        max_length=300,
        blank=True,
        help_text=_(
            "http://host:port of the HTTP(S) proxy this deployment's calls go through. Empty: the server's "
            "LLM_EGRESS_PROXY setting; “direct”: no proxy."
        ),
    )
    region = models.CharField(_("region"), max_length=60, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    last_check_at = models.DateTimeField(_("last check"), null=True, blank=True, editable=False)
    last_check_ok = models.BooleanField(_("last check passed"), null=True, editable=False)
    last_check_latency_ms = models.FloatField(_("latency (ms)"), null=True, editable=False)
    last_check_model = models.CharField(_("model reported"), max_length=200, blank=True, editable=False)
    last_check_error = models.TextField(_("last error"), blank=True, editable=False)
    # The error's kind and values: the sentence is made in the reader's language when shown (last_check_error_text).
    last_check_error_params = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    AUDIT_SECRET_FIELDS = ("api_key", "proxy_url")  # a proxy URL may carry credentials

    class Meta:
        verbose_name = _("deployment")
        verbose_name_plural = _("deployments")
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label

    def last_check_error_text(self) -> str:
        """The last check's error in the active language (stored as a kind with values; older rows as text)."""
        params = self.last_check_error_params or {}
        if not params.get("kind"):
            return self.last_check_error
        from llm.client.errors import admin_message
        from llm.client.types import Error

        error = Error(
            kind=str(params["kind"]),
            message="",
            retryable=False,
            status_code=params.get("status_code"),
            retry_after=params.get("retry_after"),
            detail=str(params.get("detail") or ""),
        )
        return admin_message(error, cast(Any, _CheckedDeployment(params)))

    @property
    def endpoint_host(self) -> str:
        """Host and port (``aoai.example.com``, ``10.0.0.5:8443``): what the admin and the audit trail show."""
        return urlparse(self.endpoint).netloc.rpartition("@")[2]

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.kind == ProviderKind.AZURE_DATED and not self.api_version:
            errors["api_version"] = _("The dated Azure API needs an api-version, e.g. 2024-10-21.")
        if self.kind in (ProviderKind.AZURE_DATED, ProviderKind.AZURE_V1) and not self.deployment_name:
            errors["deployment_name"] = _("Azure needs the deployment name.")
        if self.kind != ProviderKind.AZURE_DATED and self.api_version:
            errors["api_version"] = _("Only the dated Azure API takes an api-version; leave it empty.")
        if self.kind != ProviderKind.FAKE and not self.api_key:
            errors["api_key"] = _("Enter the API key.")
        if self.kind != ProviderKind.FAKE:
            try:
                URLValidator(schemes=["http", "https"])(self.endpoint)
            except ValidationError:
                errors["endpoint"] = _("Enter the endpoint as an http(s) URL.")
        proxy = (self.proxy_url or "").strip()
        if proxy and proxy.lower() != DIRECT:
            try:
                URLValidator(schemes=["http", "https"])(proxy)
            except ValidationError:
                errors["proxy_url"] = _("Enter the proxy as http://host:port (or https://), or “direct”.")
        if errors:
            raise ValidationError(errors)


class ModelVersion(models.Model):
    """What people pick: a model family and version, its capabilities and the deployments that serve it."""

    class Status(models.TextChoices):
        PREVIEW = "preview", _("Preview")
        ACTIVE = "active", _("Active")
        DEPRECATED = "deprecated", _("Deprecated")
        RETIRED = "retired", _("Retired")

    class TokenParam(models.TextChoices):
        MAX_TOKENS = "max_tokens", "max_tokens"
        MAX_COMPLETION_TOKENS = "max_completion_tokens", "max_completion_tokens"

    class SystemRole(models.TextChoices):
        SYSTEM = "system", _("system")
        DEVELOPER = "developer", _("developer")
        NONE = "none", _("none (folded into the first user message)")

    display_name = models.CharField(_("display name"), max_length=100)
    family = models.CharField(_("model family"), max_length=60, help_text=_("e.g. gpt-4o, o3-mini"))
    version = models.CharField(_("version"), max_length=40, help_text=_("e.g. 2024-11-20"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    deprecated_on = models.DateField(_("deprecated on"), null=True, blank=True)
    retires_on = models.DateField(_("retires on"), null=True, blank=True)
    context_window = models.PositiveIntegerField(_("context window (tokens)"), default=128_000)
    max_output_tokens = models.PositiveIntegerField(_("output limit (tokens)"), default=4_096)
    token_param = models.CharField(
        _("token parameter"), max_length=32, choices=TokenParam.choices, default=TokenParam.MAX_TOKENS
    )
    temperature_allowed = models.BooleanField(_("temperature allowed"), default=True)
    system_role = models.CharField(
        _("system prompt role"), max_length=16, choices=SystemRole.choices, default=SystemRole.SYSTEM
    )
    description_en = models.CharField(
        _("description (English)"),
        max_length=300,
        blank=True,
        help_text=_("What this model is good for, shown in the picker."),
    )
    description_ja = models.CharField(_("description (Japanese)"), max_length=300, blank=True)
    vision = models.BooleanField(_("understands images"), default=False)
    streaming = models.BooleanField(_("streaming allowed"), default=True)
    usage_in_stream = models.BooleanField(_("usage reported in stream"), default=True)
    reasoning_efforts = models.CharField(
        _("reasoning-effort values"), max_length=100, blank=True, help_text=_("Comma-separated, e.g. low,medium,high")
    )
    deployments = models.ManyToManyField(
        Deployment, through="ModelVersionDeployment", related_name="model_versions", verbose_name=_("deployments")
    )
    tenants = models.ManyToManyField(
        Tenant, through="ModelVersionAccess", related_name="model_versions", verbose_name=_("companies")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")
        ordering = ["family", "-version"]
        constraints = [models.UniqueConstraint(fields=["family", "version"], name="modelversion_family_version")]

    def __str__(self) -> str:
        return self.display_name

    @property
    def label(self) -> str:
        return f"{self.family} {self.version}"

    @property
    def reasoning_effort_values(self) -> tuple[str, ...]:
        return tuple(v.strip() for v in self.reasoning_efforts.split(",") if v.strip())


class ModelVersionDeployment(models.Model):
    """A deployment serving a model version; the lowest priority is the primary, the others are fallbacks."""

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE)
    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, verbose_name=_("deployment"))
    priority = models.PositiveSmallIntegerField(_("priority"), default=0, help_text=_("0 = primary"))

    class Meta:
        verbose_name = _("serving deployment")
        verbose_name_plural = _("serving deployments")
        ordering = ["priority", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["model_version", "deployment"], name="mvd_unique_deployment"),
        ]

    def __str__(self) -> str:
        return f"{self.model_version} → {self.deployment} ({self.priority})"


class ModelVersionAccess(TenantScopedModel):
    """A company may use a model version; at most one is the company's default."""

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE)
    is_default = models.BooleanField(_("default for this company"), default=False)

    class Meta:
        verbose_name = _("company access")
        verbose_name_plural = _("company access")
        constraints = [
            models.UniqueConstraint(fields=["model_version", "tenant"], name="mva_unique_tenant"),
            models.UniqueConstraint(
                fields=["tenant"], condition=models.Q(is_default=True), name="mva_one_default_per_tenant"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant} · {self.model_version}"
