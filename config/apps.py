from django.contrib.admin.apps import AdminConfig

# Stock models the product does not use: sign-in is Google only, configured from settings (no SocialApp rows);
# roles live on the user (no groups); one site; e-mail addresses come from Google's verified claim.
UNUSED_ADMIN_MODELS = (
    "auth.Group",
    "sites.Site",
    "account.EmailAddress",
    "socialaccount.SocialAccount",
    "socialaccount.SocialApp",
    "socialaccount.SocialToken",
)


class OfficeAdminConfig(AdminConfig):
    """Django admin with the tenant-aware site (platform operators see all, tenant admins their own tenant)."""

    default_site = "config.admin_site.OfficeAdminSite"

    def ready(self) -> None:
        super().ready()  # autodiscover: every app's admin module has registered by now
        from django.apps import apps
        from django.contrib import admin

        for name in UNUSED_ADMIN_MODELS:
            model = apps.get_model(name)
            if admin.site.is_registered(model):
                admin.site.unregister(model)
