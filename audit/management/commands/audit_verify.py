"""Recompute the audit chains and report the first edited, deleted or missing entry. Exit 1 on any break."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services import audit_chain_verify, audit_chains, audit_verify_record
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Verify the hash chains of the audit trail (all tenants, or one with --tenant)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", help="slug of the tenant whose chain to verify")
        parser.add_argument("--no-record", action="store_true", help="do not record the run as audit.verify")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = None
        if options["tenant"]:
            tenant = Tenant.objects.filter(slug=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"no tenant with slug {options['tenant']!r}")
        reports = [audit_chain_verify(chain=chain) for chain in audit_chains(tenant=tenant)]
        for report in reports:
            span = f"seq {report.first_seq}..{report.last_seq}" if report.checked else "no entries"
            if report.ok:
                self.stdout.write(f"OK      {report.chain}: {report.checked} entries ({span})")
            else:
                self.stdout.write(f"BROKEN  {report.chain}: {report.checked} entries checked ({span})")
                for problem in report.problems:
                    self.stdout.write(f"        - {problem}")
        if not options["no_record"]:
            audit_verify_record(reports=reports)
        broken = [r.chain for r in reports if not r.ok]
        if broken:
            raise CommandError(f"audit chain broken: {', '.join(broken)}")
        self.stdout.write(self.style.SUCCESS(f"{len(reports)} chain(s) verified"))
