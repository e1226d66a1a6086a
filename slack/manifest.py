"""The Slack app manifest an admin pastes into "Create New App → From an app manifest" (docs/slack.md)."""

from __future__ import annotations

import json
from typing import Any

from slack.models import SlackWorkspace

BOT_SCOPES = (
    "app_mentions:read",
    "chat:write",
    "im:history",
    "channels:history",
    "groups:history",
    "users:read",
    "users:read.email",
)
BOT_EVENTS = ("app_mention", "message.im")


def request_url(*, base_url: str, workspace: SlackWorkspace) -> str:
    """``https://<host>/slack/events?workspace=<slug>``; ``base_url`` is scheme and host, e.g. from the request."""
    return f"{base_url.rstrip('/')}/slack/events?workspace={workspace.slug}"


def app_manifest(*, workspace: SlackWorkspace, events_url: str, app_name: str = "Office AI") -> dict[str, Any]:
    return {
        "display_information": {
            "name": app_name,
            "description": f"Office AI for {workspace.tenant.name}"[:140],
        },
        "features": {
            "app_home": {
                "home_tab_enabled": False,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": app_name, "always_online": True},
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": {"request_url": events_url, "bot_events": list(BOT_EVENTS)},
            "org_deploy_enabled": False,
            "socket_mode_enabled": False,
            "token_rotation_enabled": False,
        },
    }


def app_manifest_json(*, workspace: SlackWorkspace, events_url: str) -> str:
    return json.dumps(app_manifest(workspace=workspace, events_url=events_url), indent=2, ensure_ascii=False)
