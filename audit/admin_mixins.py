"""Admin changes into the audit trail: one ``admin.<object>.<action>`` entry per save or delete, with before/after.

Django's admin runs add, change and delete views in one transaction and calls ``log_addition``/``log_change``
after inlines are saved and ``log_deletions`` before deleting, so the entry is written in the same transaction
as the change and sees the final state.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse

from audit.services import audit_admin_change, snapshot

_BEFORE = "_officeai_audit_before"


class AuditedAdminMixin(admin.ModelAdmin):  # mixed into the generic admins of tenants.admin_scoping
    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            if not hasattr(request, _BEFORE):
                setattr(request, _BEFORE, {})
            getattr(request, _BEFORE)[(obj._meta.label_lower, str(obj.pk))] = snapshot(obj)
        return obj

    def _before(self, request: HttpRequest, obj: models.Model) -> dict[str, Any] | None:
        return getattr(request, _BEFORE, {}).get((obj._meta.label_lower, str(obj.pk)))

    def log_addition(self, request: HttpRequest, obj: models.Model, message: Any) -> Any:
        result = super().log_addition(request, obj, message)
        audit_admin_change(actor=request.user, obj=obj, action="created", before=None, after=snapshot(obj))  # type: ignore[arg-type]
        return result

    def log_change(self, request: HttpRequest, obj: models.Model, message: Any) -> Any:
        result = super().log_change(request, obj, message)
        audit_admin_change(
            actor=request.user,  # type: ignore[arg-type]
            obj=obj,
            action="updated",
            before=self._before(request, obj),
            after=snapshot(obj),
        )
        return result

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        result = super().log_deletions(request, queryset)
        for obj in queryset:
            audit_admin_change(actor=request.user, obj=obj, action="deleted", before=snapshot(obj), after=None)  # type: ignore[arg-type]
        return result

    def response_action(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse | None:
        # Bulk actions (delete_selected) log and delete in one transaction, like the single-object views.
        with transaction.atomic():
            return super().response_action(request, *args, **kwargs)
