"""HTTP edge: tenant resolved once per request; foreign hostnames refused; deactivation ends the session."""

from __future__ import annotations

import pytest
from django.test import Client

from tenants.models import Tenant, TenantHostname, User
from tests.conftest import signed_in


@pytest.fixture
def hostnames(tenant_a: Tenant, tenant_b: Tenant) -> None:
    TenantHostname.objects.create(tenant=tenant_a, hostname="alpha.example.test")
    TenantHostname.objects.create(tenant=tenant_b, hostname="beta.example.test")


def test_anonymous_is_redirected_to_sign_in(db: None) -> None:
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/")


def test_home_shows_own_tenant(client_a: Client, tenant_b: Tenant) -> None:
    page = client_a.get("/").content.decode()
    assert "Alpha Corp" in page
    assert "Beta Inc" not in page


def test_user_on_own_tenant_hostname_is_served(client_a: Client, hostnames: None) -> None:
    assert client_a.get("/", HTTP_HOST="alpha.example.test").status_code == 200


def test_user_on_other_tenant_hostname_is_refused(client_a: Client, client_b: Client, hostnames: None) -> None:
    response = client_a.get("/", HTTP_HOST="beta.example.test")
    assert response.status_code == 403
    assert 'data-refusal="wrong_host"' in response.content.decode()
    assert "Beta Inc" not in response.content.decode()
    assert client_b.get("/", HTTP_HOST="alpha.example.test").status_code == 403


def test_shared_host_serves_every_tenant(client_a: Client, client_b: Client, hostnames: None) -> None:
    assert client_a.get("/", HTTP_HOST="localhost").status_code == 200
    assert client_b.get("/", HTTP_HOST="localhost").status_code == 200


def test_anonymous_on_tenant_hostname_sees_sign_in(hostnames: None) -> None:
    response = Client().get("/accounts/login/", HTTP_HOST="alpha.example.test")
    assert response.status_code == 200
    assert 'data-testid="tenant-name"' in response.content.decode()


def test_unknown_host_is_a_bad_request(db: None) -> None:
    assert Client().get("/accounts/login/", HTTP_HOST="evil.invalid").status_code == 400


def test_tenant_deactivated_mid_session_signs_the_user_out(
    client_a: Client, tenant_a: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    assert client_a.get("/").status_code == 200
    Tenant.objects.filter(pk=tenant_a.pk).update(is_active=False)
    with caplog.at_level("WARNING", logger="officeai.signin"):
        response = client_a.get("/")
    assert response.status_code == 403
    assert 'data-refusal="tenant_inactive"' in response.content.decode()
    assert "code=tenant_inactive" in caplog.text
    assert "_auth_user_id" not in client_a.session
    Tenant.objects.filter(pk=tenant_a.pk).update(is_active=True)
    assert client_a.get("/").status_code == 302  # signed out for good


def test_deactivated_user_loses_the_session(client_a: Client, user_a: User) -> None:
    User.objects.filter(pk=user_a.pk).update(is_active=False)
    response = client_a.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_other_tenants_user_page_in_admin_is_404_for_tenant_admin(admin_a: User, user_b: User) -> None:
    client = signed_in(admin_a)
    assert client.get(f"/admin/tenants/user/{user_b.pk}/change/").status_code == 404


def test_healthz_needs_no_session(db: None) -> None:
    assert Client().get("/healthz").json() == {"status": "ok"}
