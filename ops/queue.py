"""One way to queue work after a commit: audit chaining, audit exports and Slack events all use it.

- **By name.** A service queues its own app's task by name (``current_app.tasks[name]``): the task module imports
  the service, so the service does not import it back (docs/architecture.md).
- **After commit.** The job is sent once the transaction that made its row commits, never for a rolled-back one.
- **Never fails the request.** A broker that is down is logged and handed to ``on_failure``. Every job also has a
  beat sweep that picks up rows left unqueued (the audit outbox, stranded Slack events), so nothing is lost.
- **Off the request thread, optionally.** With ``off_thread`` the send runs on one background publisher thread,
  so a slow broker cannot hold up a request or a streaming reply. Embedded mode (eager Celery) runs the job in
  place either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from celery import current_app
from django.db import transaction

logger = logging.getLogger("officeai.queue")

_publisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="queue-publish")


def send(name: str, *args: Any, on_failure: Callable[[Exception], None] | None = None) -> bool:
    """Send the task now. False (after logging and ``on_failure``) when the broker did not take it."""
    try:
        current_app.tasks[name].apply_async(args)
    except Exception as exc:  # any broker or registry failure is handled the same way
        logger.warning("could not queue %s%r; its sweep will pick it up", name, args, exc_info=True)
        if on_failure is not None:
            on_failure(exc)
        return False
    return True


def enqueue_on_commit(
    name: str, *args: Any, on_failure: Callable[[Exception], None] | None = None, off_thread: bool = False
) -> None:
    """Queue task ``name`` with ``args`` once the current transaction commits (at once outside one)."""

    def after_commit() -> None:
        if off_thread and not current_app.conf.task_always_eager:
            _publisher.submit(send, name, *args, on_failure=on_failure)
        else:
            send(name, *args, on_failure=on_failure)

    transaction.on_commit(after_commit, robust=True)


def drain(timeout: float = 10.0) -> None:
    """Wait until every off-thread send submitted so far has run (tests, graceful shutdown)."""
    _publisher.submit(lambda: None).result(timeout=timeout)
