"""Reads for the Slack door. A workspace is found by its slug only when it and its tenant are enabled."""

from __future__ import annotations

from chat.models import Conversation
from slack.models import SlackEvent, SlackWorkspace
from tenants.models import Tenant, User


def slack_workspace_get_enabled(*, slug: str) -> SlackWorkspace | None:
    if not slug:
        return None
    return (
        SlackWorkspace.objects.select_related("tenant").filter(slug=slug, enabled=True, tenant__is_active=True).first()
    )


def slack_user_get_by_email(*, tenant: Tenant, email: str) -> User | None:
    """The tenant's active user with this email (Slack's users:read.email), never another tenant's."""
    if not email:
        return None
    return User.objects.filter(tenant=tenant, email__iexact=email.strip(), is_active=True).first()


def slack_conversation_get(*, tenant: Tenant, slack_key: str) -> Conversation | None:
    return Conversation.objects.filter(tenant=tenant, source=Conversation.Source.SLACK, slack_key=slack_key).first()


def slack_event_failed_list(*, workspace: SlackWorkspace | None = None) -> list[int]:
    qs = SlackEvent.objects.filter(status=SlackEvent.Status.FAILED)
    if workspace is not None:
        qs = qs.filter(tenant=workspace.tenant, workspace=workspace)
    return list(qs.order_by("pk").values_list("pk", flat=True))
