"""Export one tenant's audit trail to a ZIP (the same file the web UI streams), for platform operators."""

from __future__ import annotations

import getpass
import socket
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.export import FORMATS, audit_export_prepare, audit_export_record, write_file
from audit.forms import AuditFilterForm
from audit.models import Channel
from audit.selectors import audit_tenant_get_by_slug


def _operator_name() -> str:
    # Who ran it, for the audit.export entry: there is no signed-in user on a shell.
    try:
        user = getpass.getuser()
    except Exception:  # no login name in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}"[:254]


class Command(BaseCommand):
    help = "Export a tenant's audit trail as a ZIP of CSV or JSONL plus manifest.json (recorded as audit.export)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="slug of the tenant to export")
        parser.add_argument("--format", choices=FORMATS, default="csv", help="csv (default), xlsx or jsonl")
        parser.add_argument("--output", required=True, help="path of the ZIP file to write")
        parser.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="first day (inclusive)")
        parser.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="last day (inclusive)")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = audit_tenant_get_by_slug(slug=options["tenant"])
        if tenant is None:
            raise CommandError(f"no tenant with slug {options['tenant']!r}")
        form = AuditFilterForm(data={"date_from": options["date_from"] or "", "date_to": options["date_to"] or ""})
        if not form.is_valid():
            flags = {"date_from": "--from", "date_to": "--to"}
            problems = [
                f"{flags.get(name, name)}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items()
            ]
            raise CommandError("; ".join(problems))
        output = Path(options["output"])
        if not output.parent.is_dir():
            raise CommandError(f"directory {str(output.parent)!r} does not exist")
        stream = audit_export_prepare(tenant=tenant, format=options["format"], filters=form.filters_json())
        # Recorded before writing: an export that fails halfway was still attempted.
        audit_export_record(stream=stream, kind="command", actor_email=_operator_name(), channel=Channel.SYSTEM)
        write_file(stream.chunks(), output)
        manifest = stream.manifest or {}
        self.stdout.write(
            self.style.SUCCESS(
                f"{manifest.get('row_count', 0)} entries of {tenant.slug} "
                f"(seq {manifest.get('first_seq')}..{manifest.get('last_seq')}) written to {output}"
            )
        )
