"""Thin page views: home placeholder, health, refusal page and the embedded-mode dev sign-in."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from tenants.forms import DevSignInForm
from tenants.selectors import demo_user_list, user_get_active_by_email

if TYPE_CHECKING:
    from tenants.services import SignInRefused

logger = logging.getLogger("officeai.signin")


def render_refused(request: HttpRequest, refusal: SignInRefused) -> HttpResponse:
    """The one page every refused sign-in or request ends on: what happened, in the person's language."""
    return render(
        request, "tenants/refused.html", {"refusal_code": refusal.code, "refusal_message": refusal.message}, status=403
    )


@login_not_required
def google_login(request: HttpRequest) -> HttpResponse:
    """allauth's Google login when a client is configured; otherwise the sign-in page saying so (not a 500)."""
    if settings.SOCIALACCOUNT_PROVIDERS["google"]["APPS"]:
        from allauth.socialaccount.providers.google.views import oauth2_login

        return oauth2_login(request)
    response = render(request, "account/login.html", status=404)
    return response


@login_not_required
@require_http_methods(["GET", "POST"])
def dev_signin(request: HttpRequest) -> HttpResponse:
    """Sign in as a seeded user without Google. Exists only in the embedded mode (OFFICE_AI_DEV_SIGNIN)."""
    if not settings.OFFICE_AI_DEV_SIGNIN:
        raise Http404
    form = DevSignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = user_get_active_by_email(email=form.cleaned_data["email"])
        if user is None:
            form.add_error("email", _("No active user with this email address in an active company."))
        else:
            login(request, user, backend="tenants.backends.TenantModelBackend")
            logger.info("dev sign-in user=%s tenant=%s", user.pk, user.tenant.slug)
            target = request.GET.get("next") or ""
            safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False)
            return redirect(target if target and safe else "home")  # never off-site (open redirect)
    return render(request, "tenants/dev_signin.html", {"form": form, "users": demo_user_list()[:50]})
