"""Websocket edge: the same tenant decision as TenantMiddleware, made once when the socket opens."""

from __future__ import annotations

import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier

from ops import logs
from tenants.middleware import resolve_tenant
from tenants.models import Tenant, User
from tenants.services import SignInRefused, log_refusal

logger = logging.getLogger("officeai.ws")


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


@database_sync_to_async
def _resolve(user_id: int | None, host: str) -> tuple[User | None, Tenant | None, SignInRefused | None]:
    if user_id is None:
        return None, None, None
    # Re-read the user: a deactivated user or tenant must not open new sockets on an old session.
    user = User.objects.select_related("tenant").filter(pk=user_id, is_active=True).first()
    if user is None:
        return None, None, None
    tenant, refusal = resolve_tenant(user=user, host=host)
    return user, tenant, refusal


class TenantScopeMiddleware:
    """Sets ``scope["tenant"]`` (and a fresh ``scope["user"]``); closes the handshake for anonymous users,
    users of inactive tenants and users on another tenant's hostname."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        # The socket's log lines (and the replies it starts, which copy this context) carry an id and the tenant.
        logs.request_id.set(logs.new_request_id())
        session_user = scope.get("user")
        user_id = session_user.pk if session_user is not None and session_user.is_authenticated else None
        host = _header(scope, b"host")
        user, tenant, refusal = await _resolve(user_id, host)
        if user is None or tenant is None:
            if refusal is not None:
                await database_sync_to_async(log_refusal)(
                    refusal=refusal,
                    where="websocket",
                    detail={"host": host, "user": user_id},
                    tenant=user.tenant_id if user is not None else None,
                )
            else:
                logger.info("websocket refused: not signed in (host=%s)", host)
            return await WebsocketDenier()(scope, receive, send)
        logs.tenant.set(tenant.slug)
        return await self.inner(dict(scope, user=user, tenant=tenant), receive, send)
