"""Writes of usage: the rollup upsert (in the transaction that saves an answer), ``usage_rebuild``, and the beat
reconcile of the Redis budget counters."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connection, transaction

from audit.models import Channel
from audit.services import audit_record
from tenants.models import User
from usage.counters import counters
from usage.limits import micro, reservations_release
from usage.models import UsageDaily
from usage.prices import price_on

logger = logging.getLogger("officeai.usage")


@dataclass(frozen=True)
class TurnUsage:
    """One model call as the rollup counts it."""

    tenant_id: int
    day: date
    speaker: str
    user_id: int | None
    speaker_email: str
    model_label: str
    model_version_id: int | None
    channel: str
    deployment: str
    outcome: str
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    reasoning_tokens: int
    estimated: bool
    ttft_ms: int | None
    duration_ms: int | None
    cost_micros: int
    currency: str


COLUMNS = (
    "tenant_id", "day", "speaker", "user_id", "speaker_email", "model_label", "model_version_id", "channel",
    "deployment", "outcome", "requests", "input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens",
    "estimated_requests", "ttft_ms_sum", "ttft_count", "duration_ms_sum", "cost_micros", "currency",
)  # fmt: skip
ADDED = (
    "requests", "input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens", "estimated_requests",
    "ttft_ms_sum", "ttft_count", "duration_ms_sum", "cost_micros",
)  # fmt: skip
KEY = ("tenant_id", "day", "speaker", "model_label", "channel", "deployment", "outcome")


def _upsert_sql() -> str:
    table = connection.ops.quote_name(UsageDaily._meta.db_table)
    cols = ", ".join(COLUMNS)
    marks = ", ".join(["%s"] * len(COLUMNS))
    added = ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in ADDED)
    # The last answer's person details and version win; a price's currency is fixed per version and day.
    kept = "user_id = EXCLUDED.user_id, speaker_email = EXCLUDED.speaker_email, currency = EXCLUDED.currency, "
    kept += f"model_version_id = COALESCE(EXCLUDED.model_version_id, {table}.model_version_id)"
    # Only fixed column names and the quoted table name are formatted in; every value is a parameter.
    conflict = ", ".join(KEY)
    return f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT ({conflict}) DO UPDATE SET {added}, {kept}"  # noqa: S608


def _values(turn: TurnUsage) -> tuple[Any, ...]:
    has_ttft = turn.ttft_ms is not None
    return (
        turn.tenant_id, turn.day, turn.speaker, turn.user_id, turn.speaker_email[:254], turn.model_label[:200],
        turn.model_version_id, turn.channel, turn.deployment[:100], turn.outcome[:48], 1, turn.input_tokens,
        turn.cached_tokens, turn.output_tokens, turn.reasoning_tokens, int(turn.estimated),
        turn.ttft_ms if has_ttft else 0, int(has_ttft), turn.duration_ms or 0, turn.cost_micros, turn.currency,
    )  # fmt: skip


def usage_add(*, turns: Iterable[TurnUsage]) -> None:
    """Add calls to the rollup: one upsert statement each, no read. Call inside the transaction that saves them."""
    rows = [_values(turn) for turn in turns]
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(_upsert_sql(), rows)


def turn_cost(
    *, model_version_id: int | None, day: date, input_tokens: int, cached_tokens: int, output_tokens: int
) -> tuple[int, str]:
    """Estimated cost in millionths, and the currency, at the price in force on ``day`` (0 and "" without one)."""
    price = price_on(model_version_id=model_version_id, day=day)
    if price is None:
        return 0, ""
    amount = price.cost(input_tokens=input_tokens, cached_tokens=cached_tokens, output_tokens=output_tokens)
    return micro(amount), price.currency


@transaction.atomic
def usage_replace(*, since: date, until: date, tenant_id: int | None, turns: Iterable[TurnUsage]) -> int:
    """Replace the rollup of days ``since``..``until`` (inclusive) with ``turns`` (``chat.usage.usage_rebuild``
    recomputes them from the saved answers). Returns how many were counted."""
    rollup = UsageDaily.objects.filter(day__gte=since, day__lte=until)
    if tenant_id is not None:
        rollup = rollup.filter(tenant_id=tenant_id)
    rollup.delete()
    rows = list(turns)
    usage_add(turns=rows)
    # The budget counters follow the database again at their next use.
    transaction.on_commit(counters().forget)
    return len(rows)


def usage_reconcile(*, running: list[int]) -> tuple[int, int]:
    """Beat: drop the budget counters (each is summed from the rollup again at its next use) and the reservations
    of answers no longer running. Returns (counters dropped, reservations released)."""
    dropped = counters().forget()
    released = reservations_release(running=[str(pk) for pk in running])
    if released:
        logger.info("usage: released %d reservations of answers that stopped running", released)
    return dropped, released


def usage_access_record(
    *, actor: User, tenant_id: int | None, kind: str, filters: dict[str, str], rows: int = 0
) -> None:
    """``usage.viewed`` / ``usage.exported``: who looked at whose usage (a company's chain, or the global one for
    the operator's all-companies view)."""
    payload: dict[str, Any] = {"filters": filters}
    if kind == "exported":
        payload["row_count"] = rows
    with transaction.atomic():
        audit_record(event_type=f"usage.{kind}", tenant=tenant_id, actor=actor, channel=Channel.WEB, payload=payload)
