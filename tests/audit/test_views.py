"""Audit pages: who gets in, what each one sees (never another tenant's trail), filters, pages, exports, jobs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from audit.models import AuditEntry, AuditExport, AuditOutbox
from audit.selectors import audit_entry_get, audit_entry_list, audit_export_get
from tenants.models import Tenant, User
from tenants.services import user_create
from tests.audit.test_export import bulk_entries, open_zip, record, streamed
from tests.conftest import signed_in

TOKYO = ZoneInfo("Asia/Tokyo")
SECRET_B = "beta-only-secret-42"


@pytest.fixture(autouse=True)
def export_dir(settings: Any, tmp_path: Path) -> Path:
    settings.AUDIT_EXPORT_DIR = tmp_path / "exports"
    return Path(settings.AUDIT_EXPORT_DIR)


@pytest.fixture
def reviewer_a(tenant_a: Tenant) -> User:
    return user_create(tenant=tenant_a, email="reviewer@alpha.example", role=User.Role.COMPLIANCE_REVIEWER)


@pytest.fixture
def reviewer_b(tenant_b: Tenant) -> User:
    return user_create(tenant=tenant_b, email="reviewer@beta.example", role=User.Role.COMPLIANCE_REVIEWER)


@pytest.fixture
def trail(tenant_a: Tenant, tenant_b: Tenant) -> dict[str, AuditEntry]:
    """One entry each in A and B, plus a global one; B's carries a marker that must never reach A."""
    a = record(tenant_a, event_type="llm.chat", model_label="gpt-alpha", payload={"text": "alpha entry"})[0]
    b = record(tenant_b, event_type="llm.chat", model_label="gpt-beta", payload={"text": SECRET_B})[0]
    g = record(None, event_type="admin.deployment.updated", payload={"text": "global entry"})[0]
    return {"a": a, "b": b, "global": g}


@pytest.fixture
def celery_eager() -> Iterator[None]:
    """Run tasks in-process even when REDIS_URL makes Celery publish for real (CI): nothing left in the queue."""
    from config.celery_app import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


@pytest.fixture
def export_b(reviewer_b: User, tenant_b: Tenant) -> AuditExport:
    return AuditExport.objects.create(
        tenant=tenant_b, requested_by=reviewer_b, format="csv", status=AuditExport.Status.DONE, file_path="x.zip"
    )


# --- Access ---------------------------------------------------------------------------------------------------
def _audit_urls(entry: AuditEntry, export: AuditExport) -> list[tuple[str, str]]:
    return [
        ("get", "/audit/"),
        ("get", f"/audit/{entry.pk}/"),
        ("get", "/audit/export.zip?format=csv"),
        ("get", "/audit/exports/"),
        ("post", "/audit/exports/"),
        ("get", f"/audit/exports/{export.pk}/status"),
        ("get", f"/audit/exports/{export.pk}/download"),
    ]


@pytest.mark.parametrize("who", ["member", "tenant_admin"])
def test_members_and_tenant_admins_get_403_everywhere(
    who: str, user_a: User, admin_a: User, trail: dict[str, AuditEntry], reviewer_a: User, tenant_a: Tenant
) -> None:
    own_export = AuditExport.objects.create(tenant=tenant_a, requested_by=reviewer_a, format="csv")
    client = signed_in(user_a if who == "member" else admin_a)
    for method, url in _audit_urls(trail["a"], own_export):
        response = getattr(client, method)(url, {"format": "csv"} if method == "post" else None)
        assert response.status_code == 403, (method, url)
    assert not AuditExport.objects.exclude(pk=own_export.pk).exists()
    assert not AuditOutbox.objects.filter(event_type="audit.export").exists()


def test_anonymous_is_sent_to_sign_in(db: None) -> None:
    response = Client().get("/audit/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_nav_link_only_for_reviewers_and_operators(user_a: User, reviewer_a: User, operator: User) -> None:
    assert 'href="/audit/"' not in signed_in(user_a).get("/").content.decode()
    assert 'href="/audit/"' in signed_in(reviewer_a).get("/").content.decode()
    assert 'href="/audit/"' in signed_in(operator).get("/").content.decode()


# --- Tenant isolation ---------------------------------------------------------------------------------------------
def test_reviewer_sees_only_own_tenant(reviewer_a: User, trail: dict[str, AuditEntry]) -> None:
    client = signed_in(reviewer_a)
    page = client.get("/audit/").content.decode()
    assert "gpt-alpha" in page
    assert "gpt-beta" not in page
    assert "admin.deployment.updated" not in page  # the global chain is not a tenant's
    detail = client.get(f"/audit/{trail['a'].pk}/")
    assert detail.status_code == 200
    assert "alpha entry" in detail.content.decode()


def test_reviewer_cannot_open_other_tenants_entry(reviewer_a: User, trail: dict[str, AuditEntry]) -> None:
    client = signed_in(reviewer_a)
    foreign = client.get(f"/audit/{trail['b'].pk}/")
    missing = client.get("/audit/987654/")
    assert foreign.status_code == missing.status_code == 404
    assert SECRET_B not in foreign.content.decode()
    assert client.get(f"/audit/{trail['global'].pk}/").status_code == 404
    assert client.get(f"/audit/{trail['b'].pk}/?tenant=beta").status_code == 404


def test_reviewer_cannot_switch_tenant_with_parameter(reviewer_a: User, trail: dict[str, AuditEntry]) -> None:
    client = signed_in(reviewer_a)
    page = client.get("/audit/", {"tenant": "beta"}).content.decode()
    assert "gpt-alpha" in page
    assert "gpt-beta" not in page
    assert client.get("/audit/", {"tenant": "beta", "q": SECRET_B}).context["page_obj"].paginator.count == 0
    assert 'name="tenant"' not in page  # no tenant picker for reviewers


def test_reviewer_export_with_other_tenants_filters_yields_own_rows_only(
    reviewer_a: User, trail: dict[str, AuditEntry]
) -> None:
    client = signed_in(reviewer_a)
    response = client.get("/audit/export.zip", {"format": "jsonl", "tenant": "beta"})
    archive, manifest = open_zip(b"".join(streamed(response)))
    lines = [json.loads(line) for line in archive.read("audit.jsonl").decode().splitlines()]
    assert manifest["tenant"] == "alpha"
    assert {line["tenant_id"] for line in lines} == {trail["a"].tenant_id}
    assert SECRET_B not in archive.read("audit.jsonl").decode()
    response = client.get("/audit/export.zip", {"format": "csv", "tenant": "beta", "q": SECRET_B, "model": "beta"})
    _, manifest = open_zip(b"".join(streamed(response)))
    assert manifest["row_count"] == 0


def test_reviewer_cannot_reach_other_tenants_export_job(reviewer_a: User, export_b: AuditExport) -> None:
    client = signed_in(reviewer_a)
    assert client.get(f"/audit/exports/{export_b.pk}/status").status_code == 404
    assert client.get(f"/audit/exports/{export_b.pk}/download").status_code == 404
    assert client.get(f"/audit/exports/{export_b.pk}/download?tenant=beta").status_code == 404
    assert str(export_b.pk) not in client.get("/audit/exports/").content.decode().split("<tbody>")[1]


def test_operator_picks_a_tenant(operator: User, trail: dict[str, AuditEntry], export_b: AuditExport) -> None:
    client = signed_in(operator)
    own = client.get("/audit/").content.decode()
    assert "gpt-alpha" in own
    assert "gpt-beta" not in own
    assert 'name="tenant"' in own  # the picker
    response = client.get("/audit/", {"tenant": "beta"})
    page = response.content.decode()
    assert "gpt-beta" in page
    assert "gpt-alpha" not in page
    assert f'href="/audit/{trail["b"].pk}/?tenant=beta"' in page  # the choice is carried on
    assert client.get(f"/audit/{trail['b'].pk}/", {"tenant": "beta"}).status_code == 200
    assert client.get(f"/audit/{trail['b'].pk}/").status_code == 404  # own tenant by default
    assert client.get(f"/audit/exports/{export_b.pk}/status", {"tenant": "beta"}).status_code == 200
    assert client.get("/audit/", {"tenant": "nope"}).status_code == 404


def test_operator_export_of_tenant_b_is_audited_on_bs_chain(
    operator: User, tenant_b: Tenant, trail: dict[str, AuditEntry]
) -> None:
    response = signed_in(operator).get("/audit/export.zip", {"format": "csv", "tenant": "beta"})
    _, manifest = open_zip(b"".join(streamed(response)))
    assert manifest["tenant"] == "beta"
    assert manifest["row_count"] == 1
    outbox = AuditOutbox.objects.get(event_type="audit.export")
    assert outbox.tenant_id == tenant_b.pk
    assert outbox.actor_email == operator.email


# --- Selectors ----------------------------------------------------------------------------------------------------
def test_selectors_scope_by_tenant(tenant_a: Tenant, tenant_b: Tenant, trail: dict[str, AuditEntry]) -> None:
    assert list(audit_entry_list(tenant=tenant_a, filters={})) == [trail["a"]]
    assert audit_entry_get(tenant=tenant_a, entry_id=trail["a"].pk) == trail["a"]
    from django.http import Http404

    with pytest.raises(Http404):
        audit_entry_get(tenant=tenant_a, entry_id=trail["b"].pk)
    with pytest.raises(Http404):
        audit_export_get(tenant=tenant_a, export_id=12345)


def test_filters(tenant_a: Tenant) -> None:
    record(
        tenant_a,
        event_type="llm.chat",
        actor_email="Carol@alpha.example",
        channel="slack",
        model_label="gpt-4o 2024-08-06",
        status="completion_filtered",
        occurred_at=datetime(2026, 4, 1, 23, 30, tzinfo=TOKYO),
        payload={"prompt": "社外秘の資料を要約して", "note": 'he said "yes"'},
    )
    record(
        tenant_a,
        event_type="admin.notice.updated",
        actor_email="dave@alpha.example",
        channel="admin",
        status="",
        occurred_at=datetime(2026, 4, 2, 0, 10, tzinfo=TOKYO),  # still 1 April in UTC
        payload={"after": {"text": "hello"}},
    )

    def events(**filters: Any) -> list[str]:
        return [e.event_type for e in audit_entry_list(tenant=tenant_a, filters=filters)]

    assert events() == ["admin.notice.updated", "llm.chat"]  # newest first
    assert events(date_from="2026-04-01", date_to="2026-04-01") == ["llm.chat"]  # the Tokyo day
    assert events(date_from="2026-04-02") == ["admin.notice.updated"]
    assert events(date_to="2026-03-31") == []
    assert events(user="carol") == ["llm.chat"]
    assert events(channel="admin") == ["admin.notice.updated"]
    assert events(model="GPT-4O") == ["llm.chat"]
    assert events(status="completion_filtered") == ["llm.chat"]
    assert events(status="completion") == []  # exact
    assert events(event_type="admin.") == ["admin.notice.updated"]
    assert events(event_type="chat") == []  # prefix
    assert events(q="社外秘") == ["llm.chat"]  # Japanese inside the payload, SQLite and PostgreSQL alike
    assert events(q='"yes"') == ["llm.chat"]
    assert events(q="HELLO") == ["admin.notice.updated"]
    assert events(q="dave") == ["admin.notice.updated"]
    assert events(q="機密") == []


# --- List page ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "notadate"},
        {"date_to": "2026-02-30"},
        {"channel": "bogus"},
        {"date_from": "2026-04-02", "date_to": "2026-04-01"},
        {"date_from": "0001-01-01"},
        {"date_to": "9999-12-31"},
        {"user": "x" * 300},
        {"q": "a\x00b"},
    ],
)
def test_bad_filters_are_form_errors(reviewer_a: User, trail: dict[str, AuditEntry], params: dict[str, str]) -> None:
    client = signed_in(reviewer_a)
    response = client.get("/audit/", params)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert 'data-testid="filter-error"' in response.content.decode()
    table = response.content.decode().split('data-testid="audit-entries"')[1].split("</table>")[0]
    assert "gpt-alpha" not in table  # no unfiltered list posing as a filtered one
    export = client.get("/audit/export.zip", {"format": "csv", **params})
    assert export.status_code == 400
    assert 'data-testid="export-errors"' in export.content.decode()
    assert client.post("/audit/exports/", {"format": "csv", **params}).status_code == 400
    assert not AuditOutbox.objects.filter(event_type="audit.export").exists()


def test_date_order_error_message(reviewer_a: User) -> None:
    response = signed_in(reviewer_a).get("/audit/", {"date_from": "2026-04-02", "date_to": "2026-04-01"})
    assert "The end date is before the start date." in response.content.decode()


def test_bad_export_format_is_400(reviewer_a: User) -> None:
    client = signed_in(reviewer_a)
    assert client.get("/audit/export.zip", {"format": "pdf"}).status_code == 400
    assert client.get("/audit/export.zip").status_code == 400


def test_pagination_keeps_filters(reviewer_a: User, tenant_a: Tenant) -> None:
    bulk_entries(tenant_a, 120)
    client = signed_in(reviewer_a)
    response = client.get("/audit/", {"channel": "web"})  # 60 web rows
    page = response.content.decode()
    assert response.context["page_obj"].paginator.count == 60
    assert len(response.context["page_obj"]) == 50
    assert "?channel=web&amp;page=2" in page
    second = client.get("/audit/", {"channel": "web", "page": "2"})
    assert len(second.context["page_obj"]) == 10
    assert [e.seq for e in second.context["page_obj"]] == list(range(19, 0, -2))
    assert client.get("/audit/", {"page": "abc"}).status_code == 200
    assert client.get("/audit/", {"page": "999"}).status_code == 200
    second_page = second.content.decode()
    download_href = second_page.split('data-testid="download-csv"')[0].rsplit("href=", 1)[1]
    assert "format=csv" in download_href
    assert "channel=web" in download_href
    assert "page=" not in download_href  # the export is of all pages


def test_detail_shows_every_field_and_escapes_the_payload(reviewer_a: User, tenant_a: Tenant) -> None:
    entry = record(
        tenant_a,
        event_type="llm.chat",
        model_label="gpt-4o",
        status="ok",
        payload={"prompt": "<script>alert(1)</script>", "text": "機密情報の扱い"},
    )[0]
    page = signed_in(reviewer_a).get(f"/audit/{entry.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "機密情報の扱い" in page
    for value in (entry.chain, str(entry.event_id), entry.prev_hash, entry.entry_hash, "gpt-4o", "llm.chat"):
        assert value in page


# --- Inline export limits -----------------------------------------------------------------------------------------
def test_too_large_inline_export_goes_to_the_job_page(reviewer_a: User, tenant_a: Tenant, settings: Any) -> None:
    settings.AUDIT_EXPORT_INLINE_MAX_ROWS = 2
    record(tenant_a, 3, event_type="llm.chat")
    client = signed_in(reviewer_a)
    response = client.get("/audit/export.zip", {"format": "jsonl", "event_type": "llm"})
    assert response.status_code == 302
    assert response["Location"].startswith("/audit/exports/?")
    assert "event_type=llm" in response["Location"]
    assert "format=jsonl" in response["Location"]
    assert not AuditOutbox.objects.filter(event_type="audit.export").exists()
    page = client.get(response["Location"])
    text = page.content.decode()
    assert "Prepare large export" in text
    assert "more than a direct download allows" in text
    assert 'data-testid="export-offer"' in text
    assert 'name="event_type" value="llm"' in text


# --- Jobs ---------------------------------------------------------------------------------------------------------
def test_job_end_to_end(
    reviewer_a: User, reviewer_b: User, tenant_a: Tenant, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    bulk_entries(tenant_a, 2_500)
    client = signed_in(reviewer_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/audit/exports/", {"format": "csv", "channel": "slack", "tenant": "beta"})
    assert response.status_code == 302
    assert response["Location"] == "/audit/exports/"
    export = AuditExport.objects.get()
    assert export.tenant_id == tenant_a.pk
    assert export.requested_by_id == reviewer_a.pk
    assert export.filters == {"channel": "slack"}
    assert export.status == AuditExport.Status.DONE, export.error

    status = client.get(f"/audit/exports/{export.pk}/status").json()
    assert status["status"] == "done"
    assert status["done_rows"] == status["total_rows"] == 1_250
    assert status["download_url"] == f"/audit/exports/{export.pk}/download"

    page = client.get("/audit/exports/").content.decode()
    assert f'data-status-url="/audit/exports/{export.pk}/status"' in page
    assert "js/audit.js" in page

    download = client.get(status["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert f"audit-alpha-export-{export.pk}.zip" in download["Content-Disposition"]
    _, manifest = open_zip(b"".join(streamed(download)))
    assert manifest == export.manifest
    assert manifest["row_count"] == 1_250
    assert manifest["filters"] == {"channel": "slack"}

    # Audited once, when requested, with the job's id and row count.
    outbox = AuditOutbox.objects.get(event_type="audit.export")
    assert outbox.payload == {
        "format": "csv",
        "filters": {"channel": "slack"},
        "kind": "job",
        "row_count": 1_250,
        "export_id": export.pk,
    }
    assert AuditEntry.objects.filter(event_type="audit.export", tenant_id=tenant_a.pk).count() == 1

    # The other tenant's reviewer: not even its existence.
    other = signed_in(reviewer_b)
    assert other.get(f"/audit/exports/{export.pk}/status").status_code == 404
    assert other.get(f"/audit/exports/{export.pk}/download").status_code == 404


def test_job_not_done_is_409(reviewer_a: User, tenant_a: Tenant) -> None:
    client = signed_in(reviewer_a)
    export = AuditExport.objects.create(tenant=tenant_a, requested_by=reviewer_a, format="csv", total_rows=5)
    response = client.get(f"/audit/exports/{export.pk}/download")
    assert response.status_code == 409
    assert "not ready" in response.content.decode()
    assert client.get(f"/audit/exports/{export.pk}/status").json()["download_url"] is None
    export.status = AuditExport.Status.FAILED
    export.save(update_fields=["status"])
    assert client.get(f"/audit/exports/{export.pk}/download").status_code == 409


def test_job_file_gone_is_404(reviewer_a: User, tenant_a: Tenant) -> None:
    export = AuditExport.objects.create(
        tenant=tenant_a, requested_by=reviewer_a, format="csv", status=AuditExport.Status.DONE, file_path="1/1.zip"
    )
    assert signed_in(reviewer_a).get(f"/audit/exports/{export.pk}/download").status_code == 404


def test_export_pages_reject_other_methods(reviewer_a: User) -> None:
    client = signed_in(reviewer_a)
    assert client.post("/audit/").status_code == 405
    assert client.post("/audit/export.zip").status_code == 405
    assert client.delete("/audit/exports/").status_code == 405


def test_reviewer_pages_show_the_last_verification_of_their_own_chain(
    reviewer_a: User, reviewer_b: User, tenant_a: Tenant, tenant_b: Tenant, trail: dict[str, AuditEntry]
) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    from audit.services import audit_pending_sweep

    client_a, client_b = signed_in(reviewer_a), signed_in(reviewer_b)
    assert "has not been verified yet" in client_a.get("/audit/").content.decode()
    call_command("audit_verify", "--tenant", tenant_a.slug, stdout=StringIO())
    audit_pending_sweep(older_than=timedelta(0))
    for url in ("/audit/", "/audit/exports/"):
        page = client_a.get(url).content.decode()
        assert "Chain verified: whole" in page
        assert "1 entry checked" in page
    assert "has not been verified yet" in client_b.get("/audit/").content.decode()  # A's result is not B's

    # B's chain is tampered with: B's reviewer sees the failure and what was found, A's page is unaffected.
    AuditEntry.objects.filter(pk=trail["b"].pk).update(actor_email="intruder@beta.example")
    with pytest.raises(CommandError):
        call_command("audit_verify", "--tenant", tenant_b.slug, stdout=StringIO())
    audit_pending_sweep(older_than=timedelta(0))
    page = client_b.get("/audit/").content.decode()
    assert "Chain verification FAILED" in page
    assert "entry seq 1 was edited (hash mismatch)" in page
    assert "FAILED" not in client_a.get("/audit/").content.decode()
