from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _


class OfficeAdminSite(admin.AdminSite):
    """One admin console for two kinds of staff.

    Platform operators (superusers) manage everything. Tenant admins reach the same console, but every
    ModelAdmin they can open is a ``TenantScopedAdmin`` that narrows rows to their own tenant.
    """

    site_header = _("Office AI administration")
    site_title = _("Office AI admin")
    index_title = _("Administration")

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not (user.is_active and user.is_authenticated):
            return False
        return bool(user.is_superuser or getattr(user, "is_tenant_admin", False))

    def login(self, request: HttpRequest, extra_context: dict[str, object] | None = None) -> HttpResponse:
        # People sign in with Google only; the admin has no password form of its own.
        if request.user.is_authenticated:
            raise PermissionDenied  # signed in, but neither an operator nor a tenant admin
        url = reverse("account_login")
        next_url = request.GET.get("next") or reverse("admin:index")
        return HttpResponseRedirect(f"{url}?{urlencode({'next': next_url})}")
