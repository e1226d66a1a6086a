"""Release day as the IT person does it, in Chromium (docs/models.md, "Release-day runbook"): a new version from
the current one, the o-series preset, the test request on save, then a roll-out to all companies as their default
in one submit, with the old version retired."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from llm.models import ModelVersion, ModelVersionAccess
from tenants.models import Tenant, User
from tests.browser.conftest import sign_in
from tests.live import DaphneServer
from tests.model_fixtures import make_deployment
from tests.upstream import server as up

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_new_version_from_the_current_one_rolled_out_to_every_company_in_one_submit(
    page: Page,
    server: DaphneServer,
    operator: User,
    gpt4o: ModelVersion,
    o3mini: ModelVersion,
    upstream: up.UpstreamServer,
    tenant_a: Tenant,
    tenant_b: Tenant,
) -> None:
    # The new model's Azure deployment exists (added and tested on the deployment page first).
    upstream.add_deployment("o4-mini", reasoning=True)
    target = make_deployment(upstream, "japaneast-o4mini", "o4-mini", api_version="2024-12-01-preview")
    sign_in(page, server, operator)
    page.goto(f"{server.url}/admin/llm/modelversion/{gpt4o.pk}/change/")
    page.get_by_test_id("copy-version").click()
    expect(page.get_by_role("heading", name=f"New version from {gpt4o.label}")).to_be_visible()
    expect(page.locator("#id_token_param")).to_have_value("max_tokens")  # gpt-4o's flags to start with

    page.get_by_test_id("preset-o-series").click()
    expect(page.get_by_test_id("preset-applied")).to_have_text("o-series (o3, o4-mini)")
    expect(page.locator("#id_token_param")).to_have_value("max_completion_tokens")
    expect(page.locator("#id_system_role")).to_have_value("developer")
    expect(page.locator("#id_temperature_allowed")).not_to_be_checked()
    diff = page.get_by_test_id("copy-diff")
    expect(diff.locator("tr[data-field='token_param'] td").nth(2)).to_have_text("max_completion_tokens")

    page.locator("#id_display_name").fill("o4-mini")
    page.locator("#id_family").fill("o4-mini")
    page.locator("#id_version").fill("2025-04-16")
    page.locator("#id_max_output_tokens").fill("65536")  # an edit on top of the preset
    for deployment in gpt4o.deployments.all():
        page.get_by_label(deployment.label, exact=True).uncheck()
    page.get_by_label(target.label, exact=True).check()
    page.get_by_test_id("copy-save").click()

    expect(page.locator(".messagelist")).to_contain_text("the test request passed on japaneast-o4mini")
    expect(page.get_by_role("heading", name="Roll out o4-mini 2025-04-16")).to_be_visible()
    sent = upstream.requests_to("o4-mini")[-1].json
    assert "max_completion_tokens" in sent
    assert "temperature" not in sent
    new = ModelVersion.objects.get(family="o4-mini")
    assert new.max_output_tokens == 65536

    # Retire gpt-4o (preselected: the version it was made from) and make the new one everyone's default.
    expect(page.locator("#id_retire")).to_have_value(str(gpt4o.pk))
    page.get_by_label("All companies").check()
    page.get_by_label("Make it the default for these companies").check()
    page.get_by_test_id("rollout-save").click()

    expect(page.locator(".messagelist")).to_contain_text("o4-mini 2025-04-16 rolled out.")
    expect(page.locator(".messagelist")).to_contain_text(f"{gpt4o.label} retired")
    defaults = dict(ModelVersionAccess.objects.filter(is_default=True).values_list("tenant_id", "model_version_id"))
    assert defaults == {tenant_a.pk: new.pk, tenant_b.pk: new.pk}
    gpt4o.refresh_from_db()
    assert gpt4o.status == ModelVersion.Status.RETIRED

    # The chat page offers the new version as the default at once, with no restart.
    page.goto(server.url + "/")
    expect(page.get_by_test_id("model-picker")).to_contain_text("o4-mini")
