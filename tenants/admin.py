from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tenants.admin_scoping import OperatorOnlyAdmin, TenantScopedAdmin, form_with, is_operator
from tenants.models import Tenant, TenantDomain, TenantHostname, User
from tenants.selectors import tenant_domain_list, tenant_owns_email
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
    acting_user: Any = None  # set per request by UserAdmin.get_form

    class Meta:
        model = User
        fields = ["email", "first_name", "last_name", "tenant", "role", "is_active", "is_superuser"]

    def clean_email(self) -> str:
        email = str(self.cleaned_data["email"]).strip().lower()
        acting = self.acting_user
        # A company admin adds people of their own domains only: anyone else would be locked out of their real
        # company at Google sign-in (and the error must not say whether the address exists elsewhere).
        if (
            acting is not None
            and not acting.is_superuser
            and not tenant_owns_email(tenant_id=acting.tenant_id, email=email)
        ):
            domains = ", ".join(tenant_domain_list(tenant_id=acting.tenant_id)) or "—"
            raise forms.ValidationError(
                gettext("Use an address in one of your company's domains: %(domains)s.") % {"domains": domains}
            )
        return email


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

    def get_form(self, request: HttpRequest, obj: User | None = None, change: bool = False, **kwargs: Any) -> Any:
        return form_with(super().get_form(request, obj, change, **kwargs), acting_user=request.user)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        user_save(user=obj, acting_user=request.user, changed=form.changed_data)  # type: ignore[arg-type]
