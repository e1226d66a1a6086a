from django.contrib.admin.apps import AdminConfig


class OfficeAdminConfig(AdminConfig):
    """Django admin with the tenant-aware site (platform operators see all, tenant admins their own tenant)."""

    default_site = "config.admin_site.OfficeAdminSite"
