"""Admin console for deployments and model versions (platform operators only; every change audited).

A deployment is tested against its upstream on save: a failing one can be saved only as disabled.
"""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.models import construct_instance
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.hashing import fingerprint
from llm.models import Deployment, ModelVersion, ModelVersionAccess, ModelVersionDeployment, ProviderKind
from llm.services import deployment_check, deployment_save, deployments_check_and_record
from tenants.admin_scoping import LiveCheckAdminMixin, LiveCheckForm, OperatorOnlyAdmin


def secret_input(label: Any, help_text: Any) -> forms.CharField:
    """A write-only secret: never rendered back; empty on save keeps the stored value (see SecretFormMixin)."""
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=help_text,
    )


class SecretFormMixin(forms.ModelForm):
    """Fields named in ``SECRETS`` show only a fingerprint of the stored value and keep it when left empty."""

    SECRETS: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stored = {name: getattr(self.instance, name) if self.instance.pk else "" for name in self.SECRETS}
        for name, value in self._stored.items():
            if value and name in self.fields:
                self.fields[name].help_text = gettext("Stored encrypted (%(fp)s). Leave empty to keep it.") % {
                    "fp": fingerprint(value)
                }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in self.SECRETS:
            if name in cleaned and not cleaned[name]:
                cleaned[name] = self._stored[name] or ""
        return cleaned


class DeploymentForm(SecretFormMixin, LiveCheckForm):
    SECRETS = ("api_key",)
    api_key = secret_input(_("API key"), _("Stored encrypted. Leave empty to keep the current key."))

    class Meta:
        model = Deployment
        fields = [
            "label",
            "kind",
            "endpoint",
            "deployment_name",
            "api_version",
            "api_key",
            "connect_timeout",
            "first_token_timeout",
            "stall_timeout",
            "enabled",
            "proxy_url",
            "region",
            "notes",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.check_result: Any = None

    def run_check(self, subject: Any) -> Any:
        return deployment_check(deployment=subject)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        candidate = construct_instance(self, copy.copy(self.instance))
        try:
            candidate.full_clean(validate_unique=False)
        except ValidationError:
            return cleaned  # the model's own validation reports it; no live call for an invalid form
        # Live test with exactly what is about to be saved (made before the transaction: LiveCheckAdminMixin).
        self.check_result = self.live_result(candidate)
        if self.check_result is None:
            return cleaned
        if not self.check_result.ok and candidate.enabled:
            self.add_error(
                None,
                gettext("The connection test failed: %(reason)s Fix it, or untick “enabled” to save it disabled.")
                % {"reason": self.check_result.admin_message},
            )
        return cleaned


class ModelVersionDeploymentInline(admin.TabularInline[ModelVersionDeployment, ModelVersion]):
    model = ModelVersionDeployment
    extra = 1
    autocomplete_fields = ["deployment"]


class ModelVersionAccessInline(admin.TabularInline[ModelVersionAccess, ModelVersion]):
    model = ModelVersionAccess
    extra = 1


@admin.register(Deployment)
class DeploymentAdmin(LiveCheckAdminMixin, OperatorOnlyAdmin[Deployment]):
    form = DeploymentForm
    list_display = ["label", "kind", "endpoint_host", "deployment_name", "api_version", "enabled", "check_state"]
    list_filter = ["kind", "enabled", "region"]
    search_fields = ["label", "endpoint", "deployment_name"]
    readonly_fields = ["key_fingerprint", "last_check_at", "last_check_ok", "last_check_latency_ms"]
    readonly_fields += ["last_check_model", "last_error"]
    actions = ["test_connection"]
    non_atomic_actions = frozenset({"test_connection"})  # network first, then one short write per result
    change_list_template = "admin/llm/deployment/change_list.html"

    @admin.display(description=_("last error"))
    def last_error(self, obj: Deployment) -> str:
        return obj.last_check_error_text()

    @admin.display(description=_("key"))
    def key_fingerprint(self, obj: Deployment) -> str:
        return fingerprint(obj.api_key or "") or "—"

    @admin.display(description=_("last check"))
    def check_state(self, obj: Deployment) -> str:
        if obj.last_check_at is None:
            return gettext("never")
        if obj.last_check_ok:
            return gettext("OK, %(ms)d ms") % {"ms": obj.last_check_latency_ms or 0}
        return gettext("failed")

    def save_model(self, request: HttpRequest, obj: Deployment, form: Any, change: bool) -> None:
        result = form.check_result
        deployment_save(deployment=obj, acting_user=request.user, check=result)
        if result is None:
            return
        if result.ok:
            self.message_user(
                request,
                gettext("Connection test passed in %(ms)d ms; the upstream reports model “%(model)s”.")
                % {"ms": result.latency_ms or 0, "model": result.upstream_model or "?"},
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                gettext("Saved as disabled. The connection test failed: %(reason)s") % {"reason": result.admin_message},
                messages.WARNING,
            )

    @admin.action(description=_("Test connection"))
    def test_connection(self, request: HttpRequest, queryset: QuerySet[Deployment]) -> None:
        deployments = list(queryset)
        for deployment, result in zip(deployments, deployments_check_and_record(deployments=deployments), strict=True):
            if result.ok:
                self.message_user(
                    request,
                    gettext("%(label)s: OK in %(ms)d ms (model “%(model)s”).")
                    % {"label": deployment.label, "ms": result.latency_ms or 0, "model": result.upstream_model or "?"},
                    messages.SUCCESS,
                )
            else:
                self.message_user(
                    request,
                    gettext("%(label)s: %(reason)s") % {"label": deployment.label, "reason": result.admin_message},
                    messages.ERROR,
                )

    def get_urls(self) -> list[Any]:
        return [
            path("health/", self.admin_site.admin_view(self.health_view), name="llm_deployment_health"),
            *super().get_urls(),
        ]

    def health_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        if request.method == "POST":
            deployments_check_and_record(deployments=list(Deployment.objects.all()))  # at once, each bounded
            self.message_user(request, gettext("All deployments were checked."), messages.SUCCESS)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Deployment health"),
            "deployments": Deployment.objects.order_by("label"),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/llm/deployment/health.html", context)


@admin.register(ModelVersion)
class ModelVersionAdmin(OperatorOnlyAdmin[ModelVersion]):
    list_display = ["display_name", "family", "version", "status", "serving", "companies"]
    list_filter = ["status", "family"]
    search_fields = ["display_name", "family", "version"]
    inlines = [ModelVersionDeploymentInline, ModelVersionAccessInline]
    fieldsets = [
        (None, {"fields": ["display_name", "family", "version", "status", "deprecated_on", "retires_on"]}),
        (_("Shown in the model picker"), {"fields": ["description_en", "description_ja"]}),
        (_("Limits"), {"fields": ["context_window", "max_output_tokens"]}),
        (
            _("Capabilities"),
            {
                "fields": [
                    "token_param",
                    "vision",
                    "temperature_allowed",
                    "system_role",
                    "streaming",
                    "usage_in_stream",
                    "reasoning_efforts",
                ]
            },
        ),
    ]

    @admin.display(description=_("deployments"))
    def serving(self, obj: ModelVersion) -> str:
        return ", ".join(link.deployment.label for link in obj.modelversiondeployment_set.all())

    @admin.display(description=_("companies"))
    def companies(self, obj: ModelVersion) -> str:
        return ", ".join(access.tenant.name for access in obj.modelversionaccess_set.all())

    def get_queryset(self, request: HttpRequest) -> Any:
        return (
            super()
            .get_queryset(request)
            .prefetch_related("modelversiondeployment_set__deployment", "modelversionaccess_set__tenant")
        )


__all__ = ["DeploymentAdmin", "ModelVersionAdmin", "ProviderKind", "SecretFormMixin", "secret_input"]
