"""A deleted attachment row (its own delete, its conversation's, retention) takes its stored files with it, once
the deletion commits."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from attachments.models import Attachment


@receiver(post_delete, sender=Attachment, dispatch_uid="officeai-attachment-files")
def _files_go_with_the_row(sender: Any, instance: Attachment, **kwargs: Any) -> None:
    from attachments.services import attachment_storage

    names = [n for n in (instance.stored_name, instance.derived_name) if n]

    def remove() -> None:
        storage = attachment_storage()
        for name in names:
            storage.delete(name)

    transaction.on_commit(remove, robust=True)
