"""A person's own usage this month against their budget: the meter on the chat page and ``/api/usage/me/``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import formats, timezone
from django.utils.translation import gettext

from tenants.models import User
from usage.periods import periods, zone
from usage.selectors import budget_get, usage_person, user_limit_get

WARN_AT = 0.8


def _when(moment: Any, tz: str) -> str:
    return str(formats.date_format(timezone.localtime(moment, zone(tz)), "DATETIME_FORMAT"))


def usage_meter(*, user: User) -> dict[str, Any]:
    """Tokens used this month and today, the limits that apply (the person's own, else the company's defaults),
    how much is left, and whether to warn (80 % of a limit)."""
    budget = budget_get(tenant_id=user.tenant_id)
    own = user_limit_get(tenant_id=user.tenant_id, user_id=user.pk)
    tz = budget.time_zone if budget else settings.TIME_ZONE
    p = periods(timezone.now(), tz)
    used = usage_person(
        tenant_id=user.tenant_id, speaker=f"user:{user.pk}", since_month=p.month, day=p.day, until=p.month_ends.date()
    )

    def limit(own_value: int | None, default: int | None) -> int | None:
        return own_value if own_value is not None else default

    monthly = limit(own.monthly_tokens if own else None, budget.user_monthly_tokens if budget else None)
    daily = limit(own.daily_tokens if own else None, budget.user_daily_tokens if budget else None)
    shares = [used["month_tokens"] / monthly if monthly else 0.0, used["day_tokens"] / daily if daily else 0.0]
    share = max(shares)
    meter = {
        "month_tokens": used["month_tokens"],
        "day_tokens": used["day_tokens"],
        "month_requests": used["month_requests"],
        "monthly_limit": monthly,
        "daily_limit": daily,
        "monthly_left": max(monthly - used["month_tokens"], 0) if monthly else None,
        "daily_left": max(daily - used["day_tokens"], 0) if daily else None,
        "percent": min(round(share * 100), 100),
        "warn": share >= WARN_AT,
        "limited": monthly is not None or daily is not None,
        "month_resets": _when(p.month_ends, tz),
        "day_resets": _when(p.day_ends, tz),
        "time_zone": tz,
    }
    meter["label"] = meter_label(meter)
    return meter


def meter_label(meter: dict[str, Any]) -> str:
    """The meter's sentence, in the person's language."""
    if not meter["limited"]:
        return gettext("%(tokens)s tokens used this month") % {
            "tokens": formats.number_format(meter["month_tokens"], force_grouping=True)
        }
    if meter["monthly_limit"]:
        return gettext("%(percent)s%% of your monthly allowance used · %(left)s tokens left until %(when)s") % {
            "percent": meter["percent"],
            "left": formats.number_format(meter["monthly_left"], force_grouping=True),
            "when": meter["month_resets"],
        }
    return gettext("%(percent)s%% of today's allowance used · %(left)s tokens left until %(when)s") % {
        "percent": meter["percent"],
        "left": formats.number_format(meter["daily_left"], force_grouping=True),
        "when": meter["day_resets"],
    }
