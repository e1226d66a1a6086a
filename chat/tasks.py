"""Celery interface of the chat app: thin, service out."""

from __future__ import annotations

from celery import shared_task

from chat.services import TITLE_TASK


@shared_task
def chat_stale_replies_task() -> int:
    from chat.services import chat_stale_replies_close

    return chat_stale_replies_close()


@shared_task(name=TITLE_TASK, soft_time_limit=60, time_limit=90)
def conversation_title_task(tenant_id: int, conversation_id: int, answer_id: int) -> str:
    """After a web conversation's first good answer (chat.services.TITLE_TASK): the model names it. No retry: a
    failure keeps the first words."""
    from chat.titles import conversation_title_make

    return conversation_title_make(tenant_id=tenant_id, conversation_id=conversation_id, answer_id=answer_id)


@shared_task
def chat_usage_reconcile_task() -> list[int]:
    """Every few minutes: budget counters back to the rollup, reservations of dead answers released."""
    from chat.selectors import answers_running_ids
    from usage.services import usage_reconcile

    return list(usage_reconcile(running=answers_running_ids()))
