from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction

from audit.models import AuditEntry
from audit.services import audit_pending_sweep, audit_record


def record(n: int = 1, **kwargs: Any) -> None:
    """Record ``n`` events in their own transactions, as services do."""
    for i in range(n):
        with transaction.atomic():
            audit_record(**{"event_type": "test.event", "payload": {"i": i, "text": "機密情報"}, **kwargs})


def chain_all() -> int:
    return audit_pending_sweep(older_than=timedelta(0))


def entries(chain: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(chain=chain).order_by("seq"))
