"""What keeps every open page's sidebar true: ``conversation.updated`` and ``folders.updated`` frames
(docs/websocket-protocol.md) to every socket of one person, on every daphne process.

* **One frame per change**, built when the change is made (from the row as the change left it) and sent through the
  channel layer to the person's group (``user-<id>``, ``chat.groups``) once the change's transaction commits: never
  for a rolled-back change, never from inside a transaction.
* **Only web conversations**: the sidebar lists those. Slack threads never produce a frame.
* **Never waits on the event loop.** Code that runs for an event loop (``relay.db_async``, a sync view under daphne)
  hands the send to that loop and returns; a chat turn or a finished answer is not held up by a channel-layer
  round trip. Elsewhere (Celery, the test client) the send runs to its end on a loop of its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from concurrent.futures import Future
from datetime import datetime
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from chat.groups import user_group
from chat.models import Conversation, Folder

logger = logging.getLogger("officeai.chat")

USER_EVENT = "user.event"  # channel-layer message type; ChatConsumer.user_event sends its ``event`` as a frame


def conversation_state(
    *, conversation_id: int, title: str, updated_at: datetime, pinned: bool, folder_id: int | None, source: str
) -> dict[str, Any]:
    """A conversation as the sidebar shows it (the ``conversation`` of ``conversation.updated``)."""
    return {
        "id": conversation_id,
        "title": title,
        "updated_at": updated_at.isoformat(),
        "pinned": bool(pinned),
        "folder_id": folder_id,
        "source": source,
    }


def conversation_changed_on_commit(
    *,
    user_id: int | None,
    source: str,
    conversation_id: int,
    title: str,
    updated_at: datetime,
    pinned: bool,
    folder_id: int | None,
    reload: bool = False,
) -> bool:
    """``conversation.updated`` with these values, to the owner's sockets after commit. Only a person's web
    conversations are in a sidebar: returns whether this one is (and so was sent). ``reload``: its messages changed
    other than by a turn (another version shown): a page showing it reads it again."""
    if user_id is None or source != Conversation.Source.WEB:
        return False
    state = conversation_state(
        conversation_id=conversation_id,
        title=title,
        updated_at=updated_at,
        pinned=pinned,
        folder_id=folder_id,
        source=source,
    )
    event: dict[str, Any] = {"type": "conversation.updated", "conversation": state}
    if reload:
        event["reload"] = True
    user_event_on_commit(user_id=user_id, event=event)
    return True


def conversation_updated_on_commit(conversation: Conversation, *, reload: bool = False) -> None:
    """``conversation.updated`` with the conversation as it is now, to its owner's sockets after commit."""
    conversation_changed_on_commit(
        reload=reload,
        user_id=conversation.user_id,
        source=conversation.source,
        conversation_id=conversation.pk,
        title=conversation.title,
        updated_at=conversation.updated_at,
        pinned=conversation.pinned,
        folder_id=conversation.folder_id,
    )


def conversation_deleted_on_commit(conversation: Conversation) -> None:
    """``conversation.updated`` saying the conversation is gone (call before deleting: the id is read here)."""
    if conversation.user_id is None or conversation.source != Conversation.Source.WEB:
        return
    event = {"type": "conversation.updated", "conversation": {"id": conversation.pk, "deleted": True}}
    user_event_on_commit(user_id=conversation.user_id, event=event)


def folder_state(folder: Folder) -> dict[str, Any]:
    return {"id": folder.pk, "name": folder.name, "position": folder.position}


def folders_updated_on_commit(*, user_id: int, folders: Iterable[Folder]) -> None:
    """``folders.updated`` with the person's folders in order (created, renamed, moved or deleted)."""
    event = {"type": "folders.updated", "folders": [folder_state(f) for f in folders]}
    user_event_on_commit(user_id=user_id, event=event)


def user_event_on_commit(*, user_id: int, event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: user_event_send(user_id=user_id, event=event), robust=True)


def user_event_send(*, user_id: int, event: dict[str, Any]) -> None:
    """One ``group_send`` of ``event`` to every socket of the person (now: call it after commit)."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": USER_EVENT, "event": event}
    loop = _loop_of_this_thread()
    if loop is None:
        async_to_sync(layer.group_send)(user_group(user_id), message)
        return
    send = layer.group_send(user_group(user_id), message)
    try:
        sent = asyncio.run_coroutine_threadsafe(send, loop)
    except RuntimeError:  # the loop closed meanwhile (shutdown): nobody is left to tell
        send.close()
        return
    sent.add_done_callback(_report)


def _loop_of_this_thread() -> asyncio.AbstractEventLoop | None:
    """The running event loop this thread does sync work for (asgiref's ``sync_to_async``, which ``relay.db_async``
    and daphne's sync views use), if any: the loop ``async_to_sync`` would also run the send on, but waiting."""
    local = SyncToAsync.threadlocal
    loop: asyncio.AbstractEventLoop | None = getattr(local, "main_event_loop", None)
    if loop is None or getattr(local, "main_event_loop_pid", None) != os.getpid() or not loop.is_running():
        return None
    return loop


def _report(sent: Future[None]) -> None:
    if not sent.cancelled() and sent.exception() is not None:
        logger.warning("sidebar event not sent", exc_info=sent.exception())
