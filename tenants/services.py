"""Writes for tenants and users, and the server-side decision of which tenant a Google identity belongs to."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from tenants.models import Tenant, TenantDomain, User
from tenants.selectors import tenant_get_for_google_domain, tenant_owns_email
from tenants.signals import sign_in_refused

logger = logging.getLogger("officeai.signin")


class SignInRefused(Exception):  # noqa: N818 - a refusal, not a programming error
    """A sign-in that must not go through. ``code`` is stable (logs, tests); ``message`` is for the person."""

    MESSAGES: Mapping[str, Any] = {
        "hd_missing": _(
            "Sign in with your company's Google Workspace account. Personal Google accounts cannot use Office AI."
        ),
        "hd_unknown": _("The Google Workspace domain “%(domain)s” is not registered with Office AI."),
        "tenant_inactive": _("Office AI is currently disabled for your company. Ask your administrator."),
        "email_unverified": _("Google has not verified the email address of this account."),
        "email_missing": _("Google did not share an email address for this account."),
        "email_domain_mismatch": _(
            "The email address “%(email)s” does not belong to the Google Workspace domain “%(domain)s”."
        ),
        "other_tenant": _(
            "This account belongs to another company in Office AI and cannot sign in here. Ask your administrator."
        ),
        "user_inactive": _("This account has been deactivated. Ask your administrator."),
        "wrong_host": _("This address belongs to another company. Open Office AI at your own company's address."),
    }

    def __init__(self, code: str, **params: str) -> None:
        super().__init__(code)
        self.code = code
        self.params = params

    @property
    def message(self) -> str:
        return str(self.MESSAGES[self.code]) % self.params if self.params else str(self.MESSAGES[self.code])


@dataclass(frozen=True)
class GoogleIdentity:
    tenant: Tenant
    email: str
    hosted_domain: str


def _claim_true(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def google_identity_resolve(*, claims: Mapping[str, Any]) -> GoogleIdentity:
    """Decide the tenant from the ID token's claims, never from what the browser asked for.

    ``hd`` must be a registered domain of an active tenant, the email must be verified by Google and its
    domain must belong to that same tenant. ``hd`` in the auth request is only a hint to Google's chooser.
    """
    hosted_domain = str(claims.get("hd") or "").strip().lower()
    if not hosted_domain:
        raise SignInRefused("hd_missing")
    tenant = tenant_get_for_google_domain(domain=hosted_domain)
    if tenant is None:
        raise SignInRefused("hd_unknown", domain=hosted_domain)
    if not tenant.is_active:
        raise SignInRefused("tenant_inactive")
    email = str(claims.get("email") or "").strip().lower()
    if not email or "@" not in email:
        raise SignInRefused("email_missing")
    if not (_claim_true(claims.get("email_verified")) or _claim_true(claims.get("verified_email"))):
        raise SignInRefused("email_unverified")
    email_domain = email.rsplit("@", 1)[1]
    if email_domain != hosted_domain and not TenantDomain.objects.filter(tenant=tenant, domain=email_domain).exists():
        raise SignInRefused("email_domain_mismatch", email=email, domain=hosted_domain)
    return GoogleIdentity(tenant=tenant, email=email, hosted_domain=hosted_domain)


def user_check_may_sign_in(*, user: User, identity: GoogleIdentity) -> None:
    """An existing user signs in only into the tenant they already belong to: nobody is ever moved."""
    if user.tenant_id != identity.tenant.id:
        raise SignInRefused("other_tenant")
    if not user.is_active:
        raise SignInRefused("user_inactive")


def log_refusal(
    *,
    refusal: SignInRefused,
    where: str,
    detail: Mapping[str, object] | None = None,
    tenant: Tenant | int | None = None,
) -> None:
    """Log a refusal and announce it (``tenants.signals.sign_in_refused``: the audit trail records
    ``auth.login_refused``, on the tenant's chain when one is known)."""
    info = {k: v for k, v in dict(detail or {}).items() if v is not None}
    logger.warning("sign-in refused code=%s where=%s detail=%s", refusal.code, where, info)
    with transaction.atomic():
        sign_in_refused.send(
            sender=SignInRefused,
            code=refusal.code,
            where=where,
            email=str(info.get("email") or ""),
            detail={k: str(v) for k, v in info.items()},
            tenant=tenant,
        )


# --- Writes -------------------------------------------------------------------------------------------------------
@transaction.atomic
def tenant_create(*, name: str, slug: str, domains: Iterable[str] = (), is_active: bool = True) -> Tenant:
    tenant = Tenant.objects.create(name=name, slug=slug, is_active=is_active)
    for domain in domains:
        TenantDomain.objects.create(tenant=tenant, domain=domain.strip().lower())
    return tenant


@transaction.atomic
def tenant_save(*, tenant: Tenant, acting_user: User) -> Tenant:
    """Save a company edited in the admin console. Platform operators only; the admin records the audit entry, with
    the company's domains, in the same transaction once its inlines are saved."""
    if not acting_user.is_superuser:
        raise PermissionDenied("only platform operators manage companies")
    tenant.slug = tenant.slug.strip().lower()
    tenant.save()
    return tenant


def _check_acting_user(*, acting_user: User | None, user: User) -> None:
    if acting_user is None or acting_user.is_superuser:
        return
    if not acting_user.is_tenant_admin or acting_user.tenant_id != user.tenant_id:
        raise PermissionDenied("not allowed to manage users of this company")
    if user.is_superuser:
        raise PermissionDenied("only platform operators manage platform operators")


@transaction.atomic
def user_create(
    *,
    tenant: Tenant,
    email: str,
    role: str = User.Role.MEMBER,
    first_name: str = "",
    last_name: str = "",
    is_superuser: bool = False,
    acting_user: User | None = None,
) -> User:
    user = User(
        tenant=tenant,
        email=email.strip().lower(),
        role=role,
        first_name=first_name,
        last_name=last_name,
        is_superuser=is_superuser,
        is_staff=is_superuser,
    )
    _check_acting_user(acting_user=acting_user, user=user)
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    return user


@transaction.atomic
def user_save(*, user: User, acting_user: User, changed: Iterable[str]) -> User:
    """Save a user edited in the admin console (new or existing) within the acting user's powers."""
    if not acting_user.is_superuser:
        # Tenant admins can neither move people between tenants nor grant platform powers.
        user.tenant_id = acting_user.tenant_id
        if user.pk:
            stored = User.objects.only("is_superuser").get(pk=user.pk)
            user.is_superuser = stored.is_superuser
        else:
            user.is_superuser = False
    user.email = user.email.strip().lower()
    if not acting_user.is_superuser and not tenant_owns_email(tenant_id=user.tenant_id, email=user.email):
        # Someone of another company, created here, would be locked out of their own company at Google sign-in.
        raise PermissionDenied("company admins add people of their company's domains only")
    user.is_staff = user.is_superuser
    _check_acting_user(acting_user=acting_user, user=user)
    if not user.pk and not user.password:
        user.set_unusable_password()
    user.save()
    return user
