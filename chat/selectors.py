"""Reads of the chat app. Tenant-scoped reads take ``tenant=``; missing and foreign rows are the same 404."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Min, Q, QuerySet
from django.http import Http404

from chat.models import Conversation, Feedback, Folder, Message, Notice, NoticeAcknowledgement
from chat.search import messages_matching, normalize, snippet_for
from tenants.models import Tenant, User


# --- Conversations ------------------------------------------------------------------------------------------------
def conversation_list(*, tenant: Tenant, user: User, query: str = "") -> QuerySet[Conversation]:
    """A person's web conversations, pinned ones first, then newest first; ``query`` searches titles and message
    text."""
    qs = Conversation.objects.filter(tenant=tenant, user=user, source=Conversation.Source.WEB)
    query = query.strip()
    if query:
        # Message text through chat.search: the GIN index on PostgreSQL, icontains elsewhere (docs/search.md).
        # Only what the page shows: earlier versions of edited questions and regenerated answers are not found.
        mine = Message.objects.filter(tenant=tenant, conversation__user=user, superseded=False)
        in_text = messages_matching(mine, query).values("conversation_id")
        qs = qs.filter(Q(title__icontains=query) | Q(pk__in=in_text))
    return qs.select_related("model_version").order_by("-pinned", "-updated_at", "-pk")


@dataclass(frozen=True)
class SearchHit:
    match: str  # "title" when the title matched (a message may too), else "message"
    snippet: str  # ~120 characters of the first matching message around the first hit; "" if none matched


def conversation_search_hits(
    *, tenant: Tenant, conversations: Sequence[Conversation], query: str
) -> dict[int, SearchHit]:
    """Why each of these conversations (``conversation_list`` results for ``query``) was found, by id: one query for
    the first matching message of each. Empty without a query."""
    query = query.strip()
    if not query or not conversations:
        return {}
    ids = [c.pk for c in conversations]
    first = (
        messages_matching(Message.objects.filter(tenant=tenant, conversation_id__in=ids, superseded=False), query)
        .values("conversation_id")
        .annotate(first=Min("pk"))
        .values("first")
    )
    texts = dict(Message.objects.filter(tenant=tenant, pk__in=first).values_list("conversation_id", "content"))
    folded = normalize(query)
    hits = {}
    for c in conversations:
        text = texts.get(c.pk)
        in_title = folded in normalize(c.title) or text is None
        hits[c.pk] = SearchHit(
            match="title" if in_title else "message", snippet=snippet_for(text, query) if text is not None else ""
        )
    return hits


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


def conversation_get_for_update(*, tenant: Tenant, user: User, conversation_id: object) -> Conversation:
    """``conversation_get`` with the row locked until the caller's transaction ends (a change and the frame that
    tells the sidebar about it see the same row). The same 404 for missing and foreign."""
    try:
        return Conversation.objects.select_for_update().get(
            tenant=tenant,
            user=user,
            pk=int(conversation_id),  # type: ignore[call-overload]
        )
    except (Conversation.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def folder_list(*, tenant: Tenant, user: User) -> QuerySet[Folder]:
    """A person's folders in their order."""
    return Folder.objects.filter(tenant=tenant, user=user).order_by("position", "name", "pk")


def folder_get(*, tenant: Tenant, user: User, folder_id: object, for_update: bool = False) -> Folder:
    """One of the person's folders (locked with ``for_update``). Another user's or tenant's is the same 404 as a
    missing one."""
    folders = folder_list(tenant=tenant, user=user)
    if for_update:
        folders = folders.select_for_update()
    try:
        if isinstance(folder_id, bool):
            raise TypeError
        return folders.get(pk=int(folder_id))  # type: ignore[call-overload]
    except (Folder.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


@dataclass(frozen=True)
class TitleSubject:
    """What a model title is made from: the conversation as it was when asked, its first question and answer."""

    conversation: Conversation  # with ``user`` and ``tenant``
    question: str
    answer: str
    model_version_id: int


def title_subject(*, tenant_id: int, conversation_id: int, answer_id: int) -> TitleSubject | None:
    """The conversation to title, if it still wants a model title: a web conversation whose title is still its
    first words, of an active person of an active company, with the answer ``answer_id`` finished OK. Else None."""
    conversation = (
        Conversation.objects.select_related("user", "tenant")
        .filter(
            tenant_id=tenant_id,
            pk=conversation_id,
            source=Conversation.Source.WEB,
            title_source=Conversation.TitleSource.FIRST_WORDS,
            user__is_active=True,
            user__tenant_id=tenant_id,
            tenant__is_active=True,
        )
        .first()
    )
    if conversation is None:
        return None
    answer = Message.objects.filter(
        tenant_id=tenant_id,
        conversation=conversation,
        pk=answer_id,
        role=Message.Role.ASSISTANT,
        status__in=(Message.Status.OK, Message.Status.LENGTH),
    ).first()
    if answer is None or answer.model_version_id is None or answer.parent_id is None:
        return None
    question = (
        Message.objects.filter(tenant_id=tenant_id, conversation=conversation, pk=answer.parent_id)
        .values_list("content", flat=True)
        .first()
    )
    if not question:
        return None
    return TitleSubject(
        conversation=conversation, question=question, answer=answer.content, model_version_id=answer.model_version_id
    )


def message_list(*, tenant: Tenant, conversation: Conversation) -> QuerySet[Message]:
    # search_text (as long as the text again) is only for the search index: not read with the messages.
    return Message.objects.filter(tenant=tenant, conversation=conversation).defer("search_text").order_by("pk")


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


def message_active_tail_id(*, tenant: Tenant, conversation: Conversation) -> int | None:
    """The last message of the conversation's active path: what a new question follows (``chat.branches``)."""
    active = Message.objects.filter(tenant=tenant, conversation=conversation, superseded=False)
    return active.order_by("-pk").values_list("pk", flat=True).first()


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
    counts them (of one tenant, or, for the operator's rebuild, of all). Answers imported from chatbot-ui
    (``usage={"imported": true}``, chat.importer) were never answered here and are not counted."""
    answers = (
        Message.objects.filter(role=Message.Role.ASSISTANT, created_at__gte=start, created_at__lt=end)
        .exclude(status=Message.Status.STREAMING)
        .exclude(usage__has_key="imported")
    )
    if tenant_id is not None:
        answers = answers.filter(tenant_id=tenant_id)
    return answers.select_related("conversation").order_by("pk").iterator(chunk_size=2000)


def answers_running_ids() -> list[int]:
    """Ids of the answers being written now, across tenants (the budget reconcile keeps their reservations)."""
    return list(Message.objects.filter(status=Message.Status.STREAMING).values_list("pk", flat=True))


def answer_get(*, tenant: Tenant, user: User, message_id: object) -> Message:
    """One answer in one of the person's conversations; anything else is the same 404 as a missing one."""
    try:
        return Message.objects.get(
            tenant=tenant,
            conversation__user=user,
            role=Message.Role.ASSISTANT,
            pk=int(message_id),  # type: ignore[call-overload]
        )
    except (Message.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def feedback_by_message(*, tenant: Tenant, user: User, message_ids: list[int]) -> dict[int, dict[str, object]]:
    """The person's own thumbs and comments on these answers, by answer id (one query)."""
    rows = Feedback.objects.filter(tenant=tenant, user=user, message_id__in=message_ids).values(
        "message_id", "rating", "comment"
    )
    return {row["message_id"]: {"rating": row["rating"], "comment": row["comment"]} for row in rows}
