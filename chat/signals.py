"""Sessions follow the account; conversations follow a retired model version to its successor.

Deactivating a company or a person, or signing out, ends their open chat sockets in
every daphne process: one channel-layer group message (per person, per company) once the change is committed. Turns
re-check the account as well (``chat.services.account_check``), so nothing starts in between."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from chat.groups import tenant_group, user_group
from chat.services import conversations_model_replace
from llm.models import ModelVersion
from llm.signals import model_version_replaced
from tenants.models import Tenant, User


def end_sessions(group: str, reason: str) -> None:
    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(group, {"type": "session.end", "reason": reason})

    transaction.on_commit(send, robust=True)


@receiver(post_save, sender=User, dispatch_uid="officeai-chat-user-inactive")
def _user_saved(sender: Any, instance: User, created: bool, **kwargs: Any) -> None:
    if not created and not instance.is_active:
        end_sessions(user_group(instance.pk), "user_inactive")


@receiver(post_save, sender=Tenant, dispatch_uid="officeai-chat-tenant-inactive")
def _tenant_saved(sender: Any, instance: Tenant, created: bool, **kwargs: Any) -> None:
    if not created and not instance.is_active:
        end_sessions(tenant_group(instance.pk), "tenant_inactive")


@receiver(user_logged_out, dispatch_uid="officeai-chat-signed-out")
def _signed_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None and user.pk is not None:
        end_sessions(user_group(user.pk), "signed_out")


@receiver(model_version_replaced, dispatch_uid="officeai-chat-model-replaced")
def _model_replaced(sender: Any, old: ModelVersion, new: ModelVersion, tenant_ids: set[int], **kwargs: Any) -> int:
    return conversations_model_replace(old=old, new=new, tenant_ids=tenant_ids)
