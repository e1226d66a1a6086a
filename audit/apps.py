from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit trail")

    def ready(self) -> None:
        from . import (
            signals,  # noqa: F401  (connects the auth and admin event receivers)
            tasks,  # noqa: F401  (registers the Celery tasks in every process; services queue them by name)
        )
