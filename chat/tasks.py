"""Celery interface of the chat app: thin, service out."""

from __future__ import annotations

from celery import shared_task


@shared_task
def chat_stale_replies_task() -> int:
    from chat.services import chat_stale_replies_close

    return chat_stale_replies_close()


@shared_task
def chat_usage_reconcile_task() -> list[int]:
    """Every few minutes: budget counters back to the rollup, reservations of dead answers released."""
    from chat.selectors import answers_running_ids
    from usage.services import usage_reconcile

    return list(usage_reconcile(running=answers_running_ids()))
