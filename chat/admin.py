"""Admin console for the notice about confidential data (operators: everyone's and any company's; tenant admins:
their company's override)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from chat.models import Notice
from chat.services import notice_save
from tenants.admin_scoping import TenantScopedAdmin, is_operator


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
