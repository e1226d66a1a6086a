"""A person opens Office AI in Chromium, uses the dev sign-in, sees their company and switches to Japanese."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tenants.models import User

pytestmark = pytest.mark.browser


def test_dev_sign_in_and_language_switch(page: Page, live_server: Any, user_a: User, user_b: User) -> None:
    page.goto(live_server.url + "/")
    expect(page).to_have_url(live_server.url + "/accounts/login/?next=/")
    expect(page.get_by_test_id("google-signin")).to_be_visible()
    page.get_by_test_id("dev-signin-link").click()
    page.get_by_role("button", name=user_a.email).click()
    expect(page.get_by_test_id("tenant-name")).to_have_text("Alpha Corp")
    expect(page.locator("body")).not_to_contain_text("Beta Inc")
    page.select_option("#lang-select", "ja")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.get_by_role("button", name="サインアウト")).to_be_visible()
    page.get_by_role("button", name="サインアウト").click()
    expect(page).to_have_url(live_server.url + "/accounts/login/")
    page.goto(live_server.url + "/")
    expect(page).to_have_url(live_server.url + "/accounts/login/?next=/")
