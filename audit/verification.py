"""“Verify chain” on the audit page: a Celery job that re-checks the company's whole chain (audit_chain_verify),
shows its progress, and records the run as ``audit.verify`` (kind ``manual``, by whom), like the daily one."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from audit.models import AuditEntry, AuditVerification, chain_for
from audit.selectors import audit_verification_list
from audit.services import audit_chain_verify, audit_job_claim, audit_verify_record
from ops import queue
from tenants.models import Tenant, User

logger = logging.getLogger("officeai.audit")

VERIFY_TASK = "audit.tasks.audit_verification_task"
RUNNING = (AuditVerification.Status.PENDING, AuditVerification.Status.RUNNING)


@transaction.atomic
def audit_verification_request(*, tenant: Tenant, requested_by: User) -> AuditVerification:
    """Start a verification of the tenant's chain, or return the one already waiting or running (one at a time)."""
    Tenant.objects.select_for_update().filter(pk=tenant.pk).first()  # serialises two presses of the button
    current = audit_verification_list(tenant=tenant).filter(status__in=RUNNING).first()
    if current is not None:
        return current
    total = AuditEntry.objects.filter(chain=chain_for(tenant.pk)).count()
    job = AuditVerification.objects.create(tenant=tenant, requested_by=requested_by, total=total)
    queue.enqueue_on_commit(VERIFY_TASK, job.pk, on_failure=lambda exc: _not_queued(job.pk))
    return job


def _not_queued(job_id: int) -> None:
    AuditVerification.objects.filter(pk=job_id, status=AuditVerification.Status.PENDING).update(
        status=AuditVerification.Status.FAILED,
        error="The background worker could not be reached. Try again in a moment.",
        finished_at=timezone.now(),
    )


def audit_verification_run(*, verification_id: int) -> None:
    """The job's body. Only a waiting job runs, so a redelivered task does nothing."""
    job = audit_job_claim(AuditVerification, verification_id)
    if job is None:
        return
    rows = AuditVerification.objects.filter(pk=verification_id)

    def progress(checked: int) -> None:
        rows.update(checked=checked)

    try:
        report = audit_chain_verify(chain=chain_for(job.tenant_id), on_progress=progress)
        audit_verify_record(reports=[report], actor=job.requested_by, kind="manual")
    except Exception as exc:
        logger.exception("verification %s failed", verification_id)
        rows.update(status=AuditVerification.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now())
        return
    rows.update(
        status=AuditVerification.Status.DONE,
        checked=report.checked,
        total=max(report.checked, job.total),
        ok=report.ok,
        first_bad_seq=report.first_bad_seq,
        problems=report.problems,
        finished_at=timezone.now(),
    )
