"""``auth.login``: every successful sign-in (Google or the embedded dev sign-in) is recorded."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest

from audit.models import Channel
from audit.services import audit_record


def client_meta(request: HttpRequest | None) -> dict[str, str]:
    if request is None:
        return {}
    return {
        "ip": str(request.META.get("REMOTE_ADDR", "")),
        "user_agent": str(request.META.get("HTTP_USER_AGENT", ""))[:300],
    }


_ALLAUTH_BACKEND = "allauth.account.auth_backends.AuthenticationBackend"
_DEV_BACKEND = "tenants.backends.TenantModelBackend"


@receiver(user_logged_in, dispatch_uid="officeai-audit-login")
def _record_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    backend = str(getattr(user, "backend", "") or "")
    # Google is the only way in through allauth; the model backend serves the embedded dev sign-in.
    method = {_ALLAUTH_BACKEND: "google", _DEV_BACKEND: "dev_signin"}.get(backend, backend or "session")
    with transaction.atomic():
        audit_record(
            event_type="auth.login",
            tenant=user.tenant_id,
            actor=user,
            channel=Channel.WEB,
            status="ok",
            payload={"method": method, **client_meta(request)},
        )
