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
from chat.models import (
    Deployment,
    ModelVersion,
    ModelVersionAccess,
    ModelVersionDeployment,
    Notice,
    ProviderKind,
    SlackWorkspace,
)
from chat.services import deployment_check, deployment_check_and_record, deployment_check_record, notice_save
from tenants.admin_scoping import OperatorOnlyAdmin, TenantScopedAdmin, is_operator


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


class DeploymentForm(SecretFormMixin, forms.ModelForm[Deployment]):
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
            "region",
            "notes",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.check_result: Any = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        candidate = construct_instance(self, copy.copy(self.instance))
        try:
            candidate.full_clean(validate_unique=False)
        except ValidationError:
            return cleaned  # the model's own validation reports it; no live call for an invalid form
        # Live test with exactly what is about to be saved.
        self.check_result = deployment_check(deployment=candidate)
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
class DeploymentAdmin(OperatorOnlyAdmin[Deployment]):
    form = DeploymentForm
    list_display = ["label", "kind", "endpoint_host", "deployment_name", "api_version", "enabled", "check_state"]
    list_filter = ["kind", "enabled", "region"]
    search_fields = ["label", "endpoint", "deployment_name"]
    readonly_fields = ["key_fingerprint", "last_check_at", "last_check_ok", "last_check_latency_ms"]
    readonly_fields += ["last_check_model", "last_check_error"]
    actions = ["test_connection"]
    change_list_template = "admin/chat/deployment/change_list.html"

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
        super().save_model(request, obj, form, change)
        result = form.check_result
        if result is None:
            return
        deployment_check_record(deployment=obj, result=result)
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
        for deployment in queryset:
            result = deployment_check_and_record(deployment=deployment)
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
            path("health/", self.admin_site.admin_view(self.health_view), name="chat_deployment_health"),
            *super().get_urls(),
        ]

    def health_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        if request.method == "POST":
            for deployment in Deployment.objects.all():
                deployment_check_and_record(deployment=deployment)
            self.message_user(request, gettext("All deployments were checked."), messages.SUCCESS)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Deployment health"),
            "deployments": Deployment.objects.order_by("label"),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/chat/deployment/health.html", context)


@admin.register(ModelVersion)
class ModelVersionAdmin(OperatorOnlyAdmin[ModelVersion]):
    list_display = ["display_name", "family", "version", "status", "serving", "companies"]
    list_filter = ["status", "family"]
    search_fields = ["display_name", "family", "version"]
    inlines = [ModelVersionDeploymentInline, ModelVersionAccessInline]
    fieldsets = [
        (None, {"fields": ["display_name", "family", "version", "status", "deprecated_on", "retires_on"]}),
        (_("Limits"), {"fields": ["context_window", "max_output_tokens"]}),
        (
            _("Capabilities"),
            {
                "fields": [
                    "token_param",
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


__all__ = ["DeploymentAdmin", "ModelVersionAdmin", "ProviderKind"]


@admin.register(Notice)
class NoticeAdmin(TenantScopedAdmin[Notice]):
    """Operators edit the notice for everyone and any company's override; tenant admins their company's override.
    Saving a changed text makes a new version, shown live on every open chat page."""

    list_display = ["__str__", "tenant", "active", "version", "updated_at"]
    fields = ["tenant", "web_text_ja", "web_text_en", "slack_text_ja", "slack_text_en", "active", "version"]
    readonly_fields = ["version"]

    def save_model(self, request: HttpRequest, obj: Notice, form: Any, change: bool) -> None:
        if not is_operator(request):
            obj.tenant_id = request.user.tenant_id  # type: ignore[union-attr]
        notice_save(notice=obj)


# --- Slack ----------------------------------------------------------------------------------------------------------
class SlackWorkspaceForm(SecretFormMixin, forms.ModelForm[SlackWorkspace]):
    """Secrets are write-only (empty keeps them); the bot token is checked live with ``auth.test`` on save, which
    also fills in the bot's user id and name."""

    SECRETS = ("signing_secret", "bot_token")

    signing_secret = secret_input(
        _("signing secret"),
        _("Basic Information → App Credentials. Stored encrypted. Leave empty to keep the current one."),
    )
    bot_token = secret_input(
        _("bot token"),
        _("OAuth & Permissions → Bot User OAuth Token (xoxb-…). Stored encrypted. Leave empty to keep it."),
    )

    class Meta:
        model = SlackWorkspace
        fields = [
            "tenant",
            "slug",
            "team_id",
            "app_id",
            "signing_secret",
            "bot_token",
            "model_version",
            "enabled",
            "include_thread_context",
            "notice_language",
        ]

    def clean(self) -> dict[str, Any]:
        from chat.selectors import model_version_list
        from chat.slack.client import bot_identity

        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        if cleaned.get("enabled"):
            # A new entry may be saved disabled without credentials, to get its Request URL and manifest first.
            for name in ("app_id", "signing_secret", "bot_token"):
                if not cleaned.get(name):
                    self.add_error(name, gettext("Required to enable the workspace."))
            if self.errors:
                return cleaned
        elif not cleaned.get("bot_token"):
            return cleaned
        tenant = cleaned.get("tenant") or getattr(self.instance, "tenant", None)
        version = cleaned.get("model_version")
        if version is not None and tenant is not None and not model_version_list(tenant=tenant).filter(pk=version.pk):
            self.add_error("model_version", gettext("This model is not available for the company."))
            return cleaned
        identity = bot_identity(token=cleaned["bot_token"])
        if not identity.ok:
            self.add_error(
                "bot_token", gettext("Slack refused the bot token (auth.test: %(error)s).") % {"error": identity.error}
            )
            return cleaned
        if identity.team_id and cleaned.get("team_id") and identity.team_id != cleaned["team_id"]:
            self.add_error(
                "team_id",
                gettext("The bot token belongs to Slack workspace %(actual)s, not %(expected)s.")
                % {"actual": identity.team_id, "expected": cleaned["team_id"]},
            )
            return cleaned
        self.instance.bot_user_id = identity.user_id
        self.instance.bot_id = identity.bot_id
        self.instance.bot_name = identity.name
        return cleaned


@admin.register(SlackWorkspace)
class SlackWorkspaceAdmin(TenantScopedAdmin[SlackWorkspace]):
    """Operators manage every company's Slack app; tenant admins only their own. Changes are audited (secrets as
    fingerprints). The change page shows the Request URL and the app manifest to paste into Slack."""

    form = SlackWorkspaceForm
    change_form_template = "admin/chat/slackworkspace/change_form.html"
    list_display = ["slug", "tenant", "team_id", "bot_name", "enabled", "include_thread_context", "notice_language"]
    list_filter = ["tenant", "enabled"]
    search_fields = ["slug", "team_id", "app_id"]
    readonly_fields = ["bot_user_id", "bot_name", "signing_secret_fingerprint", "bot_token_fingerprint"]

    @admin.display(description=_("signing secret"))
    def signing_secret_fingerprint(self, obj: SlackWorkspace) -> str:
        return fingerprint(obj.signing_secret or "") or "—"

    @admin.display(description=_("bot token"))
    def bot_token_fingerprint(self, obj: SlackWorkspace) -> str:
        return fingerprint(obj.bot_token or "") or "—"

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "model_version" and field is not None and not is_operator(request):
            from chat.selectors import model_version_list

            field.queryset = model_version_list(tenant=request.user.tenant)  # type: ignore[union-attr]
        return field

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        from chat.slack.manifest import app_manifest_json, request_url

        workspace = self.get_object(request, object_id)  # 404 for another tenant's row
        if workspace is not None:
            url = request_url(base_url=f"https://{request.get_host()}", workspace=workspace)
            extra_context = {
                **(extra_context or {}),
                "slack_request_url": url,
                "slack_manifest": app_manifest_json(workspace=workspace, events_url=url),
            }
        return super().change_view(request, object_id, form_url, extra_context)
