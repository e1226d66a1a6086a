"""What the audit trail hears from other apps without them importing it:

* ``auth.login``: every successful sign-in (Google or the embedded dev sign-in);
* ``auth.login_refused``: every refused sign-in or handshake (``tenants.signals.sign_in_refused``);
* ``admin.<object>.<action>``: every admin console add, change and delete, with before/after
  (``tenants.signals.admin_object_loaded`` / ``admin_object_changed``, sent by tenants.admin_scoping).

Receivers run inside the sender's transaction, so the entry commits or rolls back with the change.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.db import models, transaction
from django.dispatch import receiver
from django.http import HttpRequest

from audit.models import Channel
from audit.services import audit_admin_change, audit_record, snapshot
from tenants.signals import admin_object_changed, admin_object_loaded, sign_in_refused


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


@receiver(sign_in_refused, dispatch_uid="officeai-audit-login-refused")
def _record_refusal(
    sender: Any, code: str, where: str, email: str, detail: dict[str, str], tenant: Any, **kwargs: Any
) -> None:
    audit_record(
        event_type="auth.login_refused",
        tenant=tenant,
        actor_email=email,
        channel=Channel.WEB,
        status=code,
        payload={"reason": code, "where": where, **detail},
    )


_BEFORE = "_officeai_audit_before"


def _key(obj: models.Model) -> tuple[str, str]:
    return obj._meta.label_lower, str(obj.pk)


@receiver(admin_object_loaded, dispatch_uid="officeai-audit-admin-before")
def _keep_before(sender: Any, request: HttpRequest, obj: models.Model, **kwargs: Any) -> None:
    if not hasattr(request, _BEFORE):
        setattr(request, _BEFORE, {})
    getattr(request, _BEFORE)[_key(obj)] = snapshot(obj)


@receiver(admin_object_changed, dispatch_uid="officeai-audit-admin-change")
def _record_admin_change(sender: Any, request: HttpRequest, obj: models.Model, action: str, **kwargs: Any) -> None:
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    if action == "deleted":
        before = snapshot(obj)
    else:
        before = getattr(request, _BEFORE, {}).get(_key(obj)) if action == "updated" else None
        after = snapshot(obj)
    audit_admin_change(actor=request.user, obj=obj, action=action, before=before, after=after)  # type: ignore[arg-type]
