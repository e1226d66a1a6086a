"""The admin console: operators see every tenant, tenant admins only their own and never another's rows."""

from __future__ import annotations

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
            "tenantdomain_set-TOTAL_FORMS": "1",
            "tenantdomain_set-INITIAL_FORMS": "0",
            "tenantdomain_set-0-domain": "alpha.example",
            "tenanthostname_set-TOTAL_FORMS": "0",
            "tenanthostname_set-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200  # form shown again with an error
    assert not Tenant.objects.filter(slug="thief").exists()
