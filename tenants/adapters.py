"""allauth adapters: Google only, and the tenant decided server-side from the ID token on every sign-in."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django.db import transaction
from django.http import HttpRequest

from tenants.models import User
from tenants.selectors import tenant_get_for_google_domain
from tenants.services import (
    GoogleIdentity,
    SignInRefused,
    google_identity_resolve,
    log_refusal,
    user_check_may_sign_in,
)
from tenants.views import render_refused

_IDENTITY_ATTR = "_officeai_google_identity"


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # No local accounts: the only way to a new user is a vetted Google sign-in (SocialAccountAdapter).
        return False


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        """Runs on every Google sign-in, new or returning, before anything is created or logged in."""
        claims: dict[str, Any] = dict(sociallogin.account.extra_data or {})
        detail = {"hd": claims.get("hd"), "email": claims.get("email"), "sub": claims.get("sub")}
        try:
            identity = google_identity_resolve(claims=claims)
            user = sociallogin.user if sociallogin.is_existing else None
            if user is None:
                user = User.objects.filter(email=identity.email).first()
            if user is not None and user.pk:
                user_check_may_sign_in(user=user, identity=identity)
        except SignInRefused as refusal:
            known = tenant_get_for_google_domain(domain=str(claims.get("hd") or ""))
            log_refusal(refusal=refusal, where="google", detail=detail, tenant=known)
            raise ImmediateHttpResponse(render_refused(request, refusal)) from None
        setattr(request, _IDENTITY_ATTR, identity)

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        # pre_social_login has already refused anything that does not map to an active tenant.
        return getattr(request, _IDENTITY_ATTR, None) is not None

    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form: Any = None) -> User:
        """A first sign-in: the new user joins the tenant that pre_social_login resolved from the ID token."""
        identity: GoogleIdentity = getattr(request, _IDENTITY_ATTR)
        new_user: User = sociallogin.user
        new_user.tenant = identity.tenant
        new_user.email = identity.email
        new_user.role = User.Role.MEMBER
        # User, email address and social account rows are created together or not at all.
        with transaction.atomic():
            user: User = super().save_user(request, sociallogin, form)
        return user
