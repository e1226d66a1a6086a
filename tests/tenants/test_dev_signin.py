from __future__ import annotations

import pytest
from django.test import Client, override_settings

from tenants.models import Tenant, User


def test_dev_signin_signs_in_a_seeded_user(user_a: User, user_b: User) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    page = client.get("/accounts/dev-signin/").content.decode()
    assert user_a.email in page
    assert "Development mode only" in page
    response = client.post("/accounts/dev-signin/", {"email": user_a.email})
    assert response.status_code == 302
    assert "Alpha Corp" in client.get("/").content.decode()


def test_dev_signin_refuses_unknown_and_inactive(user_a: User, tenant_a: Tenant) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post("/accounts/dev-signin/", {"email": "nobody@alpha.example"})
    assert response.status_code == 200
    assert "No active user" in response.content.decode()
    Tenant.objects.filter(pk=tenant_a.pk).update(is_active=False)
    response = client.post("/accounts/dev-signin/", {"email": user_a.email})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_dev_signin_bad_input_is_a_form_error(db: None) -> None:
    response = Client(HTTP_ACCEPT_LANGUAGE="en").post("/accounts/dev-signin/", {"email": "not-an-email"})
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()


@override_settings(OFFICE_AI_DEV_SIGNIN=False)
def test_view_refuses_when_the_setting_is_off(user_a: User) -> None:
    # Even if the URL were routed, the view itself refuses.
    from django.http import Http404
    from django.test import RequestFactory

    from tenants.views import dev_signin

    request = RequestFactory().post("/accounts/dev-signin/", {"email": user_a.email})
    with pytest.raises(Http404):
        dev_signin(request)


@pytest.mark.parametrize(
    ("next_url", "lands_on"),
    [
        ("https://evil.example/", "/"),
        ("//evil.example/path", "/"),
        ("https:evil.example", "/"),
        ("/api/conversations/", "/api/conversations/"),
        ("", "/"),
    ],
)
def test_dev_signin_next_stays_on_site(user_a: User, user_b: User, next_url: str, lands_on: str) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post(f"/accounts/dev-signin/?next={next_url}", {"email": user_a.email})
    assert response.status_code == 302
    assert response["Location"] == lands_on
