"""The Celery app. Broker is Redis when REDIS_URL is set; otherwise tasks run eagerly in-process (embedded mode)."""

import os

from celery import Celery
from celery.signals import setup_logging, task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("officeai")
app.config_from_object("django.conf:settings", namespace="CELERY")


@setup_logging.connect
def _config_loggers(*args: object, **kwargs: object) -> None:
    # Use Django's LOGGING instead of Celery's own root-logger setup.
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


_log_tokens: dict[str, object] = {}


@task_prerun.connect
def _task_log_context(task_id: str | None = None, **kwargs: object) -> None:
    # A task's log lines carry its id where a request's carry the request id; an eager task (inside a request)
    # gives the request its own id back when it ends.
    from ops import logs

    if task_id:
        _log_tokens[task_id] = logs.request_id.set(task_id)


@task_postrun.connect
def _task_log_context_end(task_id: str | None = None, **kwargs: object) -> None:
    from ops import logs

    token = _log_tokens.pop(task_id or "", None)
    if token is not None:
        logs.request_id.reset(token)  # type: ignore[arg-type]


app.autodiscover_tasks()
