from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from tenants.admin_scoping import OperatorOnlyAdmin, TenantScopedAdmin, is_operator
from tenants.models import Tenant, TenantDomain, TenantHostname, User
from tenants.services import tenant_save, user_save


class TenantDomainInline(admin.TabularInline[TenantDomain, Tenant]):
    model = TenantDomain
    extra = 1


class TenantHostnameInline(admin.TabularInline[TenantHostname, Tenant]):
    model = TenantHostname
    extra = 0


@admin.register(Tenant)
class TenantAdmin(OperatorOnlyAdmin[Tenant]):
    list_display = ["name", "slug", "is_active", "domain_list", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug", "tenantdomain__domain"]
    prepopulated_fields = {"slug": ("name",)}
    inlines = [TenantDomainInline, TenantHostnameInline]

    @admin.display(description=_("Google Workspace domains"))
    def domain_list(self, obj: Tenant) -> str:
        return ", ".join(d.domain for d in obj.tenantdomain_set.all())

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("tenantdomain_set")

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        tenant_save(tenant=obj, acting_user=request.user)  # type: ignore[arg-type]


class UserAdminForm(forms.ModelForm[User]):
    class Meta:
        model = User
        fields = ["email", "first_name", "last_name", "tenant", "role", "is_active", "is_superuser"]


@admin.register(User)
class UserAdmin(TenantScopedAdmin[User]):
    form = UserAdminForm
    list_display = ["email", "first_name", "last_name", "tenant", "role", "is_active", "last_login"]
    list_filter = ["tenant", "role", "is_active", "is_superuser"]
    search_fields = ["email", "first_name", "last_name"]
    ordering = ["email"]
    readonly_fields = ["last_login", "date_joined"]
    list_select_related = ["tenant"]

    def get_fields(self, request: HttpRequest, obj: User | None = None) -> Any:
        fields = ["email", "first_name", "last_name", "tenant", "role", "is_active", "is_superuser"]
        if obj is not None:
            fields += ["last_login", "date_joined"]
        if not is_operator(request):
            fields = [f for f in fields if f not in ("tenant", "is_superuser")]
        return fields

    def get_queryset(self, request: HttpRequest) -> Any:
        qs = super().get_queryset(request)
        # Tenant admins never manage platform operators, even those who belong to their tenant.
        return qs if is_operator(request) else qs.filter(is_superuser=False)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        user_save(user=obj, acting_user=request.user, changed=form.changed_data)  # type: ignore[arg-type]
