"""Admin console for the notice about confidential data (operators: everyone's and any company's; tenant admins:
their company's override)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.models import Channel
from chat.models import Notice, Prompt
from chat.prompts.services import PromptRefused, prompt_delete, prompt_fields_clean, prompt_shared_save
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


class PromptAdminForm(forms.ModelForm):
    """Checked like the prompt API: the same limits, storable text, at most 20 variables."""

    class Meta:
        model = Prompt
        fields = ["tenant", "name", "description", "folder_name", "content"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "name" in data and "content" in data:
            try:
                prompt_fields_clean(
                    name=data["name"],
                    content=data["content"],
                    description=data.get("description", ""),
                    folder_name=data.get("folder_name", ""),
                )
            except PromptRefused as exc:
                self.add_error(exc.field or None, exc.message)
        return data


@admin.register(Prompt)
class PromptAdmin(TenantScopedAdmin[Prompt]):
    """The prompts a company shares with everyone in it (people's own prompts are theirs alone and not listed
    here, not even for operators). Every change is audited as ``prompt.shared.*``, like the API's."""

    form = PromptAdminForm
    list_display = ["name", "tenant", "folder_name", "updated_at"]
    list_filter = ["tenant"]
    search_fields = ["name", "folder_name", "description"]
    fields = ["tenant", "name", "description", "folder_name", "content", "created_by", "updated_at"]
    readonly_fields = ["created_by", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Prompt]:
        return super().get_queryset(request).filter(owner__isnull=True).select_related("created_by")

    def save_model(self, request: HttpRequest, obj: Prompt, form: Any, change: bool) -> None:
        if not is_operator(request):
            obj.tenant_id = request.user.tenant_id  # type: ignore[union-attr]
        prompt_shared_save(prompt=obj, user=request.user)  # type: ignore[arg-type]

    def delete_model(self, request: HttpRequest, obj: Prompt) -> None:
        prompt_delete(tenant=obj.tenant, user=request.user, prompt=obj, channel=Channel.ADMIN)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Prompt]) -> None:
        for prompt in queryset.select_related("tenant"):
            self.delete_model(request, prompt)
