"""Google sign-in through allauth's real OAuth flow against a local fake token endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount
from django.test import Client

from tenants.models import Tenant, User
from tenants.services import user_create
from tests.conftest import google_sign_in
from tests.fakes.google import FakeGoogle


def claims(email: str, hd: str | None, *, verified: Any = True, sub: str = "1001") -> dict[str, Any]:
    out: dict[str, Any] = {"sub": sub, "email": email, "email_verified": verified, "given_name": "Test"}
    if hd is not None:
        out["hd"] = hd
    return out


def counts() -> tuple[int, int]:
    return User.objects.count(), SocialAccount.objects.count()


def assert_refused(response: Any, code: str) -> None:
    assert response.status_code == 403
    assert f'data-refusal="{code}"' in response.content.decode()


@pytest.fixture
def client() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def test_valid_sign_in_creates_user_in_the_tenant_of_hd(
    client: Client, fake_google: FakeGoogle, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    response = google_sign_in(client, fake_google, claims("carol@alpha.example", "alpha.example"))
    assert response.status_code == 302
    assert response["Location"] == "/"
    user = User.objects.get(email="carol@alpha.example")
    assert user.tenant == tenant_a
    assert user.role == User.Role.MEMBER
    assert not user.has_usable_password()
    assert SocialAccount.objects.get(user=user).uid == "1001"
    home = client.get("/")
    assert home.status_code == 200
    assert "Alpha Corp" in home.content.decode()
    # The token exchange really happened, with PKCE.
    assert "code_verifier=" in fake_google.token_requests[0]


def test_second_domain_of_the_same_tenant_is_accepted(
    client: Client, fake_google: FakeGoogle, tenant_a: Tenant
) -> None:
    response = google_sign_in(client, fake_google, claims("dan@alpha-group.example", "alpha.example"))
    assert response.status_code == 302
    assert User.objects.get(email="dan@alpha-group.example").tenant == tenant_a


def test_returning_user_signs_in_again_without_a_new_row(
    client: Client, fake_google: FakeGoogle, tenant_a: Tenant
) -> None:
    google_sign_in(client, fake_google, claims("carol@alpha.example", "alpha.example"))
    client.post("/accounts/logout/")
    before = counts()
    response = google_sign_in(client, fake_google, claims("carol@alpha.example", "alpha.example"))
    assert response.status_code == 302
    assert counts() == before


def test_user_created_by_admin_is_linked_on_first_google_sign_in(
    client: Client, fake_google: FakeGoogle, user_a: User
) -> None:
    response = google_sign_in(client, fake_google, claims(user_a.email, "alpha.example"))
    assert response.status_code == 302
    assert SocialAccount.objects.get(user=user_a).uid == "1001"
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("claim_set", "code"),
    [
        (claims("carol@gmail.com", None), "hd_missing"),
        (claims("carol@alpha.example", ""), "hd_missing"),
        (claims("eve@gamma.example", "gamma.example"), "hd_unknown"),
        # hd of tenant A with an email of tenant B's domain
        (claims("mallory@beta.example", "alpha.example"), "email_domain_mismatch"),
        # hd of tenant A with an unregistered email domain
        (claims("mallory@evil.example", "alpha.example"), "email_domain_mismatch"),
        (claims("carol@alpha.example", "alpha.example", verified=False), "email_unverified"),
        (claims("carol@alpha.example", "alpha.example", verified=None), "email_unverified"),
        (claims("", "alpha.example"), "email_missing"),
    ],
)
def test_refused_sign_ins_create_nothing(
    client: Client, fake_google: FakeGoogle, tenant_a: Tenant, tenant_b: Tenant, claim_set: dict[str, Any], code: str
) -> None:
    before = counts()
    response = google_sign_in(client, fake_google, claim_set)
    assert_refused(response, code)
    assert counts() == before
    assert "_auth_user_id" not in client.session


def test_refusal_is_explained_in_japanese(fake_google: FakeGoogle, tenant_a: Tenant) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="ja")
    response = google_sign_in(client, fake_google, claims("carol@gmail.com", None))
    assert_refused(response, "hd_missing")
    assert "Google Workspace" in response.content.decode()
    assert "アカウント" in response.content.decode()


def test_refusal_is_logged_with_its_reason(
    client: Client, fake_google: FakeGoogle, tenant_a: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="officeai.signin"):
        google_sign_in(client, fake_google, claims("eve@gamma.example", "gamma.example"))
    assert "code=hd_unknown" in caplog.text


def test_inactive_tenant_is_refused(client: Client, fake_google: FakeGoogle, tenant_a: Tenant) -> None:
    Tenant.objects.filter(pk=tenant_a.pk).update(is_active=False)
    before = counts()
    assert_refused(
        google_sign_in(client, fake_google, claims("carol@alpha.example", "alpha.example")), "tenant_inactive"
    )
    assert counts() == before


def test_existing_user_of_a_cannot_sign_in_with_tenant_b_claims(
    client: Client, fake_google: FakeGoogle, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    # Carol signed up in A; her Google identity (same sub) later presents B's claims.
    google_sign_in(client, fake_google, claims("carol@alpha.example", "alpha.example", sub="777"))
    client.post("/accounts/logout/")
    carol = User.objects.get(email="carol@alpha.example")
    before = counts()
    response = google_sign_in(client, fake_google, claims("carol@beta.example", "beta.example", sub="777"))
    assert_refused(response, "other_tenant")
    assert counts() == before
    carol.refresh_from_db()
    assert carol.tenant == tenant_a
    assert "_auth_user_id" not in client.session


def test_user_of_a_with_a_b_email_is_never_moved(
    client: Client, fake_google: FakeGoogle, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    # An operator mistakenly put a beta.example address into tenant A: B's claims must not take it over.
    misplaced = user_create(tenant=tenant_a, email="frank@beta.example")
    response = google_sign_in(client, fake_google, claims("frank@beta.example", "beta.example"))
    assert_refused(response, "other_tenant")
    misplaced.refresh_from_db()
    assert misplaced.tenant == tenant_a
    assert not SocialAccount.objects.exists()


def test_deactivated_user_is_refused(client: Client, fake_google: FakeGoogle, user_a: User) -> None:
    User.objects.filter(pk=user_a.pk).update(is_active=False)
    assert_refused(google_sign_in(client, fake_google, claims(user_a.email, "alpha.example")), "user_inactive")


def test_hd_query_parameter_from_the_browser_changes_nothing(
    client: Client, fake_google: FakeGoogle, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    # A forged auth_params hint only reaches Google's account chooser; the token's claims decide.
    start = client.post("/accounts/google/login/?auth_params=hd%3Dbeta.example")
    assert start.status_code == 302
    from urllib.parse import parse_qs, urlparse

    state = parse_qs(urlparse(start["Location"]).query)["state"][0]
    fake_google.claims = claims("carol@alpha.example", "alpha.example")
    response = client.get("/accounts/google/login/callback/", {"code": "c", "state": state})
    assert response.status_code == 302
    assert User.objects.get(email="carol@alpha.example").tenant == tenant_a


def test_no_local_signup_or_password_login(client: Client, tenant_a: Tenant) -> None:
    assert client.get("/accounts/signup/").status_code in (403, 404, 200)
    response = client.post("/accounts/signup/", {"email": "x@alpha.example", "password1": "p" * 16})
    assert not User.objects.filter(email="x@alpha.example").exists()
    assert response.status_code != 302 or "signup" not in response.get("Location", "")
    page = client.get("/accounts/login/").content.decode()
    assert 'type="password"' not in page
    assert 'data-testid="google-signin"' in page


def test_google_login_without_a_client_is_a_clear_page(settings: Any, db: None) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = {"google": {**settings.SOCIALACCOUNT_PROVIDERS["google"], "APPS": []}}
    response = Client().get("/accounts/google/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert "Google sign-in is not configured on this server" in response.content.decode()
