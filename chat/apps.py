from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = _("Chat")

    def ready(self) -> None:
        from audit.display import use_renderers

        from . import (
            signals,  # noqa: F401  (sessions follow the account)
            tasks,  # noqa: F401  (registers the Celery tasks in every process; services queue them by name)
        )
        from .rendering import render_markdown, render_plain

        # The audit entry page shows prompts and answers as the chat does, sanitised the same way.
        use_renderers(markdown=render_markdown, plain=render_plain)
