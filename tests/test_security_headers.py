"""Security headers: the Content-Security-Policy on every response, and no-store on everything private."""

from __future__ import annotations

from django.test import Client

from chat.models import Conversation
from tenants.models import User
from tests.conftest import signed_in


def test_headers_on_private_and_public_responses(user_a: User, user_b: User) -> None:
    public = Client().get("/accounts/login/")
    policy = public["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "img-src 'self' data:;" in policy
    assert "frame-ancestors 'none'" in policy
    for user in (user_a, user_b):
        conversation = Conversation.objects.create(tenant=user.tenant, user=user, title="t")
        private = signed_in(user)
        for url in (
            "/",
            "/api/conversations/",
            f"/api/conversations/{conversation.pk}/",
            f"/c/{conversation.pk}/export.md",
        ):
            response = private.get(url)
            assert response.status_code == 200, url
            assert response["Cache-Control"] == "no-store, private", url
            assert response["Content-Security-Policy"] == policy
