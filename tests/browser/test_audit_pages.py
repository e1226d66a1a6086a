"""The compliance officer's afternoon, in Chromium (docs/audit.md): filter with the pickers, open a readable entry,
verify the chain and see the result, and download CSV and XLSX that open with the Japanese text intact."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from llm.models import ModelVersion
from tenants.models import Tenant, User
from tenants.services import user_create
from tests.audit.test_entry_page import llm_payload
from tests.audit.test_export import record
from tests.browser.conftest import sign_in
from tests.live import DaphneServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUESTION = "来週の取締役会の議事録を要約してください"
ANSWER = "**要約**: 予算案は承認されました。"


def downloaded(page: Page, testid: str, tmp_path: Path) -> zipfile.ZipFile:
    with page.expect_download() as download:
        page.get_by_test_id(testid).click()
    target = tmp_path / download.value.suggested_filename
    download.value.save_as(target)
    return zipfile.ZipFile(target)


def test_filter_read_verify_and_export_as_the_compliance_officer(
    page: Page,
    server: DaphneServer,
    tenant_a: Tenant,
    tenant_b: Tenant,
    gpt4o: ModelVersion,
    celery_worker: Any,
    tmp_path: Path,
) -> None:
    officer = user_create(tenant=tenant_a, email="officer@alpha.example", role=User.Role.COMPLIANCE_REVIEWER)
    record(tenant_a, event_type="llm.chat", status="ok", model_label="gpt-4o", payload=llm_payload(1, "hello", "hi"))
    failed = record(
        tenant_a,
        event_type="llm.chat",
        status="error",
        model_label="gpt-4o",
        actor_email="alice@alpha.example",
        payload=llm_payload(2, QUESTION, ANSWER, error={"code": "rate_limited", "message": "Too many requests"}),
    )[0]
    record(tenant_b, event_type="llm.chat", status="error", payload=llm_payload(3, "beta secret", "b"))
    sign_in(page, server, officer)
    page.goto(server.url + "/audit/")

    # Pickers: the status list, and the person typed into the searchable list (any case).
    page.locator("#id_status").select_option("error")
    page.locator("#id_user").fill("ALICE")
    page.get_by_role("button", name="Filter").click()
    table = page.get_by_test_id("audit-entries")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("td[data-status='error']")).to_have_text("Error")
    assert "status=error" in page.url
    expect(page.locator("#id_status")).to_have_value("error")  # kept in the URL and the form
    expect(page.locator("body")).not_to_contain_text("beta secret")

    # The entry, readable: the question as typed, the answer rendered, the attempts.
    table.get_by_role("link", name=str(failed.seq), exact=True).click()
    page.wait_for_url(f"**/audit/{failed.pk}/**")
    conversation = page.get_by_test_id("audit-conversation")
    expect(conversation).to_contain_text(QUESTION)
    expect(page.get_by_test_id("audit-answer").locator("strong")).to_have_text("要約")
    expect(page.get_by_test_id("audit-attempts")).to_contain_text("japaneast-gpt4o")
    expect(page.get_by_test_id("audit-error")).to_contain_text("rate_limited")
    expect(page.get_by_test_id("audit-payload")).to_be_hidden()  # the raw JSON one click away
    page.get_by_text("Raw JSON (as hashed)").click()
    expect(page.get_by_test_id("audit-payload")).to_be_visible()

    # Verify the chain: a background job; the page shows the result and who asked.
    page.goto(server.url + "/audit/")
    page.get_by_test_id("verify-chain").click()
    result = page.get_by_test_id("verification-result")
    expect(result).to_be_visible(timeout=30_000)
    expect(result).to_have_attribute("data-ok", "true", timeout=30_000)
    expect(result).to_contain_text("Chain verified: whole")
    expect(result).to_contain_text("by officer@alpha.example")

    # Exports of the filtered list, opened as a spreadsheet user would.
    page.goto(server.url + "/audit/?status=error")
    archive = downloaded(page, "download-csv", tmp_path)
    text = archive.read("audit.csv").decode("utf-8-sig")
    (row,) = list(csv.DictReader(io.StringIO(text, newline="")))
    assert (row["prompt"], row["status"], row["error"]) == (QUESTION, "error", "rate_limited")
    assert json.loads(archive.read("manifest.json"))["filters"] == {"status": "error"}

    from openpyxl import load_workbook

    archive = downloaded(page, "download-xlsx", tmp_path)
    (tmp_path / "audit.xlsx").write_bytes(archive.read("audit.xlsx"))
    rows = list(load_workbook(tmp_path / "audit.xlsx", read_only=True)["audit"].iter_rows(values_only=True))
    header, values = rows[0], rows[1]
    assert len(rows) == 2
    shown = dict(zip(header, values, strict=True))
    assert (shown["prompt"], shown["answer"], shown["actor_email"]) == (QUESTION, ANSWER, "alice@alpha.example")
