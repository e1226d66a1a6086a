"""What the budget check adds to a turn start, against the same turn start with no budget configured.

    python -m bench.budget_bench [--turns 2000] [--round 20] [--markdown]

Runs ``chat.services.chat_turn_start`` (its own transaction, as the web socket runs it: the person's message and
an empty answer saved, no upstream call) against real PostgreSQL and Redis (DATABASE_URL / REDIS_URL, defaulting
to the local servers; a throwaway database and a Redis database and key prefix of its own, removed afterwards) for
one company and one person, in three configurations:

* (a) no ``TenantBudget`` or ``UserLimit`` row: the baseline, ``budget_reserve`` returns at once (no Redis call);
* (b) a company budget (monthly tokens) and per-person defaults (daily and monthly tokens, messages a minute), all
  high enough never to refuse: one Redis round trip (the check-and-reserve Lua script) per turn start;
* (c) as (b) plus the person's own ``UserLimit`` override row.

Configurations alternate in rounds (``--round`` turns each, the order rotating every round) so drift affects all
alike. After each timed turn start the answer is marked finished (so the concurrent-answer cap never refuses) and
its reservation settled, as the engine does after its commit; neither is timed. Reports p50/p99 per configuration,
the p50 added by (b) and (c) over (a), and a Redis ``PING`` round trip for context. Asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._django import percentile, setup_django, throwaway_database

TEXT = "今日の会議の議事録を三つの箇条書きにまとめてください。Summarise today's meeting in three bullet points."
HIGH = 10**15  # tokens: never reached
HIGH_RPM = 1_000_000_000  # messages a minute: never reached (PositiveIntegerField)
WARMUP = 50  # turns per configuration before timing: connections, the Lua script, the counters loaded


@dataclass
class Config:
    key: str
    label: str
    budget: bool
    override: bool
    times: list[float] = field(default_factory=list)  # ms


CONFIGS = [
    Config("a", "(a) no budget rows (baseline)", budget=False, override=False),
    Config("b", "(b) company budget + per-person limits", budget=True, override=False),
    Config("c", "(c) as (b) + personal override row", budget=True, override=True),
]


def _configure(config: Config, *, tenant: Any, user: Any) -> None:
    from usage.models import TenantBudget, UserLimit

    if config.budget:
        TenantBudget.objects.update_or_create(
            tenant=tenant,
            defaults={
                "monthly_tokens": HIGH,
                "user_daily_tokens": HIGH,
                "user_monthly_tokens": HIGH,
                "user_requests_per_minute": HIGH_RPM,
            },
        )
    else:
        TenantBudget.objects.filter(tenant=tenant).delete()
    if config.override:
        UserLimit.objects.update_or_create(
            tenant=tenant,
            user=user,
            defaults={"daily_tokens": HIGH, "monthly_tokens": HIGH, "requests_per_minute": HIGH_RPM},
        )
    else:
        UserLimit.objects.filter(user=user).delete()


def _turn(config: Config, *, tenant: Any, user: Any) -> float:
    """One timed turn start, then (untimed) the answer finished and its reservation settled."""
    from chat.models import Message
    from chat.services import chat_turn_start
    from llm.client import estimate_messages_tokens
    from usage.limits import budget_settle

    began = time.perf_counter()
    start = chat_turn_start(tenant=tenant, user=user, conversation_id=None, text=TEXT)
    elapsed = (time.perf_counter() - began) * 1000
    if (start.ticket is None) == config.budget:
        raise SystemExit(f"{config.label}: the turn start {'made no' if config.budget else 'made a'} reservation")
    Message.objects.filter(pk=start.assistant_message_id).update(status=Message.Status.OK)
    budget_settle(start.ticket, tokens=estimate_messages_tokens(start.prompt) + 200, micros=0, currency="")
    return elapsed


def _ping(client: Any) -> float:
    began = time.perf_counter()
    client.ping()
    return (time.perf_counter() - began) * 1000


def _setup() -> tuple[Any, Any]:
    from llm.models import Deployment, ModelVersion, ModelVersionAccess, ModelVersionDeployment, ProviderKind
    from tenants.services import tenant_create, user_create

    tenant = tenant_create(name="Budget bench", slug=f"budget-{uuid.uuid4().hex[:6]}", domains=["budget.example"])
    user = user_create(tenant=tenant, email="person@budget.example")
    deployment = Deployment.objects.create(
        label="bench-fake", kind=ProviderKind.FAKE, endpoint="fake://?delay=0", deployment_name="fake"
    )
    version = ModelVersion.objects.create(display_name="Fake", family="fake", version="2026-11-30")
    ModelVersionDeployment.objects.create(model_version=version, deployment=deployment)
    ModelVersionAccess.objects.create(model_version=version, tenant=tenant, is_default=True)
    return tenant, user


def _machine(redis_client: Any) -> str:
    from django.db import connection

    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    redis_version = redis_client.info("server").get("redis_version", "?")
    return (
        f"Machine: nproc {os.cpu_count()}, {model}; Python {platform.python_version()},"
        f" PostgreSQL {postgres}, Redis {redis_version}"
    )


def _table(pings: list[float], *, markdown: bool) -> str:
    base = percentile(CONFIGS[0].times, 50)
    headers = ["configuration", "turns", "p50 ms", "p99 ms", "added p50 ms"]
    rows = [
        [
            c.label,
            str(len(c.times)),
            f"{percentile(c.times, 50):.3f}",
            f"{percentile(c.times, 99):.3f}",
            "—" if c is CONFIGS[0] else f"{percentile(c.times, 50) - base:+.3f}",
        ]
        for c in CONFIGS
    ]
    rows.append(
        [
            "Redis PING round trip (context)",
            str(len(pings)),
            f"{percentile(pings, 50):.3f}",
            f"{percentile(pings, 99):.3f}",
            "",
        ]
    )
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|---|" + "|".join("---:" for _ in headers[1:]) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    return "\n".join(
        "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(line, widths, strict=True)))
        for line in [headers, *rows]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=2000, help="timed turn starts per configuration")
    parser.add_argument("--round", type=int, default=20, help="turns of one configuration before the next")
    parser.add_argument("--markdown", action="store_true", help="print the table in Markdown with a machine line")
    args = parser.parse_args()

    # A database, a Redis database and a key prefix of its own: nothing else's data is read, overwritten or deleted.
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/officeai_budget_bench")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/6")
    os.environ["REDIS_KEY_PREFIX"] = f"officeai-budget-bench-{uuid.uuid4().hex[:8]}"
    setup_django()
    from django.conf import settings
    from django.db import connection

    from usage.counters import RedisCounters, counters

    backend = counters()
    if not isinstance(backend, RedisCounters) or connection.vendor != "postgresql":
        raise SystemExit("bench.budget_bench needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)")
    redis_client = backend.redis
    pings: list[float] = []
    try:
        with throwaway_database():
            tenant, user = _setup()
            for config in CONFIGS:
                _configure(config, tenant=tenant, user=user)
                for _ in range(WARMUP):
                    _turn(config, tenant=tenant, user=user)
                    _ping(redis_client)
            rounds = -(-args.turns // args.round)
            for r in range(rounds):
                shift = r % len(CONFIGS)
                for config in CONFIGS[shift:] + CONFIGS[:shift]:
                    _configure(config, tenant=tenant, user=user)
                    for _ in range(min(args.round, args.turns - len(config.times))):
                        config.times.append(_turn(config, tenant=tenant, user=user))
                        pings.append(_ping(redis_client))
            machine = _machine(redis_client)
    finally:
        for key in redis_client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}:*", count=500):
            redis_client.delete(key)

    print(
        f"Budget check on the turn start: chat_turn_start, {args.turns} turns per configuration,"
        f" interleaved in rounds of {args.round}"
    )
    if args.markdown:
        print(machine + "\n")
    print(_table(pings, markdown=args.markdown))
    print()
    base = percentile(CONFIGS[0].times, 50)
    added = ", ".join(f"{c.key} {percentile(c.times, 50) - base:+.3f} ms" for c in CONFIGS[1:])
    print(f"Added at p50 over the baseline: {added} (the issue's target: at most 1 ms)")


if __name__ == "__main__":
    main()
