"""Budget counters on the request path: Redis (one round trip per turn start) with the database as the truth.

Each budget scope (the company's month, a person's day or month; tokens, or cost in millionths of the currency) has
a *used* counter and a hash of *reservations*, one field per running answer. A turn start runs one Lua script that,
atomically across every process:

1. reports a scope whose used counter is not loaded (the caller sums it from the rollup and retries);
2. refuses if used + reserved + this prompt would pass a limit;
3. counts the person's message in this minute against their per-minute limit;
4. reserves the prompt and the model's maximum output in every scope.

So concurrent sends cannot overshoot a budget by more than one answer's maximum output. When the answer is saved
its reservation goes and the real amount is added. A reservation whose answer died is dropped by the beat
reconcile, which also resets the used counters from the database. Without Redis (the embedded mode) the same logic
runs in-process under a lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

RESERVATION_TTL = 2 * 60 * 60  # seconds; renewed by every reservation, emptied by the reconcile

CHECK = """
local n = tonumber(ARGV[1])
for i = 1, n do
  if redis.call('EXISTS', KEYS[2*i-1]) == 0 then return {-1, i} end
end
for i = 1, n do
  local used = tonumber(redis.call('GET', KEYS[2*i-1]))
  local reserved = 0
  for _, v in ipairs(redis.call('HVALS', KEYS[2*i])) do reserved = reserved + tonumber(v) end
  local base = 4 + 3*(i-1)
  if used + reserved + tonumber(ARGV[base+2]) > tonumber(ARGV[base+1]) then return {1, i} end
end
local rpm = tonumber(ARGV[3])
if rpm >= 0 then
  local count = redis.call('INCR', KEYS[2*n+1])
  if count == 1 then redis.call('EXPIRE', KEYS[2*n+1], 120) end
  if count > rpm then return {2, count} end
end
for i = 1, n do
  redis.call('HSET', KEYS[2*i], ARGV[2], ARGV[4 + 3*(i-1) + 3])
  redis.call('EXPIRE', KEYS[2*i], tonumber(ARGV[4]))
end
return {0, 0}
"""

SETTLE = """
for i = 1, #KEYS / 2 do
  redis.call('HDEL', KEYS[2*i], ARGV[1])
  if redis.call('EXISTS', KEYS[2*i-1]) == 1 then redis.call('INCRBY', KEYS[2*i-1], ARGV[1+i]) end
end
return 0
"""


@dataclass(frozen=True)
class Scope:
    """One budget: ``key`` names it (e.g. ``t:5:2026-11:tok``); ``need`` must fit now, ``reserve`` is held."""

    key: str
    limit: int
    need: int
    reserve: int


@dataclass(frozen=True)
class Verdict:
    ok: bool
    missing: str = ""  # a scope whose counter is not loaded
    exhausted: str = ""  # the scope that ran out
    rate_limited: bool = False


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _full(key: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:usage:{key}"


class RedisCounters:
    def __init__(self, url: str) -> None:
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self._check = self.redis.register_script(CHECK)
        self._settle = self.redis.register_script(SETTLE)

    def check(self, scopes: Sequence[Scope], *, reply: str, rpm_key: str, rpm: int) -> Verdict:
        keys: list[str] = []
        args: list[Any] = [len(scopes), reply, rpm if rpm_key else -1, RESERVATION_TTL]
        for scope in scopes:
            keys += [_full(scope.key), _full(scope.key + ":res")]
            args += [scope.limit, scope.need, scope.reserve]
        if rpm_key:
            keys.append(_full(rpm_key))
        code, index = self._check(keys=keys, args=args)
        if code == -1:
            return Verdict(ok=False, missing=scopes[index - 1].key)
        if code == 1:
            return Verdict(ok=False, exhausted=scopes[index - 1].key)
        if code == 2:
            return Verdict(ok=False, rate_limited=True)
        return Verdict(ok=True)

    def load(self, key: str, value: int) -> None:
        # NX: a concurrent loader or settle that got there first wins; both read the same truth.
        self.redis.set(_full(key), value, nx=True, ex=35 * 24 * 60 * 60)

    def settle(self, amounts: dict[str, int], *, reply: str) -> None:
        keys: list[str] = []
        for key in amounts:
            keys += [_full(key), _full(key + ":res")]
        self._settle(keys=keys, args=[reply, *amounts.values()])

    def forget(self) -> int:
        """Drop every used counter (reloaded from the database on next use); returns how many."""
        dropped = 0
        for key in self.redis.scan_iter(match=_full("*"), count=500):
            name = _text(key)
            if not name.endswith(":res") and ":rpm:" not in name:
                dropped += self.redis.delete(name)
        return dropped

    def reservations(self) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        prefix = _full("")
        for key in self.redis.scan_iter(match=_full("*:res"), count=500):
            values = self.redis.hgetall(key)
            found[_text(key).removeprefix(prefix)] = {_text(k): int(v) for k, v in values.items()}
        return found

    def release(self, scope_res_key: str, replies: list[str]) -> None:
        if replies:
            self.redis.hdel(_full(scope_res_key), *replies)


class LocalCounters:
    """The same semantics in one process (embedded mode, fast tests)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.used: dict[str, int] = {}
        self.reserved: dict[str, dict[str, int]] = {}
        self.minutes: dict[str, int] = {}

    def check(self, scopes: Sequence[Scope], *, reply: str, rpm_key: str, rpm: int) -> Verdict:
        with self.lock:
            for scope in scopes:
                if scope.key not in self.used:
                    return Verdict(ok=False, missing=scope.key)
            for scope in scopes:
                held = sum(self.reserved.get(scope.key + ":res", {}).values())
                if self.used[scope.key] + held + scope.need > scope.limit:
                    return Verdict(ok=False, exhausted=scope.key)
            if rpm_key:
                self.minutes = {k: v for k, v in self.minutes.items() if k.endswith(f":{int(time.time() // 60)}")}
                self.minutes[rpm_key] = self.minutes.get(rpm_key, 0) + 1
                if self.minutes[rpm_key] > rpm:
                    return Verdict(ok=False, rate_limited=True)
            for scope in scopes:
                self.reserved.setdefault(scope.key + ":res", {})[reply] = scope.reserve
            return Verdict(ok=True)

    def load(self, key: str, value: int) -> None:
        with self.lock:
            self.used.setdefault(key, value)

    def settle(self, amounts: dict[str, int], *, reply: str) -> None:
        with self.lock:
            for key, amount in amounts.items():
                self.reserved.get(key + ":res", {}).pop(reply, None)
                if key in self.used:
                    self.used[key] += amount

    def forget(self) -> int:
        with self.lock:
            dropped = len(self.used)
            self.used.clear()
            return dropped

    def reservations(self) -> dict[str, dict[str, int]]:
        with self.lock:
            return {key: dict(held) for key, held in self.reserved.items()}

    def release(self, scope_res_key: str, replies: list[str]) -> None:
        with self.lock:
            for reply in replies:
                self.reserved.get(scope_res_key, {}).pop(reply, None)


_backend: RedisCounters | LocalCounters | None = None
_backend_url: str | None = None


def counters() -> RedisCounters | LocalCounters:
    global _backend, _backend_url
    url = settings.REDIS_URL
    if _backend is None or _backend_url != url:
        _backend = RedisCounters(url) if url else LocalCounters()
        _backend_url = url
    return _backend


def reset() -> None:
    """Forget every counter, reservation and minute (tests; an operator after restoring the database)."""
    global _backend
    backend = counters()
    if isinstance(backend, RedisCounters):
        for key in backend.redis.scan_iter(match=_full("*"), count=500):
            backend.redis.delete(key)
    _backend = None
