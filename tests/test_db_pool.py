"""Django's psycopg pool is safe with daphne's threads.

Under ASGI every ORM step runs through ``database_sync_to_async``: thread-sensitive calls share one thread (or one
per HTTP request, in the ThreadSensitiveContext Django's ASGI handler opens), thread-insensitive ones run on the
loop's default executor. With the pool, each call borrows a connection and gives it back when Channels closes it
after the call (CONN_MAX_AGE = 0). PostgreSQL only; on SQLite the settings must choose no pool.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, cast

import pytest
from asgiref.sync import ThreadSensitiveContext
from channels.db import database_sync_to_async
from django.contrib.sites.models import Site
from django.db import connection, transaction
from django.db.backends.postgresql.base import DatabaseWrapper
from psycopg.pq import TransactionStatus

from tests.live import ROOT

pytestmark = pytest.mark.django_db(transaction=True)

Span = tuple[int, int, float, float]  # backend pid, thread, held from, held until


def _settings_for(database_url: str, **extra_env: str) -> dict[str, Any]:
    """DATABASES["default"] as a process started with ``database_url`` builds it (no connection is made)."""
    code = "import json; from config.settings import base; print(json.dumps(base.DATABASES['default'], default=str))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_POOL_")}
    env.update({"DATABASE_URL": database_url, "DJANGO_READ_DOT_ENV_FILE": "false", **extra_env})
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return cast(dict[str, Any], json.loads(out.stdout))


def test_settings_pool_postgresql_only() -> None:
    sqlite = _settings_for("sqlite:////tmp/officeai-pool-check.sqlite3")
    assert sqlite["ENGINE"] == "django.db.backends.sqlite3"
    assert "pool" not in sqlite["OPTIONS"]
    assert sqlite["CONN_MAX_AGE"] == 0

    postgres = _settings_for("postgres://u@127.0.0.1:5432/x")
    assert postgres["ENGINE"] == "django.db.backends.postgresql"
    assert postgres["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 10}
    assert postgres["CONN_MAX_AGE"] == 0  # Django refuses a pool with persistent connections

    sized = _settings_for("postgres://u@127.0.0.1:5432/x", DATABASE_POOL_MIN_SIZE="1", DATABASE_POOL_MAX_SIZE="4")
    assert sized["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 4}

    # And this run uses what its own settings chose. On PostgreSQL the suite's pool (made on first use) serves the
    # test database pytest-django switched to, never the one DATABASE_URL names: a pool made before the switch
    # would keep handing out connections to the real database.
    if connection.vendor == "postgresql":
        assert connection.settings_dict["NAME"].startswith("test_")
        assert cast(DatabaseWrapper, connection).pool.kwargs["dbname"] == connection.settings_dict["NAME"]
    else:
        assert "pool" not in connection.settings_dict["OPTIONS"]


@pytest.fixture
def pool() -> Iterator[Any]:
    """On PostgreSQL, a fresh pool with the configured limits; None on SQLite.

    Fresh, because a thread of an earlier test may still hold a connection of the suite's pool: channels.testing's
    communicators swap channels.db.close_old_connections for a no-op while a test awaits them (daphne never does).
    """
    if connection.vendor != "postgresql":
        yield None
        return
    wrapper = cast(DatabaseWrapper, connection)
    wrapper.close_pool()
    wrapper.pool.open(wait=True, timeout=10)  # min_size connections ready: no first caller waits and grows it
    try:
        yield wrapper.pool
    finally:
        connection.close()
        wrapper.close_pool()


def _held(hold: float) -> Span:
    """One ORM step: a transaction that reports its backend and keeps the connection for ``hold`` seconds."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
        start = time.monotonic()
        cursor.execute("SELECT pg_sleep(%s)", [hold])
        end = time.monotonic()
    return pid, threading.get_ident(), start, end


def _in_request(call: Callable[[], Span]) -> Callable[[], Awaitable[Span]]:
    """A thread-sensitive call inside its own ThreadSensitiveContext, as Django's ASGI handler runs a request."""

    async def run() -> Span:
        async with ThreadSensitiveContext():
            return await database_sync_to_async(call)()

    return run


async def _batch(*, sensitive: int, insensitive: int, requests: int, hold: float) -> list[Span]:
    def call() -> Span:
        return _held(hold)

    calls: list[Awaitable[Span]] = [database_sync_to_async(call)() for _ in range(sensitive)]
    calls += [database_sync_to_async(call, thread_sensitive=False)() for _ in range(insensitive)]
    calls += [_in_request(call)() for _ in range(requests)]
    return list(await asyncio.gather(*calls))


def _assert_never_shared(spans: list[Span]) -> None:
    by_pid: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for pid, _, start, end in spans:
        by_pid[pid].append((start, end))
    for pid, held in by_pid.items():
        held.sort()
        for (_, first_end), (second_start, _) in itertools.pairwise(held):
            assert second_start >= first_end, f"backend {pid} served two calls at once"


def _backends_started_since(mark: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_start > %s", [mark]
        )
        return [row[0] for row in cursor.fetchall()]


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        return str(cursor.fetchone()[0])


def _now() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()::text")
        return str(cursor.fetchone()[0])


async def test_pool_is_safe_with_daphne_threads(pool: Any) -> None:
    if connection.vendor != "postgresql":
        # The embedded mode: SQLite, no pool (nothing to share between threads but the file's locks).
        assert "pool" not in connection.settings_dict["OPTIONS"]
        assert connection.settings_dict["CONN_MAX_AGE"] == 0
        return
    assert connection.settings_dict["CONN_MAX_AGE"] == 0
    # Its connections are on the test database.
    assert pool.kwargs["dbname"] == connection.settings_dict["NAME"]
    assert connection.settings_dict["NAME"].startswith("test_")
    assert await database_sync_to_async(_database)() == connection.settings_dict["NAME"]

    # Warm-up: twice as many borrowers at once as the pool may hold (one thread per "request", as under
    # Django's ASGI handler), plus consumers' thread-sensitive calls and thread-insensitive ones.
    warm = await _batch(sensitive=20, insensitive=20, requests=2 * pool.max_size, hold=0.2)
    _assert_never_shared(warm)
    assert len({pid for pid, *_ in warm}) <= pool.max_size
    stats = pool.get_stats()
    assert stats["pool_size"] == pool.max_size  # it grew to its limit and no further
    assert stats["pool_available"] == stats["pool_size"], stats  # every borrowed connection came back

    opened = stats["connections_num"]
    mark = await database_sync_to_async(_now)()
    spans = await _batch(sensitive=20, insensitive=20, requests=10, hold=0.05)
    _assert_never_shared(spans)
    assert len({pid for pid, *_ in spans}) <= pool.max_size
    # Consumers' thread-sensitive calls share one thread; "requests" ran on threads of their own.
    shared = {thread for _, thread, *_ in spans[:20]}
    assert len(shared) == 1
    assert shared.isdisjoint(thread for _, thread, *_ in spans[40:])
    # No new PostgreSQL session for the 50 calls: the pool served them all from the warm connections.
    assert pool.get_stats()["connections_num"] == opened
    assert await database_sync_to_async(_backends_started_since)(mark) == []
    assert {pid for pid, *_ in spans} <= {pid for pid, *_ in warm}
    stats = pool.get_stats()
    assert stats["pool_available"] == stats["pool_size"] == pool.max_size, stats


def _fails_inside_atomic(domain: str) -> int:
    with transaction.atomic():
        Site.objects.create(domain=domain, name="leak")
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = int(cursor.fetchone()[0])
        raise RuntimeError(pid)


def _fails_with_autocommit_off(domain: str) -> int:
    # Worse than a failing atomic block: the transaction is left open and autocommit is never restored.
    transaction.set_autocommit(False)
    Site.objects.create(domain=domain, name="leak")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = int(cursor.fetchone()[0])
    raise RuntimeError(pid)


def _fresh_step(domain: str) -> tuple[int, bool, bool, bool]:
    """What the next call sees on the connection it borrows: before any query, then the leaked row."""
    connection.ensure_connection()
    assert connection.connection is not None
    idle = connection.connection.info.transaction_status == TransactionStatus.IDLE
    autocommit = connection.get_autocommit()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = int(cursor.fetchone()[0])
    return pid, idle, autocommit, Site.objects.filter(domain=domain).exists()


@pytest.mark.parametrize("failing", [_fails_inside_atomic, _fails_with_autocommit_off])
async def test_failed_call_leaves_nothing_open_on_its_pooled_connection(
    failing: Callable[[str], int], caplog: pytest.LogCaptureFixture, pool: Any
) -> None:
    domain = f"{failing.__name__}.example"
    if connection.vendor != "postgresql":
        assert "pool" not in connection.settings_dict["OPTIONS"]
        return
    with caplog.at_level(logging.WARNING, logger="psycopg.pool"), pytest.raises(RuntimeError) as failed:
        await database_sync_to_async(failing)(domain)
    leaked_pid = failed.value.args[0]

    # The pool hands connections out oldest-returned first: at most one round of it reaches the failed one.
    seen = []
    for _ in range(pool.max_size + 1):
        pid, idle, autocommit, row_exists = await database_sync_to_async(_fresh_step)(domain)
        assert idle, f"backend {pid} was handed out inside a transaction"
        assert autocommit
        assert not row_exists, "the failed call's row was committed"
        seen.append(pid)
        if pid == leaked_pid:
            break
    assert leaked_pid in seen, f"never got backend {leaked_pid} back (saw {seen})"
    if failing is _fails_with_autocommit_off:
        assert "rolling back returned connection" in caplog.text  # the pool, not the next caller, cleaned it
    stats = pool.get_stats()
    assert stats["pool_available"] == stats["pool_size"], stats
