"""Re-verify an exported audit ZIP offline: signature, file hashes, every row's hash and link. Exit 1 on a problem."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.offline import verify_export


class Command(BaseCommand):
    help = "Verify an audit export ZIP without the database (manifest signature, file hashes, row hashes and links)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="the export ZIP")
        parser.add_argument(
            "--public-key", help="the published public key (manage.py audit_keys) the manifest must carry"
        )
        parser.add_argument(
            "--check-seals",
            action="store_true",
            help="also check the keyed seals (needs this deployment's AUDIT_HMAC_KEYS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            data = Path(options["path"]).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {options['path']}: {exc.strerror}") from None
        result = verify_export(data, public_key=options["public_key"], check_seals=options["check_seals"])
        for note in result.notes:
            self.stdout.write(f"note: {note}")
        if not result.ok:
            for problem in result.problems:
                self.stdout.write(f"- {problem}")
            raise CommandError(f"export does not verify ({len(result.problems)} problem(s))")
        self.stdout.write(self.style.SUCCESS(f"OK: {result.rows} rows verified"))
