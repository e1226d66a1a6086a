"""Every change made through the admin console is exactly one audit entry with before and after."""

from __future__ import annotations

from django.test import Client

from audit.models import AuditEntry, AuditOutbox
from audit.services import chain_for
from tenants.models import Tenant, User
from tests.audit.helpers import chain_all
from tests.conftest import signed_in


def only_entry(event_type: str) -> AuditEntry:
    chain_all()
    rows = list(AuditEntry.objects.filter(event_type=event_type))
    assert len(rows) == 1, [r.event_type for r in AuditEntry.objects.all()]
    return rows[0]


def admin_events() -> list[str]:
    return sorted(AuditOutbox.objects.filter(event_type__startswith="admin.").values_list("event_type", flat=True))


def test_user_created_updated_deleted_by_tenant_admin(admin_a: User, tenant_a: Tenant) -> None:
    client = signed_in(admin_a)
    form = {"email": "new@alpha.example", "first_name": "N", "last_name": "", "role": "member", "is_active": "on"}
    assert client.post("/admin/tenants/user/add/", form).status_code == 302
    created = only_entry("admin.user.created")
    user = User.objects.get(email="new@alpha.example")
    assert created.tenant_id == tenant_a.pk
    assert created.chain == chain_for(tenant_a.pk)
    assert created.actor_email == admin_a.email
    assert created.payload["before"] is None
    assert created.payload["after"]["email"] == "new@alpha.example"
    assert "password" not in created.payload["after"]

    form["role"] = "compliance_reviewer"
    assert client.post(f"/admin/tenants/user/{user.pk}/change/", form).status_code == 302
    updated = only_entry("admin.user.updated")
    assert updated.payload["before"]["role"] == "member"
    assert updated.payload["after"]["role"] == "compliance_reviewer"
    assert updated.payload["changed_fields"] == ["role"]

    assert client.post(f"/admin/tenants/user/{user.pk}/delete/", {"post": "yes"}).status_code == 302
    deleted = only_entry("admin.user.deleted")
    assert deleted.payload["before"]["email"] == "new@alpha.example"
    assert deleted.payload["after"] is None
    assert admin_events() == ["admin.user.created", "admin.user.deleted", "admin.user.updated"]


def test_tenant_with_domains_recorded_on_its_own_chain(operator: User) -> None:
    client = signed_in(operator)
    response = client.post(
        "/admin/tenants/tenant/add/",
        {
            "name": "Gamma",
            "slug": "gamma",
            "is_active": "on",
            "max_concurrent_replies": "3",
            "attachment_max_mb": "20",
            "attachment_max_files": "10",
            "attachment_quota_mb": "1000",
            "tenantdomain_set-TOTAL_FORMS": "1",
            "tenantdomain_set-INITIAL_FORMS": "0",
            "tenantdomain_set-0-domain": "Gamma.Example",
            "tenanthostname_set-TOTAL_FORMS": "0",
            "tenanthostname_set-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    gamma = Tenant.objects.get(slug="gamma")
    entry = only_entry("admin.tenant.created")
    assert entry.tenant_id == gamma.pk
    assert entry.payload["after"]["tenantdomain_set"] == ["gamma.example"]


def test_bulk_delete_writes_one_entry_per_object(admin_a: User, tenant_a: Tenant) -> None:
    from tenants.services import user_create

    doomed = [user_create(tenant=tenant_a, email=f"d{i}@alpha.example") for i in range(3)]
    client = signed_in(admin_a)
    response = client.post(
        "/admin/tenants/user/",
        {"action": "delete_selected", "_selected_action": [u.pk for u in doomed], "post": "yes"},
    )
    assert response.status_code == 302
    assert admin_events() == ["admin.user.deleted"] * 3


def test_failed_form_writes_nothing(admin_a: User) -> None:
    client = signed_in(admin_a)
    response = client.post("/admin/tenants/user/add/", {"email": "not-an-email", "role": "member"})
    assert response.status_code == 200
    assert admin_events() == []


def test_sign_in_and_refusal_are_audited(user_a: User, fake_google: object, tenant_a: Tenant) -> None:
    from tests.conftest import google_sign_in
    from tests.fakes.google import FakeGoogle

    assert isinstance(fake_google, FakeGoogle)
    client = Client()
    google_sign_in(
        client, fake_google, {"sub": "9", "email": user_a.email, "email_verified": True, "hd": "alpha.example"}
    )
    login = only_entry("auth.login")
    assert login.actor_email == user_a.email
    assert login.tenant_id == tenant_a.pk
    assert login.payload["method"] == "google"
    google_sign_in(
        Client(), fake_google, {"sub": "10", "email": "x@beta.example", "email_verified": True, "hd": "alpha.example"}
    )
    refused = only_entry("auth.login_refused")
    assert refused.status == "email_domain_mismatch"
    assert refused.tenant_id == tenant_a.pk
    assert not User.objects.filter(email="x@beta.example").exists()
