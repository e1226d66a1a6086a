"""Celery interface of the audit trail: thin, id in, service out."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from audit import digests, export, services, verification
from tenants.models import Tenant


@shared_task(
    name=services.CHAIN_ADVANCE_TASK, acks_late=True, autoretry_for=(Exception,), retry_backoff=2, max_retries=5
)
def audit_chain_advance_task(outbox_id: int) -> bool:
    return services.audit_chain_advance(outbox_id=outbox_id) is not None


@shared_task
def audit_pending_sweep_task(older_than_seconds: int = 30) -> int:
    return services.audit_pending_sweep(older_than=timedelta(seconds=older_than_seconds))


@shared_task
def audit_retention_task() -> int:
    total = 0
    for tenant in Tenant.objects.filter(audit_retention_days__isnull=False):
        total += services.audit_retention_apply(tenant=tenant).deleted
    return total


# Exports of millions of rows outlast the default 60 s soft limit. Not acks_late: a job found running is skipped.
@shared_task(name=export.EXPORT_TASK, soft_time_limit=2 * 60 * 60, time_limit=2 * 60 * 60 + 300)
def audit_export_task(export_id: int) -> None:
    export.audit_export_run(export_id=export_id)


@shared_task
def audit_export_cleanup_task() -> int:
    return export.audit_export_cleanup()


@shared_task
def audit_digests_task() -> int:
    return digests.audit_digests_write_all()


# Verifying every chain reads every entry: hours on a large trail, far past the default limits.
@shared_task(soft_time_limit=6 * 60 * 60, time_limit=6 * 60 * 60 + 300)
def audit_verify_task() -> int:
    """Verify every chain and record the result (shown on the reviewer pages). Returns how many are broken."""
    reports = [services.audit_chain_verify(chain=chain) for chain in services.audit_chains()]
    services.audit_verify_record(reports=reports, kind="scheduled")
    return sum(1 for report in reports if not report.ok)


# "Verify chain" on the audit page: one chain, read in full (hours on a very large trail).
@shared_task(name=verification.VERIFY_TASK, soft_time_limit=6 * 60 * 60, time_limit=6 * 60 * 60 + 300)
def audit_verification_task(verification_id: int) -> None:
    verification.audit_verification_run(verification_id=verification_id)
