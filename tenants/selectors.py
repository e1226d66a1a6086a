"""Reads of tenants and users. Tenant-scoped reads take ``tenant=`` and treat missing and foreign rows alike."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from tenants.models import Tenant, TenantDomain, TenantHostname, User


def normalize_host(host: str) -> str:
    """``Example.COM:8000`` -> ``example.com``; IPv6 literals keep their brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def tenant_get_for_hostname(*, hostname: str) -> Tenant | None:
    """The tenant that owns this hostname, or None for a shared host (inactive tenants included)."""
    row = TenantHostname.objects.select_related("tenant").filter(hostname=normalize_host(hostname)).first()
    return row.tenant if row else None


def tenant_get_for_google_domain(*, domain: str) -> Tenant | None:
    row = TenantDomain.objects.select_related("tenant").filter(domain=domain.strip().lower()).first()
    return row.tenant if row else None


def user_list(*, tenant: Tenant) -> QuerySet[User]:
    return User.objects.filter(tenant=tenant).select_related("tenant").order_by("email")


def user_get(*, tenant: Tenant, user_id: int) -> User:
    """The user of this tenant; another tenant's user is the same 404 as a missing one."""
    try:
        return user_list(tenant=tenant).get(pk=user_id)
    except (User.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def user_get_active_by_email(*, email: str) -> User | None:
    """For the dev sign-in only: an active user of an active tenant."""
    return (
        User.objects.select_related("tenant")
        .filter(email=email.strip().lower(), is_active=True, tenant__is_active=True)
        .first()
    )


def demo_user_list() -> QuerySet[User]:
    """Users offered on the dev sign-in page (embedded mode only)."""
    return (
        User.objects.select_related("tenant")
        .filter(is_active=True, tenant__is_active=True)
        .order_by("tenant__name", "email")
    )


def tenant_domain_list(*, tenant_id: int) -> list[str]:
    return list(TenantDomain.objects.filter(tenant_id=tenant_id).order_by("domain").values_list("domain", flat=True))


def tenant_owns_email(*, tenant_id: int, email: str) -> bool:
    """The address is in one of the company's Google Workspace domains (the only people who can sign in to it)."""
    domain = email.rsplit("@", 1)[-1].strip().lower()
    return TenantDomain.objects.filter(tenant_id=tenant_id, domain=domain).exists()


def tenant_admin_emails(*, tenant_id: int) -> list[str]:
    """Whom a person of the company asks for more (a budget that ran out): its active administrators."""
    return list(
        User.objects.filter(tenant_id=tenant_id, role=User.Role.TENANT_ADMIN, is_active=True)
        .order_by("email")
        .values_list("email", flat=True)
    )
