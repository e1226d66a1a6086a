"""Admin console for prices, company budgets and personal limits.

Operators keep the price list and each company's budget (monthly tokens and cost, in one currency); a company's
admins set the defaults for each of their people, personal overrides, the time zone and whom to ask. Every add,
change and delete is audited (``AuditedAdminMixin``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tenants.admin_scoping import OperatorOnlyAdmin, TenantScopedAdmin, is_operator
from usage.models import ModelPrice, TenantBudget, UserLimit
from usage.prices import prices_changed

PRICE_FIELDS = ("input_per_million", "cached_input_per_million", "output_per_million")
PERSON_FIELDS = ("user_daily_tokens", "user_monthly_tokens", "user_requests_per_minute")


def _not_negative(form: forms.ModelForm, cleaned: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        value = cleaned.get(name)
        if isinstance(value, Decimal) and value < 0:
            form.add_error(name, gettext("Enter zero or more."))


def _upper_currency(form: forms.ModelForm) -> str:
    # "usd" is meant as USD; the model's validator then checks the three letters.
    return str(form.cleaned_data.get("currency") or "").strip().upper()


# --- Prices ----------------------------------------------------------------------------------------------------
class ModelPriceForm(forms.ModelForm):
    class Meta:
        model = ModelPrice
        fields = ["model_version", "effective_from", "currency", *PRICE_FIELDS]

    def clean_currency(self) -> str:
        return _upper_currency(self)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        _not_negative(self, cleaned, PRICE_FIELDS)
        return cleaned


@admin.register(ModelPrice)
class ModelPriceAdmin(OperatorOnlyAdmin[ModelPrice]):
    """A model version's price list (platform operators only). A price applies from its date on, until the next
    row of the same version; days before it keep the price they had, so entering a new price never changes past
    costs. Saving makes this process forget cached prices; other processes pick the change up within a minute."""

    form = ModelPriceForm
    list_display = ["model_version", "effective_from", "currency", *PRICE_FIELDS]
    list_filter = ["model_version", "currency"]
    list_select_related = ["model_version"]
    ordering = ["-effective_from", "model_version"]
    date_hierarchy = "effective_from"
    fieldsets = [
        (
            None,
            {
                "fields": ["model_version", "effective_from", "currency", *PRICE_FIELDS],
                "description": _(
                    "A price applies from its date (in each company's time zone) until the next price of the same "
                    "model version. Past days keep the price they had: to change a price, add a row from the day "
                    "it starts."
                ),
            },
        )
    ]

    def save_model(self, request: HttpRequest, obj: ModelPrice, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        self._forget_prices()

    def delete_model(self, request: HttpRequest, obj: ModelPrice) -> None:
        super().delete_model(request, obj)
        self._forget_prices()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ModelPrice]) -> None:
        super().delete_queryset(request, queryset)
        self._forget_prices()

    @staticmethod
    def _forget_prices() -> None:
        prices_changed()
        # Again once committed: a lookup in between would have cached the old price for another minute.
        transaction.on_commit(prices_changed)


# --- Company budgets -------------------------------------------------------------------------------------------
class TenantBudgetForm(forms.ModelForm):
    class Meta:
        model = TenantBudget
        fields = ["tenant", *TenantBudget.OPERATOR_FIELDS, *PERSON_FIELDS, "time_zone", "contact"]

    def clean_currency(self) -> str:
        return _upper_currency(self)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        _not_negative(self, cleaned, ("monthly_cost",))
        return cleaned


@admin.register(TenantBudget)
class TenantBudgetAdmin(TenantScopedAdmin[TenantBudget]):
    """A company's budget and the defaults for its people; empty fields mean no limit. The company-wide budget
    (``TenantBudget.OPERATOR_FIELDS``) is the platform operator's, who pays the bill: a company's admins see it
    read-only. They may edit the defaults, the time zone and the contact, and add their company's one budget row
    if it has none, but not delete it."""

    form = TenantBudgetForm
    list_display = [
        "tenant",
        "monthly_tokens",
        "monthly_cost",
        "currency",
        "user_daily_tokens",
        "user_monthly_tokens",
        "user_requests_per_minute",
        "time_zone",
    ]
    list_select_related = ["tenant"]
    ordering = ["tenant__name"]
    fieldsets = [
        (
            _("Company budget (set by the platform operator)"),
            {
                "fields": ["tenant", *TenantBudget.OPERATOR_FIELDS],
                "description": _("Tokens and cost the whole company may use each month. Empty: no limit."),
            },
        ),
        (
            _("Defaults for each person"),
            {
                "fields": list(PERSON_FIELDS),
                "description": _("Apply to everyone without a personal limit. Empty: no limit."),
            },
        ),
        (_("Time and contact"), {"fields": ["time_zone", "contact"]}),
    ]

    def get_fieldsets(self, request: HttpRequest, obj: TenantBudget | None = None) -> Any:
        if is_operator(request):
            return self.fieldsets
        # The tenant field is not in a tenant admin's form (TenantScopedAdmin forces it).
        return [
            (title, {**options, "fields": [f for f in options["fields"] if f != self.tenant_field]})
            for title, options in self.fieldsets
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: TenantBudget | None = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if not is_operator(request):
            readonly += TenantBudget.OPERATOR_FIELDS
        elif obj is not None:
            readonly.append(self.tenant_field)  # a budget stays with its company
        return readonly

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        if not super().has_add_permission(request, *args):
            return False
        if is_operator(request):
            return True
        return not self.get_queryset(request).exists()  # narrowed to their own company: its budget, if any

    def has_delete_permission(self, request: HttpRequest, obj: TenantBudget | None = None) -> bool:
        return is_operator(request) and super().has_delete_permission(request, obj)


# --- Personal limits -------------------------------------------------------------------------------------------
class UserLimitForm(forms.ModelForm):
    class Meta:
        model = UserLimit
        fields = ["tenant", "user", "daily_tokens", "monthly_tokens", "requests_per_minute"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        user = cleaned.get("user")
        tenant = cleaned.get("tenant")
        # A tenant admin's form has no tenant field: TenantScopedAdmin has set it on the instance.
        tenant_id = tenant.pk if tenant is not None else self.instance.tenant_id
        if user is not None and tenant_id is not None and user.tenant_id != tenant_id:
            self.add_error("user", gettext("This person belongs to another company than the limit."))
        return cleaned


@admin.register(UserLimit)
class UserLimitAdmin(TenantScopedAdmin[UserLimit]):
    """A person's own limits, overriding the company's defaults (empty fields: the default). A company's admins
    choose among their own people only."""

    form = UserLimitForm
    list_display = ["user", "tenant", "daily_tokens", "monthly_tokens", "requests_per_minute"]
    list_filter = ["tenant"]
    list_select_related = ["user", "tenant"]
    search_fields = ["user__email"]
    ordering = ["user__email"]
