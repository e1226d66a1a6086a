"""Reads for the Slack door. A workspace is found by its slug only when it and its tenant are enabled."""

from __future__ import annotations

from django.db.models import Count

from chat.models import Conversation
from slack.models import SlackEvent, SlackWorkspace
from tenants.models import Tenant, User


def slack_workspace_get_enabled(*, slug: str) -> SlackWorkspace | None:
    if not slug:
        return None
    return (
        SlackWorkspace.objects.select_related("tenant").filter(slug=slug, enabled=True, tenant__is_active=True).first()
    )


def slack_workspace_get_by_slug(*, slug: str) -> SlackWorkspace | None:
    """Any workspace, enabled or not (operators' commands)."""
    return SlackWorkspace.objects.filter(slug=slug).first()


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


def slack_event_counts() -> list[tuple[list[str], float]]:
    """Events by state over every workspace (the /metrics gauge: a queue that grows, events that fail)."""
    counts = dict(SlackEvent.objects.values_list("status").annotate(n=Count("pk")).order_by())
    return [([state], float(counts.get(state, 0))) for state in SlackEvent.Status.values]
