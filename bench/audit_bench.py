"""Audit trail benchmark: what recording costs on the request path, and how fast exports stream.

    python -m bench.audit_bench [--events 2000] [--rows 1000000] [--skip-request-path]

Runs against real PostgreSQL and Redis (DATABASE_URL / REDIS_URL, defaulting to the local servers) in a throwaway
database. Reports ratios against baselines measured in the same run, never absolute pass/fail:

* request path: a transaction that inserts a business row, vs the same transaction that also records an audit
  event (outbox row + on-commit hand-off to the background publisher);
* export: rows/second of the streamed CSV and XLSX ZIP exports vs PostgreSQL ``COPY ... TO STDOUT`` of the same
  rows, and the memory each adds while it runs (resident set size above the level before it started, sampled
  every 10,000 rows): flat means the growth at the end is the growth after the first 10 % of the rows.
"""

from __future__ import annotations

import argparse
import gc
import os
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

    results = {fmt: _export_once(tenant, fmt, rows) for fmt in ("csv", "xlsx")}

    start = time.perf_counter()
    rss_before = _rss()
    copied, copy_peak = 0, 0
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
            for i, data in enumerate(copy):
                copied += len(data)
                if i % 10_000 == 0:
                    copy_peak = max(copy_peak, _rss() - rss_before)
    baseline = time.perf_counter() - start
    print(f"export ({rows:,} llm.chat rows)")
    print(f"  {'':18} {'rows/s':>10} {'time vs COPY':>13} {'MB out':>8} {'RSS growth MB: at 10 %':>24} {'at end':>8}")
    copy_mb, copy_peak_mb = copied / 1e6, copy_peak / 1e6
    print(f"  {'PostgreSQL COPY':18} {rows / baseline:10.0f} {1.0:12.2f}x {copy_mb:8.1f} {'':>24} {copy_peak_mb:8.1f}")
    for fmt, (seconds, size, early, peak) in results.items():
        label = f"streamed {fmt.upper()} ZIP"
        print(
            f"  {label:18} {rows / seconds:10.0f} {seconds / baseline:12.2f}x {size / 1e6:8.1f} {early / 1e6:24.1f} "
            f"{peak / 1e6:8.1f}"
        )
    print("  (the exports include verifying the whole chain as they close; COPY reads the rows only)")


def _rss() -> int:
    """Resident set size of this process now, in bytes (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _export_once(tenant: Any, fmt: str, rows: int) -> tuple[float, int, int, int]:
    """One export streamed to nowhere: seconds, bytes, RSS growth after the first 10 % of rows and at its peak."""
    from audit.export import PROGRESS_EVERY, audit_export_prepare

    gc.collect()
    rss_before = _rss()
    growth = {"early": 0, "peak": 0}

    def progress(done: int) -> None:
        now = _rss() - rss_before
        growth["peak"] = max(growth["peak"], now)
        if done <= max(rows // 10, PROGRESS_EVERY):
            growth["early"] = max(growth["early"], now)

    start = time.perf_counter()
    stream = audit_export_prepare(tenant=tenant, format=fmt, filters={})
    size = 0
    for chunk in stream.chunks(on_progress=progress):
        size += len(chunk)
    growth["peak"] = max(growth["peak"], _rss() - rss_before)
    seconds = time.perf_counter() - start
    if stream.manifest is None or stream.manifest["row_count"] != rows:
        raise SystemExit(f"the {fmt} export wrote a different number of rows than it was given")
    return seconds, size, growth["early"], growth["peak"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-request-path", action="store_true", help="only the export comparison")
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    with throwaway_database():
        if connection.vendor != "postgresql":
            raise SystemExit("bench.audit_bench needs PostgreSQL (DATABASE_URL) for its COPY baseline")
        if not args.skip_request_path:
            _request_path(args.events)
        _export(args.rows)


if __name__ == "__main__":
    main()
