"""HTTP edge: resolve the tenant once per request and refuse a user on another tenant's hostname."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from ops import logs
from tenants.models import Tenant, User
from tenants.selectors import tenant_get_for_hostname
from tenants.services import SignInRefused, log_refusal
from tenants.views import render_refused


def resolve_tenant(*, user: object, host: str) -> tuple[Tenant | None, SignInRefused | None]:
    """The one decision both edges (HTTP and websocket) make: which tenant, or why not.

    A tenant hostname serves only its tenant; other allowed hosts are shared. A signed-in user always works in
    their own tenant, and only while that tenant is active.
    """
    host_tenant = tenant_get_for_hostname(hostname=host)
    if isinstance(user, User) and user.is_authenticated:
        if not user.tenant.is_active:
            return None, SignInRefused("tenant_inactive")
        if host_tenant is not None and host_tenant.pk != user.tenant_id:
            return None, SignInRefused("wrong_host")
        return user.tenant, None
    if host_tenant is not None and not host_tenant.is_active:
        return None, SignInRefused("tenant_inactive")
    return host_tenant, None


class TenantMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant, refusal = resolve_tenant(user=request.user, host=request.get_host())
        if refusal is not None:
            log_refusal(
                refusal=refusal,
                where="http",
                tenant=getattr(request.user, "tenant_id", None),
                detail={"host": request.get_host(), "user": getattr(request.user, "pk", None), "path": request.path},
            )
            if refusal.code == "tenant_inactive" and request.user.is_authenticated:
                logout(request)  # deactivated mid-session: the session ends here
            return render_refused(request, refusal)
        request.tenant = tenant  # type: ignore[attr-defined]
        if tenant is not None:
            logs.tenant.set(tenant.slug)  # in every log line of this request (RequestContextMiddleware resets it)
        return self.get_response(request)
