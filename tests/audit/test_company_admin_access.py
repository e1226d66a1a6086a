"""A company administrator reads their company's audit trail only where the company allows it
(``Tenant.admins_read_audit``, off by default, set by a platform operator, audited when changed), and then only
their own company's; the console's index gives them their company's pages."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry, AuditExport, AuditOutbox
from tenants.models import Tenant, User
from tests.audit.test_export import record
from tests.audit.test_views import _audit_urls
from tests.conftest import signed_in

SECRET_B = "beta-only-secret-42"


@pytest.fixture
def entries(tenant_a: Tenant, tenant_b: Tenant) -> dict[str, AuditEntry]:
    a = record(tenant_a, event_type="llm.chat", model_label="gpt-alpha", payload={"text": "alpha entry"})[0]
    b = record(tenant_b, event_type="llm.chat", model_label="gpt-beta", payload={"text": SECRET_B})[0]
    return {"a": a, "b": b}


def test_off_by_default_every_audit_page_is_403_and_the_console_says_why(
    admin_a: User, tenant_a: Tenant, entries: dict[str, AuditEntry]
) -> None:
    assert tenant_a.admins_read_audit is False
    client = signed_in(admin_a)
    export = AuditExport.objects.create(tenant=tenant_a, requested_by=admin_a, format="csv")
    for method, url in _audit_urls(entries["a"], export):
        assert getattr(client, method)(url).status_code == 403, url
    index = client.get("/admin/").content.decode()
    assert 'href="/usage/"' in index  # the company's usage
    assert 'data-testid="company-audit"' not in index
    assert "Not open to company administrators" in index
    assert 'href="/audit/"' not in client.get("/").content.decode()


def test_on_they_read_their_own_company_only(
    admin_a: User, tenant_a: Tenant, tenant_b: Tenant, entries: dict[str, AuditEntry]
) -> None:
    Tenant.objects.filter(pk=tenant_a.pk).update(admins_read_audit=True)
    client = signed_in(admin_a)
    page = client.get("/audit/", {"tenant": tenant_b.slug})  # only operators may name a company
    assert page.status_code == 200
    assert "gpt-alpha" in page.content.decode()
    assert SECRET_B not in page.content.decode()
    assert client.get(f"/audit/{entries['a'].pk}/").status_code == 200
    assert client.get(f"/audit/{entries['b'].pk}/").status_code == 404  # another company's: as if missing
    index = client.get("/admin/").content.decode()
    assert 'data-testid="company-audit"' in index
    assert 'href="/audit/"' in client.get("/").content.decode()
    # Another company's administrator is not let in by A's setting.
    other = signed_in(User.objects.create(email="admin@beta.example", tenant=tenant_b, role=User.Role.TENANT_ADMIN))
    assert other.get("/audit/").status_code == 403


def test_only_an_operator_changes_it_and_the_change_is_audited(operator: User, admin_a: User, tenant_a: Tenant) -> None:
    form = {
        "name": tenant_a.name,
        "slug": tenant_a.slug,
        "is_active": "on",
        "max_concurrent_replies": "3",
        "attachment_max_mb": "20",
        "attachment_max_files": "10",
        "attachment_quota_mb": "1000",
        "admins_read_audit": "on",
        "tenantdomain_set-TOTAL_FORMS": "0",
        "tenantdomain_set-INITIAL_FORMS": "0",
        "tenanthostname_set-TOTAL_FORMS": "0",
        "tenanthostname_set-INITIAL_FORMS": "0",
    }
    # A company administrator cannot open the company's settings at all.
    assert signed_in(admin_a).post(f"/admin/tenants/tenant/{tenant_a.pk}/change/", form).status_code == 403
    tenant_a.refresh_from_db()
    assert tenant_a.admins_read_audit is False
    response = signed_in(operator).post(f"/admin/tenants/tenant/{tenant_a.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    tenant_a.refresh_from_db()
    assert tenant_a.admins_read_audit is True
    entry = AuditOutbox.objects.get(event_type="admin.tenant.updated")
    assert entry.tenant_id == tenant_a.pk
    assert "admins_read_audit" in entry.payload["changed_fields"]
    assert (entry.payload["before"]["admins_read_audit"], entry.payload["after"]["admins_read_audit"]) == (False, True)
