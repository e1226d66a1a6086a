"""Audit trail benchmark: what recording costs on the request path, and how fast exports stream.

    python -m bench.audit_bench [--events 2000] [--rows 50000]

Runs against real PostgreSQL and Redis (DATABASE_URL / REDIS_URL, defaulting to the local servers) in a throwaway
database. Reports ratios against baselines measured in the same run, never absolute pass/fail:

* request path: a transaction that inserts a business row, vs the same transaction that also records an audit
  event (outbox row + on-commit hand-off to the background publisher);
* export: rows/second of the streamed CSV ZIP export vs PostgreSQL ``COPY ... TO STDOUT`` of the same rows.
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

from bench._django import percentile, setup_django, throwaway_database


def _request_path(events: int) -> None:
    from django.db import transaction

    from audit.models import AuditEntry
    from audit.services import audit_record
    from ops import queue
    from tenants.models import TenantHostname
    from tenants.services import tenant_create

    tenant = tenant_create(name="Bench", slug=f"bench-{uuid.uuid4().hex[:6]}", domains=[])

    def business(i: int, audited: bool) -> float:
        start = time.perf_counter()
        with transaction.atomic():
            row = TenantHostname.objects.create(tenant=tenant, hostname=f"h{i}-{audited:d}.bench.example")
            if audited:
                audit_record(event_type="bench.change", tenant=tenant, payload={"id": row.pk, "text": "監査"})
        return (time.perf_counter() - start) * 1000

    for i in range(50):  # warm-up: connections, caches
        business(-i - 1, True)
    plain = [business(i, False) for i in range(events)]
    audited = [business(i, True) for i in range(events)]
    queue.drain(timeout=120)
    _wait_chained(tenant.pk, events + 50, AuditEntry)
    from config.celery_app import app

    app.control.purge()  # the benchmark's own messages; the sweep already chained everything
    p50p, p50a = percentile(plain, 50), percentile(audited, 50)
    p99p, p99a = percentile(plain, 99), percentile(audited, 99)
    print(f"request path ({events} transactions each)")
    print(f"  business only      p50 {p50p:7.3f} ms   p99 {p99p:7.3f} ms")
    print(f"  + audit record     p50 {p50a:7.3f} ms   p99 {p99a:7.3f} ms")
    print(f"  added by audit     p50 {p50a - p50p:+7.3f} ms   ratio p50 {p50a / p50p:5.2f}x   p99 {p99a / p99p:5.2f}x")


def _wait_chained(tenant_id: int, expected: int, model: Any) -> None:
    # Needs a worker on the broker; without one the sweep does it here (same code path as beat).
    from audit.services import audit_pending_sweep

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and model.objects.filter(tenant_id=tenant_id).count() < expected:
        time.sleep(0.2)
    from datetime import timedelta

    audit_pending_sweep(older_than=timedelta(0), limit=expected * 2)


def _export(rows: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from audit.export import audit_export_prepare
    from audit.hashing import GENESIS, entry_hash, entry_seal
    from audit.models import AuditChainHead, AuditEntry
    from audit.services import chain_for
    from tenants.services import tenant_create

    tenant = tenant_create(name="Export bench", slug=f"export-{uuid.uuid4().hex[:6]}", domains=[])
    chain, prev, batch = chain_for(tenant.pk), GENESIS, []
    now = timezone.now()
    for seq in range(1, rows + 1):
        fields = {
            "chain": chain,
            "seq": seq,
            "event_id": uuid.uuid4(),
            "tenant_id": tenant.pk,
            "event_type": "llm.chat",
            "occurred_at": now,
            "recorded_at": now,
            "actor_id": 1,
            "actor_email": "user@bench.example",
            "channel": "web",
            "model_label": "gpt-4o 2024-11-20",
            "status": "ok",
            "payload": {"prompt": "議事録を要約してください。" * 4, "response": "要約: " + "x" * 300, "n": seq},
            "prev_hash": prev,
        }
        fields["entry_hash"] = prev = entry_hash(fields)
        fields["key_id"], fields["mac"] = entry_seal(prev)
        batch.append(AuditEntry(**fields))
        if len(batch) == 5000:
            AuditEntry.objects.bulk_create(batch)
            batch = []
    AuditEntry.objects.bulk_create(batch)
    AuditChainHead.objects.create(chain=chain, last_seq=rows, last_hash=prev)

    start = time.perf_counter()
    stream = audit_export_prepare(tenant=tenant, format="csv", filters={})
    size = sum(len(chunk) for chunk in stream.chunks())
    ours = time.perf_counter() - start
    if stream.manifest is None or stream.manifest["row_count"] != rows:
        raise SystemExit("export wrote a different number of rows than it was given")

    start = time.perf_counter()
    copied = 0
    with connection.cursor() as cursor:
        raw = cursor.connection  # psycopg 3 connection
        with (
            raw.cursor() as pg,
            pg.copy(
                "COPY (SELECT seq, occurred_at, recorded_at, event_type, actor_email, channel, model_label, status,"
                " event_id, prev_hash, entry_hash, payload FROM audit_auditentry WHERE chain = %s ORDER BY seq)"
                " TO STDOUT WITH (FORMAT csv, HEADER)",
                [chain],
            ) as copy,
        ):
            for data in copy:
                copied += len(data)
    baseline = time.perf_counter() - start
    print(f"export ({rows} llm.chat rows)")
    print(f"  PostgreSQL COPY    {rows / baseline:10.0f} rows/s   {copied / 1e6:6.1f} MB raw CSV")
    print(f"  streamed CSV ZIP   {rows / ours:10.0f} rows/s   {size / 1e6:6.1f} MB zipped (with manifest)")
    print(f"  ratio (ours / COPY throughput) {baseline / ours:5.2f}   i.e. {ours / baseline:4.1f}x the time of COPY")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    with throwaway_database():
        if connection.vendor != "postgresql":
            raise SystemExit("bench.audit_bench needs PostgreSQL (DATABASE_URL) for its COPY baseline")
        _request_path(args.events)
        _export(args.rows)


if __name__ == "__main__":
    main()
