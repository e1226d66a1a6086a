"""Show the audit trail's public key (to give to reviewers), or make new keys for the environment."""

import base64
import secrets
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.hashing import digest_public_key, hmac_keys


class Command(BaseCommand):
    help = "Print the public key that verifies audit digests and export manifests; --new prints fresh keys."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--new", action="store_true", help="print new AUDIT_HMAC_KEYS and AUDIT_DIGEST_KEY values to configure"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["new"]:
            # Rotation: prepend the new HMAC key and keep the old ones; retire the old digest key's public half.
            self.stdout.write(f"AUDIT_HMAC_KEYS=k{secrets.randbelow(10**6):06d}:{secrets.token_urlsafe(48)}")
            self.stdout.write(f"AUDIT_DIGEST_KEY={base64.b64encode(secrets.token_bytes(32)).decode()}")
            return
        self.stdout.write(f"AUDIT_DIGEST public key: {digest_public_key()}")
        self.stdout.write(f"AUDIT_HMAC key ids (newest first): {', '.join(key_id for key_id, _ in hmac_keys())}")
