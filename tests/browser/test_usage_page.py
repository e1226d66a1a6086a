"""The usage page's charts draw in real Chromium from the report's numbers, under the strict CSP; the chat page's
meter turns to a warning once an answer takes the person past 80 % of their allowance."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from llm.models import ModelVersion
from tenants.models import Tenant, User
from tests.browser.conftest import sign_in
from tests.browser.test_chat import SLOW, answers
from tests.browser.test_csp import violations, watched
from tests.live import DaphneServer
from tests.upstream import server as up
from usage.models import UsageDaily, UserLimit
from usage.periods import periods

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_charts_draw_the_reports_numbers(
    page: Page, server: DaphneServer, admin_a: User, user_a: User, tenant_a: Tenant, tenant_b: Tenant, user_b: User,
    gpt4o: ModelVersion,
) -> None:  # fmt: skip
    first = periods(timezone.now(), "Asia/Tokyo").month
    common = {"requests": 1, "currency": "USD", "outcome": "ok", "speaker_email": user_a.email, "user": user_a}
    UsageDaily.objects.create(
        tenant=tenant_a, day=first, speaker=f"user:{user_a.pk}", model_label="gpt-4o", channel="web",
        input_tokens=1200, output_tokens=300, cost_micros=2_500_000, **common,
    )  # fmt: skip
    UsageDaily.objects.create(
        tenant=tenant_a, day=first + timedelta(days=1), speaker=f"user:{user_a.pk}", model_label="o3-mini",
        channel="slack", input_tokens=40, output_tokens=60, cost_micros=0, **common,
    )  # fmt: skip
    UsageDaily.objects.create(
        tenant=tenant_b, day=first, speaker=f"user:{user_b.pk}", model_label="beta-only", channel="web",
        input_tokens=99_999, output_tokens=1, requests=5, currency="USD", outcome="ok",
    )  # fmt: skip
    page = watched(page)
    sign_in(page, server, admin_a)
    page.goto(server.url + "/usage/")
    for chart in ("chart-model-tokens", "chart-model-cost", "chart-channel-tokens", "chart-active"):
        expect(page.get_by_test_id(chart)).to_have_attribute("data-chart-ready", "1")
    data = page.evaluate(
        """() => {
          const read = (id) => {
            const chart = window.Chart.getChart(document.getElementById(id));
            return {labels: chart.data.labels, sets: chart.data.datasets.map((d) => [d.label, d.data])};
          };
          return {model: read("chart-model-tokens"), channel: read("chart-channel-tokens"),
                  cost: read("chart-model-cost"), active: read("chart-active")};
        }"""
    )
    models = dict(data["model"]["sets"])
    assert set(models) == {"gpt-4o", "o3-mini"}  # tenant B's model is not in A's page
    assert models["gpt-4o"][0] == 1500
    assert models["o3-mini"][1] == 100
    channels = dict(data["channel"]["sets"])
    assert channels["Web"][0] == 1500
    assert channels["Slack"][1] == 100
    assert dict(data["cost"]["sets"])["gpt-4o"][0] == 2.5
    assert data["active"]["sets"][0][1][0] == 1
    assert len(data["model"]["labels"]) >= 28  # a label per day of the month
    expect(page.get_by_test_id("total-tokens")).to_have_text("1,600")
    expect(page.get_by_test_id("top-people")).to_contain_text(user_a.email)
    assert violations(page) == []


def test_the_meter_warns_at_80_percent_after_an_answer(
    page: Page, server: DaphneServer, user_a: User, tenant_a: Tenant, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    day = periods(timezone.now(), "Asia/Tokyo").day
    UsageDaily.objects.create(
        tenant=tenant_a, day=day, speaker=f"user:{user_a.pk}", user=user_a, model_label="gpt-4o", channel="web",
        outcome="ok", requests=1, input_tokens=700, output_tokens=90,
    )  # fmt: skip
    UserLimit.objects.create(tenant=tenant_a, user=user_a, monthly_tokens=1_000)  # 79 % used
    upstream.script("gpt-4o", up.normal("one two three four five six seven eight nine ten eleven twelve", rate=200))
    sign_in(page, server, user_a)
    meter = page.get_by_test_id("usage-meter")
    expect(meter).to_have_attribute("data-warn", "false")
    expect(page.get_by_test_id("usage-meter-label")).to_contain_text("79% of your monthly allowance used")
    page.get_by_test_id("composer").fill("Count to twelve")
    page.keyboard.press("Enter")
    expect(answers(page).last).to_have_attribute("data-status", "ok", timeout=SLOW)
    expect(meter).to_have_attribute("data-warn", "true")  # refreshed after the answer, without a reload
    expect(page.get_by_test_id("usage-meter-warning")).to_be_visible()
