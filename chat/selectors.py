"""Reads of the chat app. Tenant-scoped reads take ``tenant=``; missing and foreign rows are the same 404."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.http import Http404

from chat.models import Conversation, Message, Notice, NoticeAcknowledgement
from tenants.models import Tenant, User


# --- Conversations ------------------------------------------------------------------------------------------------
def conversation_list(*, tenant: Tenant, user: User, query: str = "") -> QuerySet[Conversation]:
    """A person's web conversations, newest first; ``query`` searches titles and message text."""
    qs = Conversation.objects.filter(tenant=tenant, user=user, source=Conversation.Source.WEB)
    query = query.strip()
    if query:
        in_text = Message.objects.filter(tenant=tenant, conversation=OuterRef("pk"), content__icontains=query)
        qs = qs.filter(Q(title__icontains=query) | Exists(in_text))
    return qs.select_related("model_version").order_by("-updated_at", "-pk")


def conversation_get(*, tenant: Tenant, user: User, conversation_id: object) -> Conversation:
    """One of the person's conversations. Another user's or tenant's is the same 404 as a missing one."""
    try:
        return Conversation.objects.select_related("model_version").get(
            tenant=tenant,
            user=user,
            pk=int(conversation_id),  # type: ignore[call-overload]
        )
    except (Conversation.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def message_list(*, tenant: Tenant, conversation: Conversation) -> QuerySet[Message]:
    return Message.objects.filter(tenant=tenant, conversation=conversation).order_by("pk")


@dataclass(frozen=True)
class JoinState:
    """What a socket needs to watch a conversation: the running reply, and the saved end of one it followed."""

    conversation_id: int
    running: Message | None
    finished: Message | None  # the reply the socket followed (``after``), if it has ended since


def conversation_join_state(
    *, tenant: Tenant, user: User, conversation_id: object, after_message_id: int | None
) -> JoinState:
    """One database hop for ``chat.join``: the conversation (404 if not the person's), its running reply, and the
    reply the socket was following if that one has finished."""
    conversation = conversation_get(tenant=tenant, user=user, conversation_id=conversation_id)
    wanted = Q(status=Message.Status.STREAMING, role=Message.Role.ASSISTANT)
    if after_message_id is not None:
        wanted |= Q(pk=after_message_id)
    rows = list(message_list(tenant=tenant, conversation=conversation).filter(wanted))
    running = next((m for m in reversed(rows) if m.status == Message.Status.STREAMING), None)
    finished = next(
        (m for m in rows if m.pk == after_message_id and m.status != Message.Status.STREAMING and m != running),
        None,
    )
    return JoinState(conversation_id=conversation.pk, running=running, finished=finished)


def message_content(*, tenant: Tenant, message_id: int) -> str | None:
    """A message's text as saved (the relay's fallback when the reply buffer has expired)."""
    return Message.objects.filter(tenant=tenant, pk=message_id).values_list("content", flat=True).first()


def message_get(*, tenant: Tenant, conversation: Conversation, message_id: object) -> Message:
    try:
        return message_list(tenant=tenant, conversation=conversation).get(pk=int(message_id))  # type: ignore[call-overload]
    except (Message.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def notice_current(*, tenant: Tenant) -> Notice | None:
    """The tenant's own active notice, else the active global one."""
    return (
        Notice.objects.filter(Q(tenant=tenant) | Q(tenant__isnull=True), active=True)
        .order_by(F("tenant_id").desc(nulls_last=True))
        .first()
    )


def notice_acknowledged(*, user: User, notice: Notice) -> bool:
    return NoticeAcknowledgement.objects.filter(
        tenant_id=user.tenant_id, user=user, notice=notice, version=notice.version
    ).exists()


def answers_finished_between(*, start: datetime, end: datetime, tenant_id: int | None = None) -> Iterator[Message]:
    """Every finished answer started in [start, end), with its conversation, oldest first: ``usage_rebuild``
    counts them (of one tenant, or, for the operator's rebuild, of all)."""
    answers = Message.objects.filter(role=Message.Role.ASSISTANT, created_at__gte=start, created_at__lt=end).exclude(
        status=Message.Status.STREAMING
    )
    if tenant_id is not None:
        answers = answers.filter(tenant_id=tenant_id)
    return answers.select_related("conversation").order_by("pk").iterator(chunk_size=2000)


def answers_running_ids() -> list[int]:
    """Ids of the answers being written now, across tenants (the budget reconcile keeps their reservations)."""
    return list(Message.objects.filter(status=Message.Status.STREAMING).values_list("pk", flat=True))
