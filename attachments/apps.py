from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AttachmentsConfig(AppConfig):
    name = "attachments"
    verbose_name = _("Attachments")

    def ready(self) -> None:
        from audit.export import use_file_source

        from . import (
            signals,  # noqa: F401  (files go with their rows)
            tasks,  # noqa: F401  (registers the Celery tasks in every process)
        )
        from .services import files_for_export

        use_file_source(files_for_export)  # audit exports may carry the files (audit sits below this app)
