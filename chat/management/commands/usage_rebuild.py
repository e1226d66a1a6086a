"""Recompute days of the usage rollup from the saved answers (after a restore, or a corrected price)."""

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat.usage import usage_rebuild
from tenants.models import Tenant


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{name} must be a date like 2026-11-30, not {value!r}") from None


class Command(BaseCommand):
    help = "Recompute the usage rollup of a day range (inclusive) from the saved answers, at the prices of each day."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="since", required=True, help="first day (YYYY-MM-DD, the company's time)")
        parser.add_argument("--to", dest="until", required=True, help="last day, inclusive")
        parser.add_argument("--tenant", help="slug of one company (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        since, until = _day(options["since"], "--from"), _day(options["until"], "--to")
        if until < since:
            raise CommandError("--to is before --from")
        tenant_id = None
        if options["tenant"]:
            tenant = Tenant.objects.filter(slug=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"no tenant with slug {options['tenant']!r}")
            tenant_id = tenant.pk
        counted = usage_rebuild(since=since, until=until, tenant_id=tenant_id)
        self.stdout.write(self.style.SUCCESS(f"{counted} answers counted for {since}..{until}"))
