"""Reads of the chat app. Tenant-scoped reads take ``tenant=``; missing and foreign rows are the same 404."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404

from chat.models import (
    Conversation,
    Deployment,
    Message,
    ModelVersion,
    ModelVersionAccess,
    ModelVersionDeployment,
    Notice,
    NoticeAcknowledgement,
)
from tenants.models import Tenant, User

USABLE_STATUSES = (ModelVersion.Status.PREVIEW, ModelVersion.Status.ACTIVE, ModelVersion.Status.DEPRECATED)


def model_version_list(*, tenant: Tenant) -> QuerySet[ModelVersion]:
    """Versions people of ``tenant`` may pick: allowed for the tenant, not retired, served by an enabled
    deployment. Read per request, so an admin's change applies at once (no restart)."""
    served = ModelVersionDeployment.objects.filter(model_version=OuterRef("pk"), deployment__enabled=True)
    return (
        ModelVersion.objects.filter(modelversionaccess__tenant=tenant, status__in=USABLE_STATUSES)
        .filter(Exists(served))
        .order_by("family", "-version")
    )


def model_version_get(*, tenant: Tenant, model_version_id: int) -> ModelVersion:
    """A version ``tenant`` may use now; unknown, retired, disabled and forbidden are the same 404."""
    try:
        return model_version_list(tenant=tenant).get(pk=model_version_id)
    except (ModelVersion.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def model_version_default(*, tenant: Tenant) -> ModelVersion | None:
    """The tenant's default version, else the first usable one (one query: every new conversation asks)."""
    usable = model_version_list(tenant=tenant)
    return usable.order_by(F("modelversionaccess__is_default").desc(), "family", "-version").first()


def model_version_with_deployments(*, model_version_id: int) -> ModelVersion:
    """For building the client spec: enabled deployments in priority order, fetched in one go."""
    links = ModelVersionDeployment.objects.filter(deployment__enabled=True).select_related("deployment")
    return ModelVersion.objects.prefetch_related(
        Prefetch("modelversiondeployment_set", queryset=links.order_by("priority", "pk"), to_attr="serving")
    ).get(pk=model_version_id)


@dataclass(frozen=True)
class ServedModel:
    version: ModelVersion
    deployments: list[Deployment]  # enabled, primary first


def models_served(*, tenant: Tenant) -> list[ServedModel]:
    """Every version ``tenant`` may use now with its enabled deployments, the tenant's default first, in one query
    (a turn resolves its model and deployments from this). Same rules as ``model_version_list``."""
    links = (
        ModelVersionDeployment.objects.filter(
            deployment__enabled=True,
            model_version__modelversionaccess__tenant=tenant,
            model_version__status__in=USABLE_STATUSES,
        )
        .annotate(is_default=F("model_version__modelversionaccess__is_default"))
        .select_related("deployment", "model_version")
        .order_by("-is_default", "model_version__family", "-model_version__version", "priority", "pk")
    )
    served: dict[int, ServedModel] = {}
    for link in links:
        entry = served.get(link.model_version_id)
        if entry is None:
            entry = served[link.model_version_id] = ServedModel(link.model_version, [])
        entry.deployments.append(link.deployment)
    return list(served.values())


def model_access_list(*, tenant: Tenant) -> QuerySet[ModelVersionAccess]:
    return ModelVersionAccess.objects.filter(tenant=tenant).select_related("model_version")


def deployment_list() -> QuerySet[Deployment]:
    return Deployment.objects.order_by("label")


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
