"""Tenant scoping for the admin console.

Platform operators (superusers) see every row. Tenant admins see, open, add, change and delete only rows of
their own tenant; the ``tenant`` field is hidden from them and forced to their tenant; foreign keys offer only
their tenant's rows. Another tenant's row is a 404, exactly like a missing one.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from django import forms
from django.contrib import admin
from django.contrib.admin.options import csrf_protect_m
from django.contrib.admin.utils import unquote
from django.db import models, transaction
from django.db.models import QuerySet
from django.forms import ModelChoiceField
from django.http import Http404, HttpRequest, HttpResponse

from tenants.models import Tenant
from tenants.signals import admin_object_changed, admin_object_loaded

M = TypeVar("M", bound=models.Model)


def is_operator(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


def is_tenant_admin(request: HttpRequest) -> bool:
    return bool(request.user.is_active and getattr(request.user, "is_tenant_admin", False))


class AuditedAdminMixin(admin.ModelAdmin):  # mixed into the generic admins below
    """Every add, change and delete is announced (tenants.signals) inside the admin's transaction; the audit trail
    records it with before/after. Django calls ``log_addition``/``log_change`` after inlines are saved and
    ``log_deletions`` before deleting, so a listener sees the final state and the row before it goes."""

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            admin_object_loaded.send(sender=type(obj), request=request, obj=obj)
        return obj

    def log_addition(self, request: HttpRequest, obj: models.Model, message: Any) -> Any:
        result = super().log_addition(request, obj, message)
        admin_object_changed.send(sender=type(obj), request=request, obj=obj, action="created")
        return result

    def log_change(self, request: HttpRequest, obj: models.Model, message: Any) -> Any:
        result = super().log_change(request, obj, message)
        admin_object_changed.send(sender=type(obj), request=request, obj=obj, action="updated")
        return result

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        result = super().log_deletions(request, queryset)
        for obj in queryset:
            admin_object_changed.send(sender=type(obj), request=request, obj=obj, action="deleted")
        return result

    # Actions that call the network and make their own short writes after it (e.g. a live connection test): not
    # wrapped in one transaction, which would stay open for the whole call.
    non_atomic_actions: frozenset[str] = frozenset()

    def response_action(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse | None:
        if request.POST.get("action") in self.non_atomic_actions:
            return super().response_action(request, *args, **kwargs)
        # Bulk actions (delete_selected) log and delete in one transaction, like the single-object views.
        with transaction.atomic():
            return super().response_action(request, *args, **kwargs)


def form_with(form: Any, **attributes: Any) -> Any:
    """``form`` (a class from ``get_form``) with per-request class attributes, e.g. the acting user."""
    return type(form.__name__, (form,), attributes)


# --- Live checks before the transaction ------------------------------------------------------------------------
DEFER = object()  # the first, validating pass: note what to check, do not call the network
_LIVE_CHECK = "_officeai_live_check"


class LiveCheckForm(forms.ModelForm):  # a mixin for the ModelForms of any model
    """A form whose validation needs a network call (a deployment's connection test, Slack's auth.test).

    ``clean`` calls ``live_result(subject)``. Under ``LiveCheckAdminMixin`` the admin has already made the call,
    outside the save's transaction, and this returns its result; on the first pass it only notes the subject.
    Used on its own (no admin), the form makes the call itself."""

    live_check: Any = None  # set per request by LiveCheckAdminMixin.get_form

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.check_subject: Any = None

    def run_check(self, subject: Any) -> Any:
        raise NotImplementedError

    def live_result(self, subject: Any) -> Any:
        """The check's result for ``subject``; None on the admin's first pass."""
        if self.live_check is DEFER:
            self.check_subject = subject
            return None
        return self.live_check if self.live_check is not None else self.run_check(subject)


class LiveCheckAdminMixin(admin.ModelAdmin):  # mixed into the ModelAdmin of any model
    """Django validates and saves a change inside one transaction; a network call in ``clean`` would hold it (and a
    pooled connection) open while an upstream hangs. For a POST this validates the form once first, makes the
    form's live check then, outside any transaction, and hands the result to the real pass."""

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        return form_with(
            super().get_form(request, obj, change, **kwargs), live_check=getattr(request, _LIVE_CHECK, None)
        )

    @csrf_protect_m
    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "POST" and getattr(request, _LIVE_CHECK, None) is None:
            obj = self.get_object(request, unquote(object_id)) if object_id else None
            allowed = self.has_change_permission(request, obj) if obj else self.has_add_permission(request)
            if allowed:
                setattr(request, _LIVE_CHECK, DEFER)
                form = self.get_form(request, obj, change=obj is not None)(request.POST, request.FILES, instance=obj)
                subject = form.check_subject if form.is_valid() else None
                setattr(request, _LIVE_CHECK, form.run_check(subject) if subject is not None else None)
        return super().changeform_view(request, object_id, form_url, extra_context)


class OperatorOnlyAdmin(AuditedAdminMixin, admin.ModelAdmin[M], Generic[M]):
    """Global objects (tenants, deployments): only platform operators. Every change is audited."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator(request)

    def has_view_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return is_operator(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return is_operator(request)

    def has_change_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return is_operator(request)

    def has_delete_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return is_operator(request)

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> M | None:
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404  # "missing" and "not yours" look the same
        return obj


class TenantScopedAdmin(OperatorOnlyAdmin[M], Generic[M]):
    """Rows with a ``tenant`` FK, manageable by platform operators and by the tenant's own admins."""

    tenant_field = "tenant"

    def _allowed(self, request: HttpRequest, obj: M | None) -> bool:
        if is_operator(request):
            return True
        if not is_tenant_admin(request):
            return False
        return obj is None or getattr(obj, f"{self.tenant_field}_id") == request.user.tenant_id  # type: ignore[union-attr]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, None)

    def has_view_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return self._allowed(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._allowed(request, None)

    def has_change_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return self._allowed(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return self._allowed(request, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[M]:
        qs = super().get_queryset(request)
        if is_operator(request):
            return qs
        if not is_tenant_admin(request):
            return qs.none()
        return qs.filter(**{self.tenant_field: request.user.tenant_id})  # type: ignore[union-attr]

    def get_exclude(self, request: HttpRequest, obj: M | None = None) -> Any:
        exclude = list(super().get_exclude(request, obj) or [])
        if not is_operator(request):
            exclude.append(self.tenant_field)
        return exclude

    def get_fields(self, request: HttpRequest, obj: M | None = None) -> Any:
        fields = list(super().get_fields(request, obj))
        return fields if is_operator(request) else [f for f in fields if f != self.tenant_field]

    def get_list_display(self, request: HttpRequest) -> Any:
        cols = list(super().get_list_display(request))
        return cols if is_operator(request) else [c for c in cols if c != self.tenant_field]

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = list(super().get_list_filter(request))
        return filters if is_operator(request) else [f for f in filters if f != self.tenant_field]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> ModelChoiceField | None:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and not is_operator(request):
            tenant_id = request.user.tenant_id  # type: ignore[union-attr]
            related = db_field.related_model
            if related is Tenant:
                field.queryset = Tenant.objects.filter(pk=tenant_id)
            elif any(f.name == "tenant" for f in related._meta.fields):
                field.queryset = field.queryset.filter(tenant_id=tenant_id)  # type: ignore[union-attr]
        return field

    def get_form(self, request: HttpRequest, obj: M | None = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        if is_operator(request):
            return form
        tenant_id = request.user.tenant_id  # type: ignore[union-attr]
        field = f"{self.tenant_field}_id"

        class TenantBoundForm(form):  # type: ignore[valid-type,misc]
            # The tenant is set before validation, so model checks (clean, constraints) see the real row.
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, **kw)
                setattr(self.instance, field, tenant_id)

        return TenantBoundForm

    def save_model(self, request: HttpRequest, obj: M, form: Any, change: bool) -> None:
        if not is_operator(request):
            setattr(obj, f"{self.tenant_field}_id", request.user.tenant_id)  # type: ignore[union-attr]
        super().save_model(request, obj, form, change)
