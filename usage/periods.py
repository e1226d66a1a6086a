"""Days and months in a company's time zone: usage is rolled up per local day, and budgets reset at local midnight
and on the first of the month (pure functions)."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache


@cache
def zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


@dataclass(frozen=True)
class Periods:
    """The day and month ``now`` falls in, in ``tz``, and when each ends."""

    day: date
    month: date  # the first of the month
    day_ends: datetime
    month_ends: datetime

    @property
    def day_key(self) -> str:
        return self.day.isoformat()

    @property
    def month_key(self) -> str:
        return self.month.strftime("%Y-%m")


def periods(now: datetime, tz: str) -> Periods:
    local = now.astimezone(zone(tz))
    day = local.date()
    month = day.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    return Periods(
        day=day,
        month=month,
        day_ends=datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone(tz)),
        month_ends=datetime.combine(next_month, time.min, tzinfo=zone(tz)),
    )


def local_day(moment: datetime, tz: str) -> date:
    return moment.astimezone(zone(tz)).date()
