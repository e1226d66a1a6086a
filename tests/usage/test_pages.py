"""The usage pages: a tenant admin sees their own company only, the operator one company or all (plus load per
deployment); members and reviewers get 403; every view and CSV is audited; the person's meter warns at 80 %."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditOutbox
from tenants.models import Tenant, User
from tenants.services import user_create
from tests.conftest import signed_in
from usage.models import UsageDaily, UserLimit
from usage.periods import periods

pytestmark = pytest.mark.django_db

SECRET_B = "beta-model-only"


def this_month() -> date:
    return periods(timezone.now(), "Asia/Tokyo").month


def usage_row(
    tenant: Tenant, user: User | None, *, day: date, model: str = "gpt-4o", channel: str = "web", outcome: str = "ok",
    **counts: int,
) -> UsageDaily:  # fmt: skip
    fields = {"requests": 1, "input_tokens": 100, "output_tokens": 50, "cost_micros": 1_500_000, **counts}
    return UsageDaily.objects.create(
        tenant=tenant,
        day=day,
        speaker=f"user:{user.pk}" if user else "slack:T1:U9",
        user=user,
        speaker_email=user.email if user else "guest@slack.example",
        model_label=model,
        channel=channel,
        outcome=outcome,
        currency="USD",
        **fields,
    )


@pytest.fixture
def usage_both(tenant_a: Tenant, tenant_b: Tenant, user_a: User, user_b: User) -> None:
    first = this_month()
    usage_row(tenant_a, user_a, day=first, requests=3, input_tokens=300, output_tokens=200)
    usage_row(tenant_a, user_a, day=first + timedelta(days=1), channel="slack", input_tokens=10, output_tokens=5)
    usage_row(tenant_a, None, day=first, outcome="error:rate_limited", input_tokens=0, output_tokens=0, cost_micros=0)
    usage_row(tenant_a, user_a, day=first, outcome="prompt_filtered", input_tokens=7, output_tokens=0, cost_micros=0)
    usage_row(tenant_b, user_b, day=first, model=SECRET_B, requests=9, input_tokens=9000, output_tokens=1)


def test_tenant_admin_sees_only_their_company(admin_a: User, admin_b: User, usage_both: None) -> None:
    page = signed_in(admin_a).get("/usage/", {"tenant": "beta"})  # the parameter is ignored for tenant admins
    assert page.status_code == 200
    body = page.content.decode()
    assert SECRET_B not in body
    assert "gpt-4o" in body
    report = page.context["report"]
    assert report["requests"] == 6
    assert report["totals"]["tokens"] == 522
    assert report["by_channel"]["tokens"]["slack"][1] == 15
    assert report["active_daily"][0] == 2  # Alice and the Slack guest
    assert report["error_rate"] == pytest.approx(1 / 6)
    assert report["filter_rate"] == pytest.approx(1 / 6)
    assert "no-store" in page["Cache-Control"]
    # Tenant B's admin sees B only.
    page_b = signed_in(admin_b).get("/usage/")
    assert page_b.context["report"]["requests"] == 9
    assert "alice@alpha.example" not in page_b.content.decode()


@pytest.mark.parametrize("role", [User.Role.MEMBER, User.Role.COMPLIANCE_REVIEWER])
def test_members_and_reviewers_cannot_see_company_usage(tenant_a: Tenant, role: str, usage_both: None) -> None:
    person = user_create(tenant=tenant_a, email=f"{role}@alpha.example", role=role)
    client = signed_in(person)
    assert client.get("/usage/").status_code == 403
    assert client.get("/usage/export.csv").status_code == 403
    assert not AuditOutbox.objects.filter(event_type__startswith="usage.").exists()


def test_operator_sees_all_companies_or_one(operator: User, usage_both: None) -> None:
    client = signed_in(operator)
    everything = client.get("/usage/")
    assert everything.context["report"]["requests"] == 15
    assert "Load per deployment" in everything.content.decode()
    one = client.get("/usage/", {"tenant": "beta"})
    assert one.context["report"]["requests"] == 9
    assert client.get("/usage/", {"tenant": "nope"}).status_code == 404


def test_page_views_and_csv_are_audited_on_the_companys_chain(
    admin_a: User, tenant_a: Tenant, tenant_b: Tenant, usage_both: None
) -> None:
    client = signed_in(admin_a)
    client.get("/usage/")
    response = client.get("/usage/export.csv")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="usage-alpha-')
    raw = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 4
    assert {row["company"] for row in rows} == {"alpha"}
    assert SECRET_B not in raw.decode()
    viewed = AuditOutbox.objects.get(event_type="usage.viewed")
    exported = AuditOutbox.objects.get(event_type="usage.exported")
    assert viewed.tenant_id == exported.tenant_id == tenant_a.pk
    assert exported.payload["row_count"] == 4
    assert exported.actor_email == admin_a.email


def test_a_bad_month_is_a_clear_400(admin_a: User) -> None:
    response = signed_in(admin_a).get("/usage/", {"month": "2026-13"})
    assert response.status_code == 400
    assert "is not a month" in response.content.decode() or "月" in response.content.decode()
    assert signed_in(admin_a).get("/usage/export.csv", {"month": "x"}).status_code == 400


def test_a_past_month_is_reachable(admin_a: User, tenant_a: Tenant, user_a: User) -> None:
    usage_row(tenant_a, user_a, day=date(2026, 3, 15))
    page = signed_in(admin_a).get("/usage/", {"month": "2026-03"})
    assert page.context["report"]["requests"] == 1
    assert len(page.context["report"]["days"]) == 31


def test_the_meter_shows_the_persons_own_month_and_warns_at_80_percent(
    client_a: Client, user_a: User, tenant_a: Tenant, tenant_b: Tenant, user_b: User
) -> None:
    day = periods(timezone.now(), "Asia/Tokyo").day
    usage_row(tenant_a, user_a, day=day, input_tokens=700, output_tokens=100)
    usage_row(tenant_b, user_b, day=day, input_tokens=5_000, output_tokens=0)  # B's usage is not A's
    meter = client_a.get("/api/usage/me/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert meter["month_tokens"] == 800
    assert meter["limited"] is False
    assert meter["warn"] is False
    UserLimit.objects.create(tenant=tenant_a, user=user_a, monthly_tokens=1_000)
    meter = client_a.get("/api/usage/me/").json()
    assert meter["percent"] == 80
    assert meter["monthly_left"] == 200
    assert meter["warn"] is True
    page = client_a.get("/").content.decode()
    assert 'data-warn="true"' in page
