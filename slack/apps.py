from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlackConfig(AppConfig):
    name = "slack"
    verbose_name = _("Slack")

    def ready(self) -> None:
        from ops.metrics import register_db_gauge

        from . import tasks  # noqa: F401  (registers the Celery tasks in every process; services queue them by name)
        from .selectors import slack_event_counts

        register_db_gauge("officeai_slack_events", "Slack events by state", ["state"], slack_event_counts)
