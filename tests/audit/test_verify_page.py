"""“Verify chain” on the audit page: a Celery job over the company's whole chain (a real worker on Redis in CI), its
progress as JSON, the result on the page (when, by whom, entries covered), a broken chain in red with its first bad
entry, the run itself recorded; one job at a time, and only the company's own."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEntry, AuditOutbox, AuditVerification, chain_for
from audit.services import audit_chain_verify
from tenants.models import Tenant, User
from tenants.services import user_create
from tests.audit.test_export import bulk_entries, record
from tests.conftest import signed_in, wait_for


@pytest.fixture
def reviewer_a(tenant_a: Tenant) -> User:
    return user_create(tenant=tenant_a, email="reviewer@alpha.example", role=User.Role.COMPLIANCE_REVIEWER)


def finished(job_id: int) -> bool:
    return AuditVerification.objects.filter(pk=job_id, status__in=("done", "failed")).exists()


@pytest.mark.django_db(transaction=True)
def test_verify_chain_runs_as_a_job_and_the_page_shows_when_by_whom_and_what_it_covered(
    reviewer_a: User, tenant_a: Tenant, celery_worker: Any
) -> None:
    bulk_entries(tenant_a, 2500)
    client = signed_in(reviewer_a)
    page = client.get("/audit/").content.decode()
    assert 'data-testid="verify-chain"' in page
    response = client.post("/audit/verify/")
    assert response.status_code == 302
    job = AuditVerification.objects.get(tenant=tenant_a)
    assert job.total >= 2500
    assert wait_for(lambda: finished(job.pk), timeout=60)
    status = client.get(f"/audit/verify/{job.pk}/status").json()
    assert status["status"] == "done"
    assert status["ok"] is True
    assert status["checked"] == status["total"] >= 2500
    page = client.get("/audit/").content.decode()
    result = page.split('data-testid="verification-result"')[1].split("</p>")[0]
    assert 'data-ok="true"' in result
    assert "Chain verified: whole" in result
    assert "by reviewer@alpha.example" in result
    assert "entries 1 to" in result
    # The run is itself in the trail, by whom and of which kind.
    recorded = AuditOutbox.objects.filter(event_type="audit.verify", tenant_id=tenant_a.pk).latest("pk")
    assert (recorded.actor_email, recorded.payload["kind"], recorded.status) == (
        "reviewer@alpha.example",
        "manual",
        "ok",
    )


@pytest.mark.django_db(transaction=True)
def test_a_broken_chain_shows_in_red_with_its_first_bad_entry(
    reviewer_a: User, tenant_a: Tenant, celery_worker: Any
) -> None:
    record(tenant_a, 6)
    AuditEntry.objects.filter(chain=chain_for(tenant_a.pk), seq=3).update(actor_email="someone@else.example")
    AuditEntry.objects.filter(chain=chain_for(tenant_a.pk), seq=5).update(payload={"i": 9})
    client = signed_in(reviewer_a)
    client.post("/audit/verify/")
    job = AuditVerification.objects.get(tenant=tenant_a)
    assert wait_for(lambda: finished(job.pk), timeout=60)
    job.refresh_from_db()
    assert (job.ok, job.first_bad_seq) == (False, 3)
    assert "entry seq 3 was edited (hash mismatch)" in job.problems
    page = client.get("/audit/").content.decode()
    panel = page.split('data-testid="audit-verification"')[1].split("<form")[0]
    assert 'class="audit-verification error"' in page
    assert "Chain verification FAILED" in panel
    bad = AuditEntry.objects.get(chain=chain_for(tenant_a.pk), seq=3)
    assert f'href="/audit/{bad.pk}/"' in panel.split('data-testid="first-bad-entry"')[1]
    assert "Entry 3" in panel


def test_first_bad_seq_names_where_a_gap_starts(tenant_a: Tenant) -> None:
    record(tenant_a, 6)
    AuditEntry.objects.filter(chain=chain_for(tenant_a.pk), seq__in=[3, 4]).delete()
    report = audit_chain_verify(chain=chain_for(tenant_a.pk))
    assert report.first_bad_seq == 3
    assert report.as_json()["first_bad_seq"] == 3
    whole = audit_chain_verify(chain=chain_for(tenant_a.pk) + "x")
    assert whole.first_bad_seq is None


def test_one_job_at_a_time_and_only_the_companys_own(
    reviewer_a: User, tenant_a: Tenant, tenant_b: Tenant, settings: Any
) -> None:
    from config.celery_app import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False  # leave the job waiting: nothing runs it
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("ops.queue.send", lambda *args, **kwargs: True)
            client = signed_in(reviewer_a)
            client.post("/audit/verify/")
            client.post("/audit/verify/")
    finally:
        app.conf.task_always_eager = eager
    (job,) = AuditVerification.objects.filter(tenant=tenant_a)
    assert job.status == "pending"
    page = client.get("/audit/").content.decode()
    assert 'data-testid="verification-job"' in page  # progress instead of the button
    assert 'data-testid="verify-chain"' not in page
    other = signed_in(user_create(tenant=tenant_b, email="rev@beta.example", role=User.Role.COMPLIANCE_REVIEWER))
    assert other.get(f"/audit/verify/{job.pk}/status").status_code == 404
    member = signed_in(user_create(tenant=tenant_a, email="m@alpha.example"))
    assert member.post("/audit/verify/").status_code == 403
    assert member.get(f"/audit/verify/{job.pk}/status").status_code == 403
    assert client.get("/audit/verify/").status_code == 405


def test_a_finished_job_shows_until_its_own_entry_is_chained(reviewer_a: User, tenant_a: Tenant) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from audit.views import last_check

    older = record(tenant_a, event_type="audit.verify", status="error", payload={"checked": 3, "problems": ["x"]})[0]
    job = AuditVerification.objects.create(
        tenant=tenant_a, requested_by=reviewer_a, status="done", ok=True, checked=4, total=4,
        finished_at=timezone.now(),
    )  # fmt: skip
    AuditVerification.objects.filter(pk=job.pk).update(created_at=older.occurred_at + timedelta(microseconds=1))
    job.refresh_from_db()
    shown = last_check(older, job)
    assert shown is not None
    assert (shown["ok"], shown["by"], shown["checked"]) == (True, "reviewer@alpha.example", 4)
    newer = record(tenant_a, event_type="audit.verify", status="ok", payload={"checked": 4, "first_seq": 1})[0]
    shown = last_check(newer, job)
    assert shown is not None
    assert (shown["ok"], shown["first_seq"]) == (True, 1)  # the recorded run, with its range
    assert last_check(None, None) is None
