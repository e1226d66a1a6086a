"""Usage pages: a company's usage for its administrators (and the operator, for one company or all), its CSV, and a
person's own meter.

Who sees what: a tenant admin sees their own company, whatever the URL says; a platform operator chooses a company
with ``?tenant=<slug>``, or every company with ``?tenant=all``; everyone else gets 403 before anything is read.
Every view of the page and every CSV is recorded in the audit trail.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBase, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from audit.export import neutralise
from tenants.models import Tenant
from tenants.types import AuthedRequest
from usage.meter import usage_meter
from usage.periods import periods
from usage.selectors import budget_get, usage_csv_rows, usage_report, usage_tenant_get_by_slug, usage_tenant_list
from usage.services import usage_access_record

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
CSV_COLUMNS = (
    "day", "company", "person", "channel", "model", "deployment", "outcome", "requests", "input_tokens",
    "cached_tokens", "output_tokens", "reasoning_tokens", "estimated_requests", "avg_ttft_ms", "cost", "currency",
)  # fmt: skip


def _scope(request: AuthedRequest) -> Tenant | None:
    """The company whose usage this request may read, or None for "every company" (operators only)."""
    user = request.user
    if user.is_active and user.is_superuser:
        slug = request.GET.get("tenant", "all")
        if slug == "all":
            return None
        tenant = usage_tenant_get_by_slug(slug=slug)
        if tenant is None:
            raise Http404
        return tenant
    if user.is_active and user.is_tenant_admin:
        return request.tenant
    raise PermissionDenied


def _month(request: AuthedRequest, tz: str) -> tuple[date, date] | None:
    """``?month=YYYY-MM`` (default: this month in the company's time zone) as [first day, first of next)."""
    value = request.GET.get("month", "")
    if not value:
        first = periods(timezone.now(), tz).month
    else:
        match = MONTH.match(value)
        if match is None or not 1 <= int(match[2]) <= 12 or not 2000 <= int(match[1]) <= 2100:
            return None
        first = date(int(match[1]), int(match[2]), 1)
    return first, (first + timedelta(days=32)).replace(day=1)


def _context(request: AuthedRequest) -> tuple[Tenant | None, str, date, date] | HttpResponse:
    tenant = _scope(request)
    budget = budget_get(tenant_id=tenant.pk) if tenant is not None else None
    tz = budget.time_zone if budget else settings.TIME_ZONE
    span = _month(request, tz)
    if span is None:
        page = render(request, "usage/bad_month.html", {"value": request.GET.get("month", "")[:20]}, status=400)
        return page
    return tenant, (budget.currency if budget else ""), span[0], span[1]


def _filters(tenant: Tenant | None, since: date) -> dict[str, str]:
    return {"tenant": tenant.slug if tenant is not None else "all", "month": since.strftime("%Y-%m")}


@require_GET
def company_usage(request: AuthedRequest) -> HttpResponse:
    scope = _context(request)
    if isinstance(scope, HttpResponse):
        return scope
    tenant, currency, since, until = scope
    report = usage_report(tenant_id=tenant.pk if tenant else None, since=since, until=until, currency=currency)
    usage_access_record(
        actor=request.user, tenant_id=tenant.pk if tenant else None, kind="viewed", filters=_filters(tenant, since)
    )
    operator = request.user.is_superuser
    previous = (since - timedelta(days=1)).replace(day=1)
    query = {"tenant": tenant.slug if tenant else "all"} if operator else {}
    context: dict[str, Any] = {
        "tenant": tenant,
        "report": report,
        "since": since,
        "last_day": until - timedelta(days=1),
        "month": since.strftime("%Y-%m"),
        "previous_url": "?" + urlencode({**query, "month": previous.strftime("%Y-%m")}),
        "next_url": "?" + urlencode({**query, "month": until.strftime("%Y-%m")}),
        "csv_url": "export.csv?" + urlencode({**query, "month": since.strftime("%Y-%m")}),
        "is_operator": operator,
        "tenants": usage_tenant_list() if operator else [],
        "cost": report["totals"]["cost_micros"] / 1_000_000,
        "chart_labels": {
            "tokens": _("Tokens"),
            "cost": _("Estimated cost"),
            "web": _("Web"),
            "slack": _("Slack"),
            "active_daily": _("Active people per day"),
            "active_weekly": _("Active people per week"),
        },
    }
    return render(request, "usage/company.html", context)


def _csv_lines(rows: Any) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    buffer.write("\ufeff")  # BOM: Excel reads UTF-8 (Japanese names) correctly
    writer.writerow(CSV_COLUMNS)
    yield flush()
    for row in rows.iterator(chunk_size=2000):
        avg = round(row.ttft_ms_sum / row.ttft_count) if row.ttft_count else ""
        cells = [
            row.day.isoformat(), row.tenant.slug, row.speaker_email or row.speaker, row.channel, row.model_label,
            row.deployment, row.outcome, row.requests, row.input_tokens, row.cached_tokens, row.output_tokens,
            row.reasoning_tokens, row.estimated_requests, avg, f"{row.cost_micros / 1_000_000:.6f}", row.currency,
        ]  # fmt: skip
        writer.writerow([neutralise(str(cell)) for cell in cells])
        yield flush()


@require_GET
def usage_export(request: AuthedRequest) -> HttpResponseBase:
    """The month's rollup rows as CSV (UTF-8 with BOM, formula cells neutralised), recorded as ``usage.exported``."""
    scope = _context(request)
    if isinstance(scope, HttpResponse):
        return scope
    tenant, _currency, since, until = scope
    rows = usage_csv_rows(tenant_id=tenant.pk if tenant else None, since=since, until=until)
    usage_access_record(
        actor=request.user,
        tenant_id=tenant.pk if tenant else None,
        kind="exported",
        filters=_filters(tenant, since),
        rows=rows.count(),
    )
    response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
    name = f"usage-{tenant.slug if tenant else 'all'}-{since:%Y-%m}.csv"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=name)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def my_usage(request: AuthedRequest) -> JsonResponse:
    """The signed-in person's own usage and limits (the chat page's meter)."""
    return JsonResponse(usage_meter(user=request.user))
