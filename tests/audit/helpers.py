from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

from django.core.management import CommandError, call_command
from django.db import transaction

from audit.models import AuditEntry
from audit.services import audit_pending_sweep, audit_record
from tenants.models import Tenant


def record(n: int = 1, **kwargs: Any) -> None:
    """Record ``n`` events in their own transactions, as services do."""
    for i in range(n):
        with transaction.atomic():
            audit_record(**{"event_type": "test.event", "payload": {"i": i, "text": "機密情報"}, **kwargs})


def chain_all() -> int:
    return audit_pending_sweep(older_than=timedelta(0))


def entries(chain: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(chain=chain).order_by("seq"))


def verify_output(tenant: Tenant) -> tuple[bool, str]:
    """``audit_verify --tenant`` as an operator runs it (not recorded): whether it passed, and what it printed."""
    out = StringIO()
    try:
        call_command("audit_verify", "--tenant", tenant.slug, "--no-record", stdout=out)
    except CommandError:
        return False, out.getvalue()
    return True, out.getvalue()
