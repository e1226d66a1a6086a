"""Slack Web API clients: base URL from settings (a local fake in tests), 429s retried after ``Retry-After``."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

TIMEOUT_SECONDS = 10
RATE_LIMIT_RETRIES = 2


def slack_client(*, token: str) -> WebClient:
    return WebClient(
        token=token,
        base_url=settings.SLACK_API_BASE_URL,
        timeout=TIMEOUT_SECONDS,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=1),
            RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ],
    )


@dataclass(frozen=True)
class BotIdentity:
    ok: bool
    user_id: str = ""
    bot_id: str = ""
    name: str = ""
    team_id: str = ""
    error: str = ""


def bot_identity(*, token: str) -> BotIdentity:
    """``auth.test`` with a bot token: who the bot is, or why the token does not work."""
    try:
        data = slack_client(token=token).auth_test()
    except SlackApiError as exc:
        return BotIdentity(ok=False, error=str(exc.response.get("error") or exc.response.status_code))
    except OSError as exc:
        return BotIdentity(ok=False, error=type(exc).__name__)
    return BotIdentity(
        ok=True,
        user_id=str(data.get("user_id") or ""),
        bot_id=str(data.get("bot_id") or ""),
        name=str(data.get("user") or ""),
        team_id=str(data.get("team_id") or ""),
    )
