"""Admin console for deployments and model versions (platform operators only; every change audited).

A deployment is tested against its upstream on save: a failing one can be saved only as disabled.
"""

from __future__ import annotations

import copy
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.forms.models import construct_instance
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.hashing import fingerprint
from llm.models import Deployment, ModelVersion, ModelVersionAccess, ModelVersionDeployment, ProviderKind
from llm.release import COPIED_FIELDS, FLAG_FIELDS, PRESETS, copy_initial, preset_get, version_diff
from llm.services import (
    Rollout,
    deployment_check,
    deployment_save,
    deployments_check,
    deployments_check_and_record,
    model_defaults_take_over,
    model_version_copy,
    model_version_rollout,
)
from tenants.admin_scoping import LiveCheckAdminMixin, LiveCheckForm, OperatorOnlyAdmin
from tenants.models import Tenant


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


class ModelVersionAccessForm(forms.ModelForm):
    def _get_validation_exclusions(self) -> Any:
        # One default per company (mva_one_default_per_tenant) holds after the save, not per row: ticking a new
        # default steps the company's old one down in the same transaction (ModelVersionAdmin.save_formset).
        exclude = super()._get_validation_exclusions()  # type: ignore[misc]  # private, not in the stubs
        exclude.add("is_default")
        return exclude


class ModelVersionAccessInline(admin.TabularInline[ModelVersionAccess, ModelVersion]):
    model = ModelVersionAccess
    form = ModelVersionAccessForm
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


class ModelVersionForm(LiveCheckForm):
    """A saved version's flags are tested on save with the request they build, on its enabled deployments."""

    class Meta:
        model = ModelVersion
        fields = "__all__"

    def run_check(self, subject: Any) -> Any:
        """Each enabled deployment with the result of the test request these flags build on it."""
        links = subject.modelversiondeployment_set.select_related("deployment")
        deployments = [link.deployment for link in links if link.deployment.enabled]
        results = deployments_check(deployments=deployments, model_version=subject)
        return list(zip(deployments, results, strict=True))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors or self.instance.pk is None:
            return cleaned  # a new version has no deployments yet: its first roll-out is tested by the copy form
        candidate = construct_instance(self, copy.copy(self.instance))
        try:
            candidate.full_clean(validate_unique=False)
        except ValidationError:
            return cleaned
        for deployment, result in self.live_result(candidate) or []:
            if not result.ok:
                self.add_error(None, check_failed(deployment, result))
        return cleaned


def check_failed(deployment: Deployment, result: Any) -> str:
    return gettext("The test request with these settings failed on %(deployment)s: %(reason)s") % {
        "deployment": deployment.label,
        "reason": result.admin_message,
    }


@admin.register(ModelVersion)
class ModelVersionAdmin(LiveCheckAdminMixin, OperatorOnlyAdmin[ModelVersion]):
    form = ModelVersionForm
    change_form_template = "admin/llm/modelversion/change_form.html"
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

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        preset = preset_get(request.GET.get("preset"))
        return {**initial, **preset.flags} if preset is not None else initial

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        context["presets"] = PRESETS.values()
        context["preset"] = preset_get(request.GET.get("preset"))
        return super().render_change_form(request, context, *args, **kwargs)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is ModelVersionAccess:
            takes_over = {
                f.cleaned_data["tenant"].pk
                for f in formset.forms
                if f.cleaned_data.get("is_default")
                and f.cleaned_data.get("tenant")
                and not f.cleaned_data.get("DELETE")
            }
            model_defaults_take_over(version=form.instance, tenant_ids=takes_over, acting_user=request.user)
        super().save_formset(request, form, formset, change)

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("<int:object_id>/copy/", view(self.copy_view), name="llm_modelversion_copy"),
            path("<int:object_id>/rollout/", view(self.rollout_view), name="llm_modelversion_rollout"),
            *super().get_urls(),
        ]

    def _page(self, request: HttpRequest, template: str, **context: Any) -> HttpResponse:
        return TemplateResponse(
            request, template, {**self.admin_site.each_context(request), "opts": self.model._meta, **context}
        )

    def copy_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """New version from this one: its flags, descriptions, deployments and companies as the start; a diff
        against it; the request the flags build tested on the chosen deployments before anything is saved."""
        source = self.get_object(request, str(object_id))
        if source is None or not self.has_add_permission(request):
            raise PermissionDenied
        preset = preset_get(request.GET.get("preset"))
        if request.method == "POST":
            form = ModelVersionCopyForm(request.POST)
            if form.is_valid():
                candidate = form.save(commit=False)
                chosen = list(form.cleaned_data["deployments"])
                # The network first, outside any transaction; nothing is saved unless every deployment answers.
                results = deployments_check(deployments=chosen, model_version=candidate)
                failed = [(d, r) for d, r in zip(chosen, results, strict=True) if not r.ok]
                for deployment, result in failed:
                    form.add_error(None, check_failed(deployment, result))
                if not failed:
                    version = model_version_copy(
                        source=source,
                        version=candidate,
                        deployment_ids=[d.pk for d in chosen],
                        acting_user=request.user,
                    )
                    self.message_user(
                        request,
                        gettext("%(label)s saved; the test request passed on %(deployments)s. Roll it out next.")
                        % {"label": version.label, "deployments": ", ".join(d.label for d in chosen)},
                        messages.SUCCESS,
                    )
                    url = reverse("admin:llm_modelversion_rollout", args=[version.pk])
                    return HttpResponseRedirect(f"{url}?{urlencode({'replaces': source.pk})}")
        else:
            initial = copy_initial(source, preset)
            initial["deployments"] = [link.deployment_id for link in source.modelversiondeployment_set.all()]
            form = ModelVersionCopyForm(initial=initial)
        diff = version_diff(source, ModelVersion(**form_values(form, ("version", *COPIED_FIELDS))))
        return self._page(
            request,
            "admin/llm/modelversion/copy.html",
            title=gettext("New version from %(label)s") % {"label": source.label},
            source=source,
            form=form,
            diff=diff,
            presets=PRESETS.values(),
            preset=preset,
            companies=[a.tenant for a in source.modelversionaccess_set.select_related("tenant")],
        )

    def rollout_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Roll-out in one form: companies (or all), default or not, the version it replaces retired."""
        version = self.get_object(request, str(object_id))
        if version is None or not self.has_change_permission(request, version):
            raise PermissionDenied
        if request.method == "POST":
            form = RolloutForm(request.POST, version=version)
            if form.is_valid():
                try:
                    done = model_version_rollout(
                        version=version,
                        tenants=None if form.cleaned_data["all_companies"] else list(form.cleaned_data["companies"]),
                        make_default=form.cleaned_data["make_default"],
                        retire=form.cleaned_data["retire"],
                        acting_user=request.user,
                    )
                except ValidationError as exc:
                    form.add_error(None, exc)
                else:
                    self.message_user(request, rollout_summary(done), messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:llm_modelversion_change", args=[version.pk]))
        else:
            form = RolloutForm(version=version, initial={"retire": request.GET.get("replaces")})
        return self._page(
            request,
            "admin/llm/modelversion/rollout.html",
            title=gettext("Roll out %(label)s") % {"label": version.label},
            version=version,
            form=form,
            access=version.modelversionaccess_set.select_related("tenant").order_by("tenant__name"),
        )


def form_values(form: forms.BaseForm, names: tuple[str, ...]) -> dict[str, Any]:
    """The form's values as Python values (a bound form's input, else its initial ones); a value that does not
    clean is kept as typed, so the diff shows it."""
    values = {}
    for name in names:
        raw = form[name].value()
        try:
            values[name] = form.fields[name].clean(raw)
        except ValidationError:
            values[name] = raw
    return values


class ModelVersionCopyForm(forms.ModelForm):
    deployments = forms.ModelMultipleChoiceField(
        Deployment.objects.order_by("label"),
        label=_("Serving deployments"),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Tested with the request these settings build before anything is saved. The first is primary."),
    )

    class Meta:
        model = ModelVersion
        fields = ["display_name", "family", "version", "status", "description_en", "description_ja", *FLAG_FIELDS]


class RolloutForm(forms.Form):
    all_companies = forms.BooleanField(label=_("All companies"), required=False)
    companies = forms.ModelMultipleChoiceField(
        Tenant.objects.filter(is_active=True).order_by("name"),
        label=_("Companies"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    make_default = forms.BooleanField(label=_("Make it the default for these companies"), required=False)
    retire = forms.ModelChoiceField(
        ModelVersion.objects.none(),
        label=_("Retire the version it replaces"),
        required=False,
        help_text=_("Its conversations go on with this version (or the company's default where it is not open)."),
    )

    def __init__(self, *args: Any, version: ModelVersion, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        retire = cast(forms.ModelChoiceField, self.fields["retire"])
        retire.queryset = ModelVersion.objects.exclude(pk=version.pk).exclude(status=ModelVersion.Status.RETIRED)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("all_companies") and not cleaned.get("companies"):
            raise ValidationError(gettext("Choose at least one company, or all companies."))
        return cleaned


def rollout_summary(done: Rollout) -> str:
    parts = [gettext("%(label)s rolled out.") % {"label": done.version.label}]
    if done.granted:
        parts.append(gettext("Opened to: %(names)s.") % {"names": ", ".join(t.name for t in done.granted)})
    if done.defaults:
        parts.append(gettext("Default for: %(names)s.") % {"names": ", ".join(t.name for t in done.defaults)})
    if done.retired is not None:
        parts.append(
            gettext("%(old)s retired; %(count)s conversations moved.")
            % {"old": done.retired.label, "count": done.conversations_moved}
        )
    return " ".join(parts)


__all__ = ["DeploymentAdmin", "ModelVersionAdmin", "ProviderKind", "SecretFormMixin", "secret_input"]
