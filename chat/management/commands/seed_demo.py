"""Creates the demo companies and people of the embedded mode. Safe to run again (idempotent)."""

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from tenants.models import Tenant, User
from tenants.services import tenant_create, user_create

DEMO = [
    ("Demo Company", "demo", ["demo.example"]),
    ("Second Company", "second", ["second.example"]),
]
PEOPLE = [
    ("demo", "demo@demo.example", User.Role.MEMBER, False),
    ("demo", "admin@demo.example", User.Role.TENANT_ADMIN, False),
    ("demo", "reviewer@demo.example", User.Role.COMPLIANCE_REVIEWER, False),
    ("demo", "operator@demo.example", User.Role.MEMBER, True),
    ("second", "user@second.example", User.Role.MEMBER, False),
]


class Command(BaseCommand):
    help = "Create the demo tenants and users used by the embedded (local) mode."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        tenants = {}
        for name, slug, domains in DEMO:
            tenant = Tenant.objects.filter(slug=slug).first() or tenant_create(name=name, slug=slug, domains=domains)
            tenants[slug] = tenant
        for slug, email, role, operator in PEOPLE:
            if not User.objects.filter(email=email).exists():
                user_create(tenant=tenants[slug], email=email, role=role, is_superuser=operator)
        self._seed_fake_model(list(tenants.values()))
        self.stdout.write(self.style.SUCCESS("Demo data ready. Dev sign-in as " + ", ".join(p[1] for p in PEOPLE)))

    def _seed_fake_model(self, tenants: list[Tenant]) -> None:
        """The built-in fake model, so chat answers with no Azure key (embedded mode)."""
        from llm.models import Deployment, ModelVersion, ModelVersionAccess, ModelVersionDeployment, ProviderKind

        deployment, _ = Deployment.objects.get_or_create(
            label="fake-local",
            defaults={"kind": ProviderKind.FAKE, "endpoint": "fake://local?delay=0.03", "region": "local"},
        )
        version, _ = ModelVersion.objects.get_or_create(
            family="office-fake",
            version="1",
            defaults={"display_name": "Office AI demo model (fake)", "context_window": 32_000},
        )
        ModelVersionDeployment.objects.get_or_create(model_version=version, deployment=deployment)
        for tenant in tenants:
            ModelVersionAccess.objects.get_or_create(
                tenant=tenant,
                model_version=version,
                defaults={"is_default": not ModelVersionAccess.objects.filter(tenant=tenant, is_default=True).exists()},
            )
        self._seed_usage(tenants, version)

    def _seed_usage(self, tenants: list[Tenant], version: Any) -> None:
        """A demo price and budgets, so the usage page shows cost and the chat page's meter a limit."""
        from datetime import date
        from decimal import Decimal

        from usage.models import ModelPrice, TenantBudget

        ModelPrice.objects.get_or_create(
            model_version=version,
            effective_from=date(2026, 1, 1),
            defaults={"currency": "USD", "input_per_million": Decimal("2.50"), "output_per_million": Decimal("10")},
        )
        for tenant in tenants:
            TenantBudget.objects.get_or_create(
                tenant=tenant, defaults={"user_monthly_tokens": 200_000, "user_requests_per_minute": 20}
            )
