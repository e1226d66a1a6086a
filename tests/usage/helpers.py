"""Whole turns against the real test upstream, without a socket: start, run the engine to its end, saved."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from asgiref.sync import async_to_sync

from chat.engine import run_reply_detached
from chat.outcome import ReplyOutcome
from chat.services import TurnStart, chat_turn_start
from llm.models import ModelVersion
from tenants.models import Tenant, User
from usage.models import ModelPrice, TenantBudget


class NullSink:
    async def started(self, start: TurnStart) -> None:
        return None

    def delta(self, start: TurnStart, offset: int, end: int, text: str) -> None:
        return None

    async def done(self, start: TurnStart, outcome: ReplyOutcome, message_html: str) -> None:
        return None


def turn(tenant: Tenant, user: User, text: str = "hello", **kwargs: Any) -> tuple[TurnStart, ReplyOutcome]:
    start = chat_turn_start(tenant=tenant, user=user, conversation_id=None, text=text, **kwargs)
    return start, async_to_sync(run_reply_detached)(start, NullSink())


def price(version: ModelVersion, day: str, *, inp: str, out: str, cached: str | None = None, cur: str = "USD") -> None:
    ModelPrice.objects.create(
        model_version=version,
        effective_from=day,
        currency=cur,
        input_per_million=Decimal(inp),
        output_per_million=Decimal(out),
        cached_input_per_million=Decimal(cached) if cached else None,
    )


def budget(tenant: Tenant, **fields: Any) -> TenantBudget:
    row, _ = TenantBudget.objects.update_or_create(tenant=tenant, defaults=fields)
    return row
