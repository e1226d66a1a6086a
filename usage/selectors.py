"""Reads of usage. Every read takes ``tenant=``/``tenant_id=`` (or is an operator's, across tenants, said so in its
name); the budget counters are loaded from these sums."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db.models import F, Sum

from usage.models import TenantBudget, UsageDaily


def usage_tokens_total(*, tenant_id: int, since: date, until: date, speaker: str | None = None) -> int:
    """Input plus output tokens of days ``since`` <= day < ``until`` (a person's, with ``speaker``)."""
    qs = UsageDaily.objects.filter(tenant_id=tenant_id, day__gte=since, day__lt=until)
    if speaker is not None:
        qs = qs.filter(speaker=speaker)
    return int(qs.aggregate(n=Sum(F("input_tokens") + F("output_tokens")))["n"] or 0)


def usage_cost_micros_total(*, tenant_id: int, since: date, until: date, currency: str) -> int:
    qs = UsageDaily.objects.filter(tenant_id=tenant_id, day__gte=since, day__lt=until, currency=currency)
    return int(qs.aggregate(n=Sum("cost_micros"))["n"] or 0)


def tenant_time_zones() -> dict[int, str]:
    """Each company's time zone where it has a budget row (others use settings.TIME_ZONE)."""
    return dict(TenantBudget.objects.values_list("tenant_id", "time_zone"))


def tenant_time_zone(*, tenant_id: int) -> str:
    found = TenantBudget.objects.filter(tenant_id=tenant_id).values_list("time_zone", flat=True).first()
    return found or settings.TIME_ZONE
