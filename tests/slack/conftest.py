"""Slack fixtures: the fake Slack Web API (real HTTP), a workspace per tenant, signed deliveries."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from llm.models import ModelVersion
from slack.models import SlackEvent, SlackWorkspace
from slack.signature import signature_make
from tenants.models import Tenant
from tests.model_fixtures import gpt4o, o3mini, upstream  # noqa: F401 - the chat fixtures, shared
from tests.slack.fake_slack import FakeSlack

SECRET_A = "8f742231b10e8888abcd99yyyzzz85a5"
SECRET_B = "b-secret-0000111122223333444455556"
TOKEN_A = "xoxb-alpha-token"
TOKEN_B = "xoxb-beta-token"
BOT_A = "UBOTA"
BOT_B = "UBOTB"

_event_ids = itertools.count(1)


@pytest.fixture
def fake_slack(settings: Any) -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        slack.add_bot(token=TOKEN_A, team_id="TALPHA", user_id=BOT_A, bot_id="BALPHA", name="officeai")
        slack.add_bot(token=TOKEN_B, team_id="TBETA", user_id=BOT_B, bot_id="BBETA", name="betabot")
        slack.add_user("UALICE", name="alice", email="Alice@alpha.example")
        slack.add_user("UCAROL", name="carol", email="carol@elsewhere.example")
        slack.add_user("UBOB", name="bob", email="bob@beta.example")
        settings.SLACK_API_BASE_URL = slack.url
        yield slack


@pytest.fixture
def workspace_a(tenant_a: Tenant, gpt4o: ModelVersion, fake_slack: FakeSlack) -> SlackWorkspace:  # noqa: F811
    return SlackWorkspace.objects.create(
        tenant=tenant_a,
        slug="alpha",
        team_id="TALPHA",
        app_id="AALPHA",
        signing_secret=SECRET_A,
        bot_token=TOKEN_A,
        bot_user_id=BOT_A,
        bot_id="BALPHA",
        bot_name="officeai",
        model_version=gpt4o,
        notice_language=SlackWorkspace.Language.EN,
    )


@pytest.fixture
def workspace_b(tenant_b: Tenant, o3mini: ModelVersion, fake_slack: FakeSlack) -> SlackWorkspace:  # noqa: F811
    return SlackWorkspace.objects.create(
        tenant=tenant_b,
        slug="beta",
        team_id="TBETA",
        app_id="ABETA",
        signing_secret=SECRET_B,
        bot_token=TOKEN_B,
        bot_user_id=BOT_B,
        bot_id="BBETA",
        bot_name="betabot",
        model_version=o3mini,
        notice_language=SlackWorkspace.Language.EN,
    )


def envelope(workspace: SlackWorkspace, event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": workspace.team_id,
        "api_app_id": workspace.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_event_ids):08d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": workspace.team_id, "user_id": workspace.bot_user_id, "is_bot": True}],
    }


def stored(
    workspace: SlackWorkspace, fake: FakeSlack, text: str, *, user: str = "UALICE"
) -> tuple[SlackEvent, dict[str, Any]]:
    """A mention as the endpoint stores it, without enqueueing it (the test runs the task itself)."""
    message = fake.add_message("C1", user=user, text=f"<@{BOT_A}> {text}")
    payload = envelope(workspace, mention(message))
    event = SlackEvent.objects.create(
        tenant=workspace.tenant,
        workspace=workspace,
        event_id=payload["event_id"],
        event_type="app_mention",
        payload=payload["event"],
    )
    return event, message


def mention(message: dict[str, Any], channel: str = "C1") -> dict[str, Any]:
    return {**message, "type": "app_mention", "channel": channel}


def direct(message: dict[str, Any], channel: str = "D1") -> dict[str, Any]:
    return {**message, "type": "message", "channel": channel, "channel_type": "im"}


def deliver(
    client: Client,
    slug: str,
    payload: dict[str, Any] | bytes,
    *,
    secret: str,
    timestamp: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """POST a signed Events API request as Slack does."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    ts = timestamp or str(int(time.time()))
    signed: dict[str, Any] = {
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": ts,
        "HTTP_X_SLACK_SIGNATURE": signature_make(signing_secret=secret, body=body, timestamp=ts),
    }
    signed.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()})
    return client.post(f"/slack/events?workspace={slug}", data=body, content_type="application/json", **signed)
