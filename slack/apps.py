from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlackConfig(AppConfig):
    name = "slack"
    verbose_name = _("Slack")

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (registers the Celery tasks in every process; services queue them by name)
