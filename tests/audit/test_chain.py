"""The chain: gap-free per tenant, idempotent, safe under concurrent writers, and it catches tampering."""

from __future__ import annotations

import itertools
import threading
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from audit.hashing import GENESIS, entry_hash
from audit.models import AuditChainHead, AuditCheckpoint, AuditEntry, AuditOutbox
from audit.services import (
    audit_chain_advance,
    audit_chain_verify,
    audit_record,
    audit_retention_apply,
    chain_for,
)
from tenants.models import Tenant
from tests.audit.helpers import chain_all, entries, record, verify_output
from tests.conftest import wait_for


def test_each_tenant_has_its_own_gap_free_chain(tenant_a: Tenant, tenant_b: Tenant) -> None:
    record(3, tenant=tenant_a)
    record(2, tenant=tenant_b)
    record(1, tenant=None)
    assert chain_all() == 6
    a = entries(chain_for(tenant_a.pk))
    assert [e.seq for e in a] == [1, 2, 3]
    assert a[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.entry_hash for earlier, later in itertools.pairwise(a))
    assert [e.seq for e in entries(chain_for(tenant_b.pk))] == [1, 2]
    assert [e.seq for e in entries("global")] == [1]
    assert all(audit_chain_verify(chain=c).ok for c in (chain_for(tenant_a.pk), chain_for(tenant_b.pk), "global"))


def test_outbox_is_written_in_the_callers_transaction(tenant_a: Tenant) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012 - the raise is the point
        audit_record(event_type="test.event", tenant=tenant_a)
        raise RuntimeError("the business change failed")
    assert not AuditOutbox.objects.exists()


def test_task_run_twice_on_the_same_row_makes_one_entry(tenant_a: Tenant) -> None:
    with transaction.atomic():
        row = audit_record(event_type="test.event", tenant=tenant_a)
    first = audit_chain_advance(outbox_id=row.pk)
    second = audit_chain_advance(outbox_id=row.pk)
    assert first is not None
    assert second is None
    assert AuditEntry.objects.count() == 1
    assert AuditChainHead.objects.get(chain=chain_for(tenant_a.pk)).last_seq == 1


@pytest.mark.django_db(transaction=True)
def test_enqueue_on_commit_reaches_celery_and_chains(tenant_a: Tenant, celery_worker: object) -> None:
    # Eager in the embedded mode; a real worker on Redis when REDIS_URL is set (CI).
    with transaction.atomic():
        audit_record(event_type="test.event", tenant=tenant_a)
        assert not AuditEntry.objects.exists()  # nothing is enqueued before commit
    assert wait_for(lambda: AuditEntry.objects.filter(event_type="test.event").exists())


def test_entries_are_append_only(tenant_a: Tenant) -> None:
    record(1, tenant=tenant_a)
    chain_all()
    entry = AuditEntry.objects.get()
    entry.status = "edited"
    with pytest.raises(RuntimeError):
        entry.save()
    with pytest.raises(RuntimeError):
        entry.delete()


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_do_not_fork_the_chain(tenant_a: Tenant, broker_down: None) -> None:
    # On PostgreSQL the chain head's row lock serialises writers; on SQLite the database lock does.
    rows = []
    for _ in range(40):
        with transaction.atomic():
            rows.append(audit_record(event_type="test.event", tenant=tenant_a).pk)
    errors: list[BaseException] = []

    def worker(ids: list[int]) -> None:
        try:
            for outbox_id in ids:
                audit_chain_advance(outbox_id=outbox_id)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    # Four threads chase the same rows in different orders: each row must be chained exactly once.
    threads = [threading.Thread(target=worker, args=(rows[i::2] + rows[::-1],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    chain = entries(chain_for(tenant_a.pk))
    assert [e.seq for e in chain] == list(range(1, 41))
    assert len({e.event_id for e in chain}) == 40
    assert audit_chain_verify(chain=chain_for(tenant_a.pk)).ok


def test_audit_verify_passes_on_an_intact_chain(tenant_a: Tenant) -> None:
    record(5, tenant=tenant_a)
    chain_all()
    ok, out = verify_output(tenant_a)
    assert ok
    assert "OK" in out
    assert "5 entries" in out


def test_audit_verify_catches_an_edited_field(tenant_a: Tenant) -> None:
    record(5, tenant=tenant_a)
    chain_all()
    AuditEntry.objects.filter(chain=chain_for(tenant_a.pk), seq=3).update(actor_email="someone@else.example")
    ok, out = verify_output(tenant_a)
    assert not ok
    assert "entry seq 3 was edited" in out


def test_audit_verify_catches_an_edited_payload(tenant_a: Tenant) -> None:
    record(5, tenant=tenant_a)
    chain_all()
    AuditEntry.objects.filter(chain=chain_for(tenant_a.pk), seq=2).update(payload={"i": 1, "text": "改ざん"})
    ok, out = verify_output(tenant_a)
    assert not ok
    assert "entry seq 2 was edited" in out


def test_audit_verify_catches_a_deleted_row(tenant_a: Tenant) -> None:
    record(5, tenant=tenant_a)
    chain_all()
    AuditEntry.objects.filter(chain=chain_for(tenant_a.pk), seq=4)._raw_delete("default")
    ok, out = verify_output(tenant_a)
    assert not ok
    assert "entry seq 4 is missing" in out


def test_audit_verify_catches_a_deleted_last_row(tenant_a: Tenant) -> None:
    record(5, tenant=tenant_a)
    chain_all()
    AuditEntry.objects.filter(chain=chain_for(tenant_a.pk), seq=5)._raw_delete("default")
    ok, out = verify_output(tenant_a)
    assert not ok
    assert "5..5 are missing at the end" in out


def test_audit_verify_catches_a_swapped_order(tenant_a: Tenant) -> None:
    record(5, tenant=tenant_a)
    chain_all()
    chain = chain_for(tenant_a.pk)
    qs = AuditEntry.objects.filter(chain=chain)
    qs.filter(seq=2).update(seq=-2)
    qs.filter(seq=3).update(seq=2)
    qs.filter(seq=-2).update(seq=3)
    ok, out = verify_output(tenant_a)
    assert not ok
    assert "entry seq 2" in out


def test_audit_verify_catches_a_well_hashed_entry_appended_beyond_the_head(tenant_a: Tenant, tenant_b: Tenant) -> None:
    record(3, tenant=tenant_a)
    record(2, tenant=tenant_b)
    chain_all()
    chain = chain_for(tenant_a.pk)
    last = AuditEntry.objects.get(chain=chain, seq=3)
    forged = {f.attname: getattr(last, f.attname) for f in AuditEntry._meta.concrete_fields if f.attname != "id"}
    forged.update(seq=4, event_id=uuid.uuid4(), prev_hash=last.entry_hash, payload={"forged": True})
    forged["entry_hash"] = entry_hash(forged)  # plain SHA-256: anyone with write access can compute it
    AuditEntry.objects.bulk_create([AuditEntry(**forged)])
    ok, out = verify_output(tenant_a)
    assert not ok
    assert "entries seq 4..4 lie beyond the chain head" in out
    assert verify_output(tenant_b)[0]  # the other tenant's chain is untouched

    # The writer does not jam on the intruder: the next event is chained after it, linked to the last real entry,
    # and the verifier then names the inserted run.
    record(1, tenant=tenant_a)
    assert chain_all() == 1
    assert not AuditOutbox.objects.filter(processed_at__isnull=True).exists()
    latest = AuditEntry.objects.get(chain=chain, seq=5)
    assert latest.prev_hash == last.entry_hash
    ok, out = verify_output(tenant_a)
    assert not ok
    assert "entries seq 4..4 were inserted into the chain (entry seq 5 links to seq 3)" in out


def test_verification_is_itself_audited(tenant_a: Tenant) -> None:
    record(2, tenant=tenant_a)
    chain_all()
    call_command("audit_verify", "--tenant", tenant_a.slug, stdout=StringIO())
    row = AuditOutbox.objects.get(event_type="audit.verify")
    assert row.tenant_id == tenant_a.pk
    assert row.payload["checked"] == 2


def test_audit_verify_unknown_tenant(db: None) -> None:
    with pytest.raises(CommandError, match="no tenant"):
        call_command("audit_verify", "--tenant", "nope", stdout=StringIO())


def test_retention_deletes_old_entries_and_verify_still_passes(tenant_a: Tenant, tenant_b: Tenant) -> None:
    from datetime import timedelta

    from django.utils import timezone

    record(6, tenant=tenant_a)
    record(2, tenant=tenant_b)
    chain_all()
    chain = chain_for(tenant_a.pk)
    Tenant.objects.filter(pk=tenant_a.pk).update(audit_retention_days=30)
    tenant_a.refresh_from_db()
    # Entries 1-4 were recorded 40 days ago (simulated by looking from 40 days ahead for the first four).
    cutoff_entry = AuditEntry.objects.get(chain=chain, seq=4)
    result = audit_retention_apply(tenant=tenant_a, now=cutoff_entry.recorded_at + timedelta(days=30, microseconds=1))
    assert result.deleted == 4
    assert [e.seq for e in entries(chain)] == [5, 6]
    checkpoint = AuditCheckpoint.objects.get(chain=chain)
    assert checkpoint.seq == 4
    assert audit_chain_verify(chain=chain).ok
    # The retention run is recorded and chained after the survivors.
    chain_all()
    assert entries(chain)[-1].event_type == "audit.retention"
    assert audit_chain_verify(chain=chain).ok
    # The other tenant is untouched.
    assert len(entries(chain_for(tenant_b.pk))) == 2
    # A forged checkpoint is caught.
    AuditCheckpoint.objects.filter(pk=checkpoint.pk).update(deleted_count=1)
    assert not audit_chain_verify(chain=chain).ok
    assert timezone.now()  # keeps the import used on every path
