from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from tenants.models import Tenant, User


class TenantRequest(HttpRequest):
    """A request after ``TenantMiddleware``: ``tenant`` is the signed-in user's company (None when anonymous
    on a shared host)."""

    tenant: Tenant | None


class AuthedRequest(HttpRequest):
    """A request of a signed-in person (every view not marked ``login_not_required``)."""

    tenant: Tenant
    user: User
