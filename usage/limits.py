"""Budgets and per-minute limits, enforced before the upstream call for web and Slack alike.

The turn start reads a company's ``TenantBudget`` and the person's ``UserLimit`` in the same query that checks the
account (``chat.services.account_check``) and hands them here as ``Limits``. ``budget_reserve`` then decides with one
Redis round trip (``usage.counters``); without any limit configured it does nothing at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils import formats, timezone
from django.utils.translation import gettext

from usage.counters import Scope, counters
from usage.periods import Periods, periods, zone
from usage.prices import Price

MICRO = Decimal(1_000_000)


@dataclass(frozen=True)
class Limits:
    time_zone: str = ""
    company_monthly_tokens: int | None = None
    company_monthly_cost: Decimal | None = None
    currency: str = ""
    user_daily_tokens: int | None = None
    user_monthly_tokens: int | None = None
    user_requests_per_minute: int | None = None
    contact: str = ""

    @property
    def tz(self) -> str:
        return self.time_zone or settings.TIME_ZONE

    @property
    def enforced(self) -> bool:
        return any(
            value is not None
            for value in (
                self.company_monthly_tokens,
                self.company_monthly_cost,
                self.user_daily_tokens,
                self.user_monthly_tokens,
                self.user_requests_per_minute,
            )
        )


class LimitReached(Exception):  # noqa: N818 - a refusal, like chat.services.ChatRefused, which the engine makes of it
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Ticket:
    """What a running answer holds: its reservation in each scope, released with the real amount when it is saved."""

    reply: str
    token_keys: tuple[str, ...]
    cost_keys: tuple[str, ...]


def company_tokens_key(tenant_id: int, p: Periods) -> str:
    return f"t:{tenant_id}:{p.month_key}:tok"


def company_cost_key(tenant_id: int, p: Periods, currency: str) -> str:
    return f"t:{tenant_id}:{p.month_key}:cost:{currency}"


def person_day_key(tenant_id: int, speaker: str, p: Periods) -> str:
    return f"s:{tenant_id}:{speaker}:{p.day_key}:tok"


def person_month_key(tenant_id: int, speaker: str, p: Periods) -> str:
    return f"s:{tenant_id}:{speaker}:{p.month_key}:tok"


def micro(amount: Decimal) -> int:
    return int((amount * MICRO).to_integral_value())


def _when(moment: datetime, tz: str) -> str:
    local = timezone.localtime(moment, zone(tz))
    return f"{formats.date_format(local, 'DATETIME_FORMAT')} ({tz})"


def budget_reserve(
    *,
    tenant_id: int,
    speaker: str,
    limits: Limits,
    reply_id: int,
    prompt_tokens: int,
    max_output_tokens: int,
    price: Price | None,
    now: datetime | None = None,
) -> Ticket | None:
    """Admit the turn and reserve its prompt and maximum output, or raise ``LimitReached`` saying what ran out,
    when it resets and whom to ask."""
    if not limits.enforced:
        return None
    now = now or timezone.now()
    p = periods(now, limits.tz)
    tokens_max = prompt_tokens + max_output_tokens
    scopes: list[tuple[Scope, str]] = []  # (scope, what it is) for the refusal message
    if limits.company_monthly_tokens is not None:
        key = company_tokens_key(tenant_id, p)
        scopes.append((Scope(key, limits.company_monthly_tokens, prompt_tokens, tokens_max), "company"))
    if limits.company_monthly_cost is not None:
        need = held = 0
        if price is not None and price.currency == limits.currency:  # other currencies are not in this budget
            need = micro(price.cost(input_tokens=prompt_tokens, cached_tokens=0, output_tokens=0))
            held = micro(price.cost(input_tokens=prompt_tokens, cached_tokens=0, output_tokens=max_output_tokens))
        key = company_cost_key(tenant_id, p, limits.currency)
        scopes.append((Scope(key, micro(limits.company_monthly_cost), need, held), "company"))
    if speaker and limits.user_daily_tokens is not None:
        key = person_day_key(tenant_id, speaker, p)
        scopes.append((Scope(key, limits.user_daily_tokens, prompt_tokens, tokens_max), "day"))
    if speaker and limits.user_monthly_tokens is not None:
        key = person_month_key(tenant_id, speaker, p)
        scopes.append((Scope(key, limits.user_monthly_tokens, prompt_tokens, tokens_max), "month"))
    rpm = limits.user_requests_per_minute
    rpm_key = f"rpm:{tenant_id}:{speaker}:{int(now.timestamp() // 60)}" if speaker and rpm is not None else ""
    backend = counters()
    only = [scope for scope, _ in scopes]
    for _ in range(len(only) + 1):
        verdict = backend.check(only, reply=str(reply_id), rpm_key=rpm_key, rpm=rpm or 0)
        if not verdict.missing:
            break
        backend.load(verdict.missing, _used_from_database(verdict.missing, tenant_id=tenant_id, p=p))
    if verdict.rate_limited:
        raise LimitReached(
            "too_many_requests",
            gettext("You are sending messages faster than your company allows (%(n)s a minute). Wait a minute.")
            % {"n": rpm},
        )
    if verdict.exhausted:
        kind = {scope.key: what for scope, what in scopes}[verdict.exhausted]
        raise LimitReached("budget_exhausted", _wall_message(kind, limits=limits, p=p, tenant_id=tenant_id))
    return Ticket(
        reply=str(reply_id),
        token_keys=tuple(s.key for s in only if s.key.endswith(":tok")),
        cost_keys=tuple(s.key for s in only if ":cost:" in s.key),
    )


def _used_from_database(key: str, *, tenant_id: int, p: Periods) -> int:
    from usage.selectors import usage_cost_micros_total, usage_tokens_total

    if key.startswith("t:") and ":cost:" in key:
        currency = key.rsplit(":", 1)[1]
        return usage_cost_micros_total(tenant_id=tenant_id, since=p.month, until=p.month_ends.date(), currency=currency)
    if key.startswith("t:"):
        return usage_tokens_total(tenant_id=tenant_id, since=p.month, until=p.month_ends.date())
    speaker = key.split(":", 2)[2].rsplit(":", 2)[0]
    since = p.day if key.endswith(f"{p.day_key}:tok") else p.month
    until = p.day_ends.date() if since == p.day else p.month_ends.date()
    return usage_tokens_total(tenant_id=tenant_id, since=since, until=until, speaker=speaker)


def _wall_message(kind: str, *, limits: Limits, p: Periods, tenant_id: int) -> str:
    contact = limits.contact or _administrators(tenant_id) or gettext("your company's Office AI administrator")
    if kind == "company":
        text = gettext(
            "Your company's Office AI budget for this month is used up. It starts again on %(when)s. "
            "To raise it, ask %(contact)s."
        )
        return text % {"when": _when(p.month_ends, limits.tz), "contact": contact}
    if kind == "day":
        text = gettext(
            "You have used today's allowance of %(limit)s tokens. It starts again on %(when)s. "
            "For more, ask %(contact)s."
        )
        limit = formats.number_format(limits.user_daily_tokens or 0, force_grouping=True)
        return text % {"limit": limit, "when": _when(p.day_ends, limits.tz), "contact": contact}
    text = gettext(
        "You have used this month's allowance of %(limit)s tokens. It starts again on %(when)s. "
        "For more, ask %(contact)s."
    )
    limit = formats.number_format(limits.user_monthly_tokens or 0, force_grouping=True)
    return text % {"limit": limit, "when": _when(p.month_ends, limits.tz), "contact": contact}


def _administrators(tenant_id: int) -> str:
    from tenants.selectors import tenant_admin_emails

    return ", ".join(tenant_admin_emails(tenant_id=tenant_id)[:3])


def budget_settle(ticket: Ticket | None, *, tokens: int, micros: int, currency: str) -> None:
    """The answer is saved: its reservation goes, the real amount counts (after commit). A cost in another
    currency than the budget's is not counted (as the rollup's sums do not count it)."""
    if ticket is None:
        return
    amounts = dict.fromkeys(ticket.token_keys, tokens)
    amounts.update({key: micros if key.endswith(f":{currency}") else 0 for key in ticket.cost_keys})
    if amounts:
        counters().settle(amounts, reply=ticket.reply)


def reservations_release(*, running: Sequence[str]) -> int:
    """Drop reservations of answers no longer running (their process died, or their transaction rolled back)."""
    keep = set(running)
    backend = counters()
    released = 0
    for res_key, held in backend.reservations().items():
        gone = [reply for reply in held if reply not in keep]
        backend.release(res_key, gone)
        released += len(gone)
    return released
