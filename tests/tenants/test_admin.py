"""The admin console: operators see every tenant, tenant admins only their own and never another's rows."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tenants.models import Tenant, User
from tests.conftest import signed_in


@pytest.fixture
def admin_client_a(admin_a: User) -> Client:
    return signed_in(admin_a)


def test_member_cannot_enter_the_admin(client_a: Client) -> None:
    response = client_a.get("/admin/", follow=True)
    assert response.status_code == 403
    assert client_a.get("/admin/tenants/user/", follow=True).status_code == 403


def test_admin_login_page_points_to_google_sign_in(db: None) -> None:
    response = Client().get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_tenant_admin_lists_only_own_users(admin_client_a: Client, user_a: User, user_b: User, admin_b: User) -> None:
    page = admin_client_a.get("/admin/tenants/user/").content.decode()
    assert user_a.email in page
    assert user_b.email not in page
    assert admin_b.email not in page


def test_tenant_admin_search_does_not_reach_other_tenants(admin_client_a: Client, user_b: User) -> None:
    page = admin_client_a.get("/admin/tenants/user/", {"q": "beta"}).content.decode()
    assert user_b.email not in page


def test_tenant_admin_cannot_open_change_or_delete_other_tenants_user(admin_client_a: Client, user_b: User) -> None:
    base = f"/admin/tenants/user/{user_b.pk}"
    assert admin_client_a.get(f"{base}/change/").status_code == 404
    assert admin_client_a.get(f"{base}/delete/").status_code == 404
    assert admin_client_a.get(f"{base}/history/").status_code == 404
    response = admin_client_a.post(f"{base}/change/", {"email": "pwned@beta.example", "role": "tenant_admin"})
    assert response.status_code == 404
    assert admin_client_a.post(f"{base}/delete/", {"post": "yes"}).status_code == 404
    user_b.refresh_from_db()
    assert user_b.email == "bob@beta.example"
    assert user_b.role == User.Role.MEMBER


def test_bulk_delete_action_cannot_touch_other_tenants(admin_client_a: Client, user_a: User, user_b: User) -> None:
    admin_client_a.post(
        "/admin/tenants/user/",
        {"action": "delete_selected", "_selected_action": [user_b.pk], "post": "yes"},
    )
    assert User.objects.filter(pk=user_b.pk).exists()


def test_tenant_admin_creates_user_only_in_own_tenant(
    admin_client_a: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    form = admin_client_a.get("/admin/tenants/user/add/").content.decode()
    assert 'name="tenant"' not in form
    assert 'name="is_superuser"' not in form
    response = admin_client_a.post(
        "/admin/tenants/user/add/",
        {
            "email": "New.Person@alpha.example",
            "first_name": "New",
            "last_name": "Person",
            "role": "member",
            "is_active": "on",
            "tenant": tenant_b.pk,  # forged field: ignored
            "is_superuser": "on",  # forged field: ignored
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    created = User.objects.get(email="new.person@alpha.example")
    assert created.tenant == tenant_a
    assert not created.is_superuser
    assert not User.objects.filter(tenant=tenant_b, email__startswith="new.person").exists()


def test_tenant_admin_changes_role_of_own_user(admin_client_a: Client, user_a: User) -> None:
    response = admin_client_a.post(
        f"/admin/tenants/user/{user_a.pk}/change/",
        {
            "email": user_a.email,
            "first_name": "Alice",
            "last_name": "",
            "role": "compliance_reviewer",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    user_a.refresh_from_db()
    assert user_a.role == User.Role.COMPLIANCE_REVIEWER


def test_tenant_admin_never_sees_operators(admin_client_a: Client, operator: User) -> None:
    assert operator.email not in admin_client_a.get("/admin/tenants/user/").content.decode()
    assert admin_client_a.get(f"/admin/tenants/user/{operator.pk}/change/").status_code == 404


def test_tenant_admin_cannot_manage_tenants(admin_client_a: Client, tenant_a: Tenant, tenant_b: Tenant) -> None:
    assert admin_client_a.get("/admin/tenants/tenant/").status_code == 403
    assert admin_client_a.get(f"/admin/tenants/tenant/{tenant_b.pk}/change/").status_code == 403
    index = admin_client_a.get("/admin/").content.decode()
    assert "/admin/tenants/tenant/" not in index
    assert "/admin/tenants/user/" in index


def test_operator_sees_and_manages_every_tenant(operator: User, user_b: User, tenant_b: Tenant) -> None:
    client = signed_in(operator)
    assert user_b.email in client.get("/admin/tenants/user/").content.decode()
    assert client.get(f"/admin/tenants/user/{user_b.pk}/change/").status_code == 200
    page = client.get("/admin/tenants/tenant/").content.decode()
    assert "Beta Inc" in page
    assert "beta.example" in page
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
            "tenantdomain_set-0-domain": "gamma.example",
            "tenanthostname_set-TOTAL_FORMS": "0",
            "tenanthostname_set-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Tenant.objects.get(slug="gamma").tenantdomain_set.get().domain == "gamma.example"


def test_operator_cannot_give_a_domain_of_one_tenant_to_another(operator: User, tenant_a: Tenant) -> None:
    client = signed_in(operator)
    response = client.post(
        "/admin/tenants/tenant/add/",
        {
            "name": "Thief",
            "slug": "thief",
            "is_active": "on",
            "max_concurrent_replies": "3",
            "attachment_max_mb": "20",
            "attachment_max_files": "10",
            "attachment_quota_mb": "1000",
            "tenantdomain_set-TOTAL_FORMS": "1",
            "tenantdomain_set-INITIAL_FORMS": "0",
            "tenantdomain_set-0-domain": "alpha.example",
            "tenanthostname_set-TOTAL_FORMS": "0",
            "tenanthostname_set-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200  # form shown again with an error
    assert not Tenant.objects.filter(slug="thief").exists()


def test_a_company_admin_cannot_create_people_of_other_domains(
    admin_client_a: Client, tenant_a: Tenant, tenant_b: Tenant, user_b: User
) -> None:
    def add(email: str) -> Any:
        return admin_client_a.post(
            "/admin/tenants/user/add/", {"email": email, "first_name": "", "last_name": "", "role": "member"}
        )

    for squat in ("anyone@second.example", "someone@beta.example", user_b.email):
        response = add(squat)
        assert response.status_code == 200, squat
        page = response.content.decode()
        assert "Use an address in one of your company" in page
        assert "alpha-group.example, alpha.example" in page
        assert "already exists" not in page  # says nothing of who exists elsewhere
    assert not User.objects.filter(email__in=["anyone@second.example", "someone@beta.example"]).exists()
    assert User.objects.get(pk=user_b.pk).tenant_id == tenant_b.pk
    assert add("New@Alpha-Group.example").status_code == 302  # the company's second domain
    assert User.objects.get(email="new@alpha-group.example").tenant_id == tenant_a.pk


def test_the_service_refuses_squatting_too(admin_a: User, tenant_a: Tenant, tenant_b: Tenant) -> None:
    from django.core.exceptions import PermissionDenied

    from tenants.services import user_save

    with pytest.raises(PermissionDenied):
        user_save(user=User(email="x@beta.example", tenant=tenant_a), acting_user=admin_a, changed=["email"])
    assert not User.objects.filter(email="x@beta.example").exists()
