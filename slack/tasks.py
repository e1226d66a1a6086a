"""Celery interface of the Slack door: thin, service out."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from slack.services import (
    PROCESS_TASK,
    SlackUnavailable,
    slack_event_fail,
    slack_event_process,
    slack_stranded_requeue,
    task_time_limits,
)

SLACK_RETRY_DELAYS = (5, 30, 120)  # seconds; then the event is kept as failed for slack_reprocess


SOFT_LIMIT, HARD_LIMIT = task_time_limits()


@shared_task(
    name=PROCESS_TASK,
    bind=True,
    acks_late=True,
    max_retries=len(SLACK_RETRY_DELAYS),
    soft_time_limit=SOFT_LIMIT,
    time_limit=HARD_LIMIT,
)
def slack_event_process_task(self: Any, event_pk: int) -> str:
    try:
        return slack_event_process(event_pk=event_pk)
    except SlackUnavailable as exc:
        if self.request.retries >= self.max_retries:
            slack_event_fail(event_pk=event_pk, error=str(exc))
            return "failed"
        countdown = SLACK_RETRY_DELAYS[self.request.retries]
        if self.request.is_eager:  # embedded mode, no broker: the retry runs at once, in place
            return self.retry(exc=exc, countdown=countdown, throw=False)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task
def slack_stranded_requeue_task() -> int:
    return slack_stranded_requeue()
