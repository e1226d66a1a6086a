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
        self.stdout.write(self.style.SUCCESS("Demo data ready. Dev sign-in as " + ", ".join(p[1] for p in PEOPLE)))
