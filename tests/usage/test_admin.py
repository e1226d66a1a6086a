"""Prices, company budgets and personal limits in the admin console: prices are the operators', the company budget
is read-only for a company's admins (who edit the per-person defaults), every change is audited on the right chain,
and nobody reaches another company's rows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from audit.models import AuditOutbox
from llm.models import ModelVersion
from tenants.models import Tenant, User
from tests.conftest import signed_in
from usage.models import ModelPrice, TenantBudget, UserLimit
from usage.prices import price_on

pytestmark = pytest.mark.django_db

PRICES = "/admin/usage/modelprice/"
BUDGETS = "/admin/usage/tenantbudget/"
LIMITS = "/admin/usage/userlimit/"


@pytest.fixture
def version() -> ModelVersion:
    return ModelVersion.objects.create(display_name="GPT-4o", family="gpt-4o", version="2024-11-20")


def errors(response: Any) -> Any:
    return response.context["adminform"].form.errors


def price_form(version: ModelVersion, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "model_version": version.pk,
        "effective_from": "2025-04-01",
        "currency": "USD",
        "input_per_million": "2.50",
        "cached_input_per_million": "1.25",
        "output_per_million": "10.00",
    }
    data.update(overrides)
    return data


def budget_form(row: TenantBudget, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "monthly_tokens": row.monthly_tokens if row.monthly_tokens is not None else "",
        "monthly_cost": row.monthly_cost if row.monthly_cost is not None else "",
        "currency": row.currency,
        "user_daily_tokens": row.user_daily_tokens if row.user_daily_tokens is not None else "",
        "user_monthly_tokens": row.user_monthly_tokens if row.user_monthly_tokens is not None else "",
        "user_requests_per_minute": row.user_requests_per_minute if row.user_requests_per_minute is not None else "",
        "time_zone": row.time_zone,
        "contact": row.contact,
    }
    data.update(overrides)
    return data


# --- Prices ----------------------------------------------------------------------------------------------------
def test_operator_adds_a_price_audited_and_this_process_forgets_cached_prices(
    operator: User, version: ModelVersion
) -> None:
    day = date(2025, 4, 2)
    assert price_on(model_version_id=version.pk, day=day) is None  # cached: "no price"
    response = signed_in(operator).post(PRICES + "add/", price_form(version, currency="usd"))
    assert response.status_code == 302, errors(response)
    row = ModelPrice.objects.get()
    assert (row.currency, row.input_per_million, row.output_per_million) == ("USD", Decimal("2.5"), Decimal("10"))
    entry = AuditOutbox.objects.get(event_type="admin.modelprice.created")
    assert entry.tenant_id is None  # prices are global: the platform's chain
    assert entry.payload["after"]["effective_from"] == "2025-04-01"
    found = price_on(model_version_id=version.pk, day=day)
    assert found is not None
    assert found.output_per_million == Decimal("10")


def test_price_changelist_is_newest_first_and_explains_dates(operator: User, version: ModelVersion) -> None:
    for day, out in (("2025-01-01", "8"), ("2025-06-01", "12"), ("2025-03-01", "10")):
        ModelPrice.objects.create(
            model_version=version, effective_from=day, input_per_million=1, output_per_million=Decimal(out)
        )
    client = signed_in(operator)
    listing = client.get(PRICES)
    assert [p.effective_from.isoformat() for p in listing.context["cl"].result_list] == [
        "2025-06-01",
        "2025-03-01",
        "2025-01-01",
    ]
    assert "Past days keep the price they had" in client.get(PRICES + "add/").content.decode()


def test_a_negative_price_is_a_form_error(operator: User, version: ModelVersion) -> None:
    response = signed_in(operator).post(PRICES + "add/", price_form(version, output_per_million="-1"))
    assert response.status_code == 200
    assert "Enter zero or more." in str(errors(response)["output_per_million"])
    assert not ModelPrice.objects.exists()


def test_tenant_admins_and_members_cannot_open_prices(admin_a: User, user_a: User, version: ModelVersion) -> None:
    row = ModelPrice.objects.create(
        model_version=version, effective_from="2025-01-01", input_per_million=1, output_per_million=2
    )
    admin = signed_in(admin_a)
    assert admin.get(PRICES).status_code == 403
    assert admin.get(PRICES + "add/").status_code == 403
    assert admin.post(PRICES + "add/", price_form(version)).status_code == 403
    assert admin.get(f"{PRICES}{row.pk}/change/").status_code in (403, 404)
    assert "modelprice" not in admin.get("/admin/").content.decode()
    assert signed_in(user_a).get(PRICES).status_code in (302, 403)
    assert ModelPrice.objects.count() == 1
    assert not AuditOutbox.objects.filter(event_type__startswith="admin.modelprice.").exists()


# --- Company budgets -------------------------------------------------------------------------------------------
def test_tenant_admin_edits_the_defaults_for_each_person_audited_on_their_chain(
    admin_a: User, tenant_a: Tenant
) -> None:
    row = TenantBudget.objects.create(tenant=tenant_a, monthly_tokens=1_000_000)
    data = budget_form(row, user_daily_tokens="20000", user_requests_per_minute="6", contact="it@alpha.example")
    response = signed_in(admin_a).post(f"{BUDGETS}{row.pk}/change/", data)
    assert response.status_code == 302, errors(response)
    row.refresh_from_db()
    assert (row.user_daily_tokens, row.user_requests_per_minute, row.contact) == (20000, 6, "it@alpha.example")
    entry = AuditOutbox.objects.get(event_type="admin.tenantbudget.updated")
    assert entry.tenant_id == tenant_a.pk
    assert entry.actor_id == admin_a.pk
    assert {"user_daily_tokens", "user_requests_per_minute", "contact"} <= set(entry.payload["changed_fields"])
    assert entry.payload["before"]["user_daily_tokens"] is None
    assert entry.payload["after"]["user_daily_tokens"] == 20000


def test_the_company_budget_is_read_only_for_a_tenant_admin(admin_a: User, tenant_a: Tenant) -> None:
    row = TenantBudget.objects.create(tenant=tenant_a, monthly_tokens=1_000_000, currency="USD")
    client = signed_in(admin_a)
    page = client.get(f"{BUDGETS}{row.pk}/change/").content.decode()
    assert "Company budget (set by the platform operator)" in page
    assert "Defaults for each person" in page
    assert 'name="monthly_tokens"' not in page
    assert 'name="currency"' not in page
    assert 'name="user_daily_tokens"' in page
    assert 'name="tenant"' not in page
    data = budget_form(row, monthly_tokens="999999999", monthly_cost="1", currency="JPY", user_daily_tokens="5")
    response = client.post(f"{BUDGETS}{row.pk}/change/", data)
    assert response.status_code == 302, errors(response)
    row.refresh_from_db()
    assert (row.monthly_tokens, row.monthly_cost, row.currency) == (1_000_000, None, "USD")
    assert row.user_daily_tokens == 5
    entry = AuditOutbox.objects.get(event_type="admin.tenantbudget.updated")
    assert not {"monthly_tokens", "monthly_cost", "currency"} & set(entry.payload["changed_fields"])


def test_operator_changes_the_company_budget(operator: User, tenant_a: Tenant) -> None:
    row = TenantBudget.objects.create(tenant=tenant_a, monthly_tokens=1_000_000)
    data = budget_form(row, monthly_tokens="5000000", monthly_cost="1200.50", currency="jpy")
    response = signed_in(operator).post(f"{BUDGETS}{row.pk}/change/", data)
    assert response.status_code == 302, errors(response)
    row.refresh_from_db()
    assert (row.monthly_tokens, row.monthly_cost, row.currency) == (5_000_000, Decimal("1200.50"), "JPY")
    entry = AuditOutbox.objects.get(event_type="admin.tenantbudget.updated")
    assert entry.tenant_id == tenant_a.pk
    assert {"monthly_tokens", "monthly_cost", "currency"} <= set(entry.payload["changed_fields"])


def test_operator_adds_a_budget_for_a_company_and_validates_it(operator: User, tenant_b: Tenant) -> None:
    client = signed_in(operator)
    blank = TenantBudget(tenant=tenant_b)
    bad = client.post(
        BUDGETS + "add/", {**budget_form(blank, monthly_cost="-5", currency="EURO"), "tenant": tenant_b.pk}
    )
    assert bad.status_code == 200
    assert set(errors(bad)) == {"monthly_cost", "currency"}
    good = client.post(BUDGETS + "add/", {**budget_form(blank, monthly_tokens="100"), "tenant": tenant_b.pk})
    assert good.status_code == 302, errors(good)
    assert TenantBudget.objects.get(tenant=tenant_b).monthly_tokens == 100
    assert AuditOutbox.objects.get(event_type="admin.tenantbudget.created").tenant_id == tenant_b.pk
    again = client.post(BUDGETS + "add/", {**budget_form(blank), "tenant": tenant_b.pk})
    assert again.status_code == 200
    assert "tenant" in errors(again)  # one budget per company


def test_tenant_admin_adds_their_companys_only_budget_and_cannot_delete_it(
    admin_a: User, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    client = signed_in(admin_a)
    data = {**budget_form(TenantBudget(tenant=tenant_a), monthly_tokens="123", user_daily_tokens="7")}
    response = client.post(BUDGETS + "add/", {**data, "tenant": tenant_b.pk})  # a tenant in the post is ignored
    assert response.status_code == 302, errors(response)
    row = TenantBudget.objects.get()
    assert (row.tenant_id, row.monthly_tokens, row.user_daily_tokens) == (tenant_a.pk, None, 7)
    assert client.get(BUDGETS + "add/").status_code == 403  # a second one
    assert client.post(BUDGETS + "add/", data).status_code == 403
    assert client.get(f"{BUDGETS}{row.pk}/delete/").status_code == 403
    assert client.post(f"{BUDGETS}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = client.post(BUDGETS, {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"})
    assert bulk.status_code in (200, 302)
    assert TenantBudget.objects.filter(pk=row.pk).exists()
    assert not AuditOutbox.objects.filter(event_type="admin.tenantbudget.deleted").exists()


def test_tenant_admin_never_reaches_another_companys_budget(admin_a: User, tenant_a: Tenant, tenant_b: Tenant) -> None:
    own = TenantBudget.objects.create(tenant=tenant_a, monthly_tokens=111_111)
    other = TenantBudget.objects.create(tenant=tenant_b, monthly_tokens=222_222, contact="boss@beta.example")
    client = signed_in(admin_a)
    listing = client.get(BUDGETS)
    assert [r.pk for r in listing.context["cl"].result_list] == [own.pk]
    assert "boss@beta.example" not in listing.content.decode()
    assert client.get(f"{BUDGETS}{other.pk}/change/").status_code == 404
    assert client.post(f"{BUDGETS}{other.pk}/change/", budget_form(other, user_daily_tokens="1")).status_code == 404
    assert client.get(f"{BUDGETS}999999/change/").status_code == 404
    other.refresh_from_db()
    assert other.user_daily_tokens is None
    assert not AuditOutbox.objects.filter(event_type__startswith="admin.tenantbudget.").exists()


def test_members_cannot_open_budgets(user_a: User, tenant_a: Tenant) -> None:
    TenantBudget.objects.create(tenant=tenant_a)
    assert signed_in(user_a).get(BUDGETS).status_code in (302, 403)


# --- Personal limits -------------------------------------------------------------------------------------------
def test_tenant_admin_adds_a_limit_for_their_own_person(admin_a: User, user_a: User, tenant_a: Tenant) -> None:
    client = signed_in(admin_a)
    data = {"user": user_a.pk, "daily_tokens": "1000", "monthly_tokens": "", "requests_per_minute": "3"}
    response = client.post(LIMITS + "add/", data)
    assert response.status_code == 302, errors(response)
    limit = UserLimit.objects.get()
    assert (limit.tenant_id, limit.user_id, limit.daily_tokens, limit.monthly_tokens) == (
        tenant_a.pk,
        user_a.pk,
        1000,
        None,
    )
    assert limit.requests_per_minute == 3
    assert AuditOutbox.objects.get(event_type="admin.userlimit.created").tenant_id == tenant_a.pk
    assert user_a.email in client.get(LIMITS, {"q": "alice@"}).content.decode()


def test_tenant_admin_cannot_choose_another_companys_person(admin_a: User, user_a: User, user_b: User) -> None:
    client = signed_in(admin_a)
    page = client.get(LIMITS + "add/").content.decode()
    assert user_a.email in page
    assert user_b.email not in page
    response = client.post(LIMITS + "add/", {"user": user_b.pk, "daily_tokens": "1"})
    assert response.status_code == 200
    assert "Select a valid choice" in str(errors(response)["user"])
    assert not UserLimit.objects.exists()


def test_operator_cannot_give_a_company_a_limit_for_another_companys_person(
    operator: User, tenant_a: Tenant, tenant_b: Tenant, user_b: User
) -> None:
    client = signed_in(operator)
    response = client.post(LIMITS + "add/", {"tenant": tenant_a.pk, "user": user_b.pk, "daily_tokens": "1"})
    assert response.status_code == 200
    assert "This person belongs to another company than the limit." in str(errors(response)["user"])
    assert not UserLimit.objects.exists()
    ok = client.post(LIMITS + "add/", {"tenant": tenant_b.pk, "user": user_b.pk, "daily_tokens": "1"})
    assert ok.status_code == 302, errors(ok)
    assert UserLimit.objects.get().tenant_id == tenant_b.pk


def test_tenant_admin_never_reaches_another_companys_limits(
    admin_a: User, user_a: User, user_b: User, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    own = UserLimit.objects.create(tenant=tenant_a, user=user_a, daily_tokens=10)
    other = UserLimit.objects.create(tenant=tenant_b, user=user_b, daily_tokens=20)
    client = signed_in(admin_a)
    listing = client.get(LIMITS)
    assert [r.pk for r in listing.context["cl"].result_list] == [own.pk]
    assert client.get(f"{LIMITS}{other.pk}/change/").status_code == 404
    assert client.post(f"{LIMITS}{other.pk}/delete/", {"post": "yes"}).status_code == 404
    assert UserLimit.objects.filter(pk=other.pk).exists()
