"""Readiness: can this process do its work now? The database, the channel layer and the Celery broker, each
answered within a timeout, all three at once (a hung dependency costs one timeout, not three)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection

CHECK_TIMEOUT = 3.0  # seconds per check
_pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="readyz")


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str
    ms: float

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail, "ms": self.ms}


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return connection.vendor
    finally:
        close_old_connections()  # back to the pool: this thread is the check pool's, not a request's


def _redis_host(config: dict[str, Any]) -> dict[str, Any]:
    host = config["CONFIG"]["hosts"][0]
    return host if isinstance(host, dict) else {"address": host}


def check_channel_layer() -> str:
    config = settings.CHANNEL_LAYERS["default"]
    if not str(config["BACKEND"]).startswith("channels_redis."):
        return "in-memory (one process)"
    import redis

    host = _redis_host(config)
    client = redis.Redis.from_url(host["address"], socket_timeout=CHECK_TIMEOUT, socket_connect_timeout=CHECK_TIMEOUT)
    try:
        client.ping()
    finally:
        client.close()
    return "redis"


def check_broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager (tasks run in this process)"
    from kombu import Connection

    options = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    options.update({"max_retries": 0, "socket_connect_timeout": CHECK_TIMEOUT, "socket_timeout": CHECK_TIMEOUT})
    with Connection(settings.CELERY_BROKER_URL, transport_options=options, connect_timeout=CHECK_TIMEOUT) as conn:
        conn.ensure_connection(max_retries=1)
        return str(conn.transport_cls)


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "channel_layer": check_channel_layer,
    "broker": check_broker,
}


def readiness(checks: dict[str, Callable[[], str]] | None = None, timeout: float = CHECK_TIMEOUT) -> dict[str, Any]:
    """Run every check concurrently; a check that raises or outlasts ``timeout`` is not ready (with why)."""
    started = time.perf_counter()
    futures = {name: _pool.submit(func) for name, func in (checks or CHECKS).items()}
    results: dict[str, CheckResult] = {}
    for name, future in futures.items():
        remaining = max(0.0, timeout - (time.perf_counter() - started))
        try:
            detail = future.result(timeout=remaining)
            results[name] = CheckResult(True, detail, _ms(started))
        except FutureTimeout:
            results[name] = CheckResult(False, f"no answer within {timeout:g} s", _ms(started))
        except Exception as exc:  # any failure of a dependency is "not ready", with its reason
            results[name] = CheckResult(False, f"{type(exc).__name__}: {exc}"[:300], _ms(started))
    ok = all(r.ok for r in results.values())
    return {"status": "ok" if ok else "unavailable", "checks": {k: v.as_dict() for k, v in results.items()}}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
