"""Prices by date, and what tokens cost. Looked up on every finished answer (and at turn start when a company has a
cost budget), so each (version, day) is cached in the process for a minute."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

MILLION = Decimal(1_000_000)
CACHE_SECONDS = 60.0
_cache: dict[tuple[int, date], tuple[float, Price | None]] = {}


@dataclass(frozen=True)
class Price:
    currency: str
    input_per_million: Decimal
    cached_input_per_million: Decimal
    output_per_million: Decimal

    def cost(self, *, input_tokens: int, cached_tokens: int, output_tokens: int) -> Decimal:
        """Prompt tokens served from the cache at the cached price, the rest at the input price; reasoning tokens
        are part of the output tokens."""
        cached = min(max(cached_tokens, 0), input_tokens)
        total = (
            (input_tokens - cached) * self.input_per_million
            + cached * self.cached_input_per_million
            + output_tokens * self.output_per_million
        )
        return (total / MILLION).quantize(Decimal("0.000001"))


def price_on(*, model_version_id: int | None, day: date) -> Price | None:
    """The price in force for the version on ``day`` (the newest row from that day or before), or None."""
    if model_version_id is None:
        return None
    key = (model_version_id, day)
    hit = _cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    from usage.models import ModelPrice

    row = (
        ModelPrice.objects.filter(model_version_id=model_version_id, effective_from__lte=day)
        .order_by("-effective_from")
        .values("currency", "input_per_million", "cached_input_per_million", "output_per_million")
        .first()
    )
    price = None
    if row is not None:
        cached = row["cached_input_per_million"]
        price = Price(
            currency=row["currency"],
            input_per_million=row["input_per_million"],
            cached_input_per_million=row["input_per_million"] if cached is None else cached,
            output_per_million=row["output_per_million"],
        )
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[key] = (now, price)
    return price


def prices_changed() -> None:
    """Forget cached prices (a price was saved in this process; others pick it up within a minute)."""
    _cache.clear()
