from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlackConfig(AppConfig):
    name = "slack"
    verbose_name = _("Slack")
