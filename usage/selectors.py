"""Reads of usage. Every read takes ``tenant=``/``tenant_id=`` (or is an operator's, across tenants, said so in its
name); the budget counters are loaded from these sums."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Max, Q, QuerySet, Sum

from tenants.models import Tenant
from usage.models import TenantBudget, UsageDaily, UserLimit


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


# --- Reports (the usage pages and their CSV) -----------------------------------------------------------------------
def _rows(*, tenant_id: int | None, since: date, until: date) -> QuerySet[UsageDaily]:
    """Rows of days ``since`` <= day < ``until``: one tenant's, or (``tenant_id=None``) every tenant's, which only
    the operator's views ask for."""
    qs = UsageDaily.objects.filter(day__gte=since, day__lt=until)
    return qs.filter(tenant_id=tenant_id) if tenant_id is not None else qs


TOKENS = F("input_tokens") + F("output_tokens")


def _main_currency(rows: QuerySet[UsageDaily], preferred: str) -> str:
    """The currency the page shows cost in: the budget's, else the one most cost was recorded in."""
    found = list(
        rows.exclude(currency="")
        .values("currency")
        .annotate(n=Sum("cost_micros"))
        .order_by("-n")
        .values_list("currency", flat=True)
    )
    if preferred and (preferred in found or not found):
        return preferred
    return found[0] if found else preferred


def usage_report(*, tenant_id: int | None, since: date, until: date, currency: str = "") -> dict[str, Any]:
    """Everything the company (or operator) usage page shows for days ``since`` <= day < ``until``, as plain JSON:
    daily tokens and cost by model and by channel, active people per day and per week, top people, outcomes, and
    load per deployment."""
    rows = _rows(tenant_id=tenant_id, since=since, until=until)
    days = [since + timedelta(days=i) for i in range((until - since).days)]
    index = {day: i for i, day in enumerate(days)}
    money = _main_currency(rows, currency)

    def series(field: str) -> dict[str, dict[str, list[int]]]:
        tokens: dict[str, list[int]] = {}
        cost: dict[str, list[int]] = {}
        values = rows.values("day", field).annotate(tokens=Sum(TOKENS)).order_by(field)
        for row in values:
            tokens.setdefault(row[field] or "-", [0] * len(days))[index[row["day"]]] += int(row["tokens"] or 0)
        money_rows = rows.filter(currency=money).values("day", field).annotate(cost=Sum("cost_micros")).order_by(field)
        for row in money_rows:
            cost.setdefault(row[field] or "-", [0] * len(days))[index[row["day"]]] += int(row["cost"] or 0)
        return {"tokens": tokens, "cost_micros": cost}

    active_daily = [0] * len(days)
    for row in rows.values("day").annotate(n=Count("speaker", distinct=True)):
        active_daily[index[row["day"]]] = row["n"]
    weeks: list[dict[str, Any]] = []
    week_start = since - timedelta(days=since.weekday())  # Mondays
    while week_start < until:
        week_end = week_start + timedelta(days=7)
        in_week = rows.filter(day__gte=max(week_start, since), day__lt=min(week_end, until))
        weeks.append({"week": week_start.isoformat(), "active": in_week.values("speaker").distinct().count()})
        week_start = week_end
    people = (
        rows.values("speaker")
        .annotate(
            email=Max("speaker_email"),
            tenant=Max("tenant__slug"),
            requests=Sum("requests"),
            tokens=Sum(TOKENS),
            cost=Sum("cost_micros", filter=Q(currency=money)),
        )
        .order_by("-tokens", "speaker")[:20]
    )
    outcomes = {
        row["outcome"]: int(row["n"]) for row in rows.values("outcome").annotate(n=Sum("requests")).order_by("outcome")
    }
    requests = sum(outcomes.values())
    errors = sum(n for outcome, n in outcomes.items() if outcome.startswith("error:") or outcome == "interrupted")
    filtered = outcomes.get("prompt_filtered", 0) + outcomes.get("completion_filtered", 0)
    totals = rows.aggregate(
        tokens=Sum(TOKENS),
        input=Sum("input_tokens"),
        output=Sum("output_tokens"),
        cached=Sum("cached_tokens"),
        estimated=Sum("estimated_requests"),
        ttft=Sum("ttft_ms_sum"),
        ttft_n=Sum("ttft_count"),
        cost=Sum("cost_micros", filter=Q(currency=money)),
        people=Count("speaker", distinct=True),
    )
    deployments = [
        {"deployment": row["deployment"] or "-", "requests": int(row["n"]), "tokens": int(row["tokens"] or 0)}
        for row in rows.values("deployment").annotate(n=Sum("requests"), tokens=Sum(TOKENS)).order_by("-n")
    ]
    return {
        "days": [day.isoformat() for day in days],
        "currency": money,
        "other_currencies": sorted(set(rows.exclude(currency__in=["", money]).values_list("currency", flat=True))),
        "by_model": series("model_label"),
        "by_channel": series("channel"),
        "active_daily": active_daily,
        "active_weekly": weeks,
        "top_people": [
            {
                "person": row["email"] or row["speaker"],
                "company": row["tenant"],
                "requests": int(row["requests"] or 0),
                "tokens": int(row["tokens"] or 0),
                "cost_micros": int(row["cost"] or 0),
            }
            for row in people
        ],
        "outcomes": outcomes,
        "requests": requests,
        "error_rate": errors / requests if requests else 0.0,
        "filter_rate": filtered / requests if requests else 0.0,
        "totals": {
            "tokens": int(totals["tokens"] or 0),
            "input_tokens": int(totals["input"] or 0),
            "output_tokens": int(totals["output"] or 0),
            "cached_tokens": int(totals["cached"] or 0),
            "estimated_requests": int(totals["estimated"] or 0),
            "cost_micros": int(totals["cost"] or 0),
            "people": int(totals["people"] or 0),
            "avg_ttft_ms": round(totals["ttft"] / totals["ttft_n"]) if totals["ttft_n"] else None,
        },
        "deployments": deployments,
    }


def usage_csv_rows(*, tenant_id: int | None, since: date, until: date) -> QuerySet[UsageDaily]:
    """The rollup rows behind a report, for its CSV (one tenant's, or every tenant's for the operator)."""
    return (
        _rows(tenant_id=tenant_id, since=since, until=until)
        .select_related("tenant")
        .order_by("day", "tenant__slug", "speaker", "model_label", "channel", "outcome")
    )


def usage_person(*, tenant_id: int, speaker: str, since_month: date, day: date, until: date) -> dict[str, int]:
    """A person's tokens this month and today, and cost this month by currency (the chat page's meter)."""
    month = UsageDaily.objects.filter(tenant_id=tenant_id, speaker=speaker, day__gte=since_month, day__lt=until)
    return {
        "month_tokens": int(month.aggregate(n=Sum(TOKENS))["n"] or 0),
        "day_tokens": int(month.filter(day=day).aggregate(n=Sum(TOKENS))["n"] or 0),
        "month_requests": int(month.aggregate(n=Sum("requests"))["n"] or 0),
    }


def budget_get(*, tenant_id: int) -> TenantBudget | None:
    return TenantBudget.objects.filter(tenant_id=tenant_id).first()


def user_limit_get(*, tenant_id: int, user_id: int) -> UserLimit | None:
    return UserLimit.objects.filter(tenant_id=tenant_id, user_id=user_id).first()


# Operators pick any company (inactive ones too: their usage stays readable).
def usage_tenant_list() -> QuerySet[Tenant]:
    return Tenant.objects.order_by("name")


def usage_tenant_get_by_slug(*, slug: str) -> Tenant | None:
    return Tenant.objects.filter(slug=slug).first()
