"""Celery interface of the chat app: thin, service out."""

from __future__ import annotations

from celery import shared_task


@shared_task
def chat_stale_replies_task() -> int:
    from chat.services import chat_stale_replies_close

    return chat_stale_replies_close()
