"""The Celery app. Broker is Redis when REDIS_URL is set; otherwise tasks run eagerly in-process (embedded mode)."""

import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("officeai")
app.config_from_object("django.conf:settings", namespace="CELERY")


@setup_logging.connect
def _config_loggers(*args: object, **kwargs: object) -> None:
    # Use Django's LOGGING instead of Celery's own root-logger setup.
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


app.autodiscover_tasks()
