from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditEntry
from tenants.admin_scoping import is_operator


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin[AuditEntry]):
    """Read-only view for platform operators; reviewers use the audit pages (/audit/)."""

    list_display = ["chain", "seq", "occurred_at", "event_type", "actor_email", "channel", "model_label", "status"]
    list_filter = ["event_type", "channel", "status"]
    search_fields = ["actor_email", "event_type", "model_label"]
    ordering = ["chain", "-seq"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
