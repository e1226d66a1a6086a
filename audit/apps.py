from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit trail")

    def ready(self) -> None:
        from ops.metrics import register_db_gauge

        from .hashing import digest_public_key, hmac_keys

        # Malformed audit keys stop every process at start, not the first audit write hours later.
        hmac_keys()
        digest_public_key()

        from . import (
            signals,  # noqa: F401  (connects the auth and admin event receivers)
            tasks,  # noqa: F401  (registers the Celery tasks in every process; services queue them by name)
        )
        from .selectors import audit_chain_lag, audit_outbox_backlog

        register_db_gauge("officeai_audit_outbox_backlog", "Audit events not yet chained", [], audit_outbox_backlog)
        register_db_gauge(
            "officeai_audit_chain_lag_seconds", "Age of the oldest audit event not yet chained", [], audit_chain_lag
        )
