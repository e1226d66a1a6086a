"""Fuzzing Slack deliveries that are stored and answered: mentions and DMs whose fields carry hostile values (NUL,
lone surrogates, odd types). Each is acknowledged with a 2xx/4xx, never a 500, and lands on its own tenant only."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slack.models import SlackEvent, SlackWorkspace
from tests.slack.conftest import SECRET_A, deliver, envelope
from tests.slack.fake_slack import FakeSlack

HOSTILE = st.text(max_size=30) | st.sampled_from(["\x00", "a\x00b", "\ud800", "<@UBOTA> \x00"]) | st.integers()
EVENTS = st.fixed_dictionaries(
    {"type": st.sampled_from(["app_mention", "message"])},
    optional={
        "text": HOSTILE,
        "user": HOSTILE,
        "channel": HOSTILE,
        "channel_type": st.sampled_from(["im", "channel"]) | HOSTILE,
        "ts": HOSTILE,
        "thread_ts": HOSTILE,
        "subtype": HOSTILE,
        "bot_id": HOSTILE,
    },
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(event=EVENTS)
def test_hostile_slack_events(
    event: dict[str, Any], workspace_a: SlackWorkspace, workspace_b: SlackWorkspace, fake_slack: FakeSlack
) -> None:
    body = json.dumps(envelope(workspace_a, event)).encode()
    response = deliver(Client(), "alpha", body, secret=SECRET_A)
    assert response.status_code in (200, 400), (response.status_code, response.content[:300])
    assert not SlackEvent.objects.filter(workspace=workspace_b).exists()
