"""Celery interface of attachments: thin, id in, service out."""

from __future__ import annotations

from celery import shared_task

from attachments import services


@shared_task(name=services.PROCESS_TASK, soft_time_limit=10 * 60, time_limit=11 * 60)
def attachment_process_task(attachment_id: int) -> None:
    services.attachment_process(attachment_id=attachment_id)


@shared_task
def attachments_expire_task() -> int:
    return services.attachments_expire()
