"""Request signatures (Slack's published vector) and the events endpoint's refusals: nothing is processed."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from slack.models import SlackEvent, SlackWorkspace
from slack.signature import signature_is_valid, signature_make
from tests.slack.conftest import SECRET_A, SECRET_B, deliver, envelope, mention
from tests.slack.fake_slack import FakeSlack

VECTOR_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
VECTOR_TS = "1531420618"
VECTOR_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar"
    b"&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack"
    b".com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0"
    b"bc887a14d10d2c447fce8b6703c"
)
VECTOR_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def valid(**overrides: Any) -> bool:
    args: dict[str, Any] = {
        "signing_secret": VECTOR_SECRET,
        "body": VECTOR_BODY,
        "timestamp": VECTOR_TS,
        "signature": VECTOR_SIGNATURE,
        "now": float(VECTOR_TS),
    }
    args.update(overrides)
    return signature_is_valid(**args)


def test_slacks_published_vector_verifies() -> None:
    assert len(VECTOR_BODY) == 362
    assert signature_make(signing_secret=VECTOR_SECRET, body=VECTOR_BODY, timestamp=VECTOR_TS) == VECTOR_SIGNATURE
    assert valid()


def test_vector_with_the_real_clock_is_expired() -> None:
    assert not valid(now=None)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"body": VECTOR_BODY + b"------"}, id="changed body"),
        pytest.param({"signing_secret": "0" * 32}, id="wrong secret"),
        pytest.param({"now": float(VECTOR_TS) + 301}, id="301 s old"),
        pytest.param({"now": float(VECTOR_TS) - 301}, id="301 s in the future"),
        pytest.param({"timestamp": "15314206l8"}, id="non-numeric timestamp"),
        pytest.param({"timestamp": "-1531420618"}, id="signed timestamp"),
        pytest.param({"timestamp": None}, id="missing timestamp"),
        pytest.param({"signature": None}, id="missing signature"),
        pytest.param({"signature": "v0=" + "0" * 64}, id="wrong signature"),
        pytest.param({"signing_secret": ""}, id="empty secret"),
    ],
)
def test_bad_signatures_are_invalid(overrides: dict[str, Any]) -> None:
    assert not valid(**overrides)


def test_300_seconds_is_still_fresh() -> None:
    assert valid(now=float(VECTOR_TS) + 300)
    assert valid(now=float(VECTOR_TS) - 300)


# --- The endpoint ---------------------------------------------------------------------------------------------------
pytestmark = pytest.mark.django_db


def a_mention(fake_slack: FakeSlack, workspace: SlackWorkspace) -> dict[str, Any]:
    message = fake_slack.add_message("C1", user="UALICE", text=f"<@{workspace.bot_user_id}> hello")
    return envelope(workspace, mention(message))


def signed_headers(body: bytes, secret: str, ts: str) -> dict[str, Any]:
    return {
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": ts,
        "HTTP_X_SLACK_SIGNATURE": signature_make(signing_secret=secret, body=body, timestamp=ts),
    }


@pytest.mark.parametrize("case", ["changed body", "wrong secret", "301 s old", "non-numeric", "no timestamp", "no sig"])
def test_endpoint_refuses_bad_signatures_with_401_and_processes_nothing(
    case: str, workspace_a: SlackWorkspace, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(a_mention(fake_slack, workspace_a)).encode()
    now = str(int(time.time()))
    headers = signed_headers(body, SECRET_A, now)
    if case == "changed body":
        body = body.replace(b"hello", b"HELLO")
    elif case == "wrong secret":
        headers = signed_headers(body, "not-the-secret", now)
    elif case == "301 s old":
        old = str(int(time.time()) - 301)
        headers = signed_headers(body, SECRET_A, old)
    elif case == "non-numeric":
        headers["HTTP_X_SLACK_REQUEST_TIMESTAMP"] = "yesterday"
    elif case == "no timestamp":
        del headers["HTTP_X_SLACK_REQUEST_TIMESTAMP"]
    else:
        del headers["HTTP_X_SLACK_SIGNATURE"]
    response = Client().post("/slack/events?workspace=alpha", data=body, content_type="application/json", **headers)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid request"}
    assert SlackEvent.objects.count() == 0
    assert fake_slack.calls == []
    assert SECRET_A not in caplog.text
    assert "hello" not in caplog.text.lower()


def test_signature_of_workspace_a_does_not_verify_for_workspace_b(
    workspace_a: SlackWorkspace, workspace_b: SlackWorkspace, fake_slack: FakeSlack
) -> None:
    payload = a_mention(fake_slack, workspace_b)
    response = deliver(Client(), "beta", payload, secret=SECRET_A)
    assert response.status_code == 401
    assert deliver(Client(), "alpha", a_mention(fake_slack, workspace_a), secret=SECRET_B).status_code == 401
    assert SlackEvent.objects.count() == 0


def test_unknown_or_disabled_workspace_is_404(workspace_a: SlackWorkspace, fake_slack: FakeSlack) -> None:
    payload = a_mention(fake_slack, workspace_a)
    assert deliver(Client(), "nope", payload, secret=SECRET_A).status_code == 404
    assert Client().post("/slack/events", data=b"{}", content_type="application/json").status_code == 404
    workspace_a.enabled = False
    workspace_a.save()
    assert deliver(Client(), "alpha", payload, secret=SECRET_A).status_code == 404
    assert SlackEvent.objects.count() == 0


def test_url_verification_is_answered_with_the_challenge(workspace_a: SlackWorkspace) -> None:
    payload = {
        "token": "x",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    response = deliver(Client(), "alpha", payload, secret=SECRET_A)
    assert response.status_code == 200
    assert response.json() == {"challenge": payload["challenge"]}


def test_url_verification_must_be_signed_too(workspace_a: SlackWorkspace) -> None:
    payload = {"token": "x", "challenge": "abc", "type": "url_verification"}
    assert deliver(Client(), "alpha", payload, secret="wrong").status_code == 401


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json at all", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"type": "event_callback"}', "not an Events API event"),
        (b'{"type": "block_actions", "event_id": "Ev1"}', "not an Events API event"),
    ],
)
def test_bodies_that_are_not_events_are_400_with_a_clear_message(
    body: bytes, message: str, workspace_a: SlackWorkspace
) -> None:
    response = deliver(Client(), "alpha", body, secret=SECRET_A)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert SlackEvent.objects.count() == 0


def test_unsubscribed_event_types_are_acknowledged_and_ignored(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack
) -> None:
    payload = envelope(workspace_a, {"type": "reaction_added", "user": "UALICE", "reaction": "tada"})
    response = deliver(Client(), "alpha", payload, secret=SECRET_A)
    assert response.status_code == 200
    assert response.json()["ignored"] == "unsubscribed event type"
    assert SlackEvent.objects.count() == 0
    assert fake_slack.calls == []


def test_team_or_app_id_that_does_not_match_the_configuration_is_401(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack
) -> None:
    for field, value in (("team_id", "TOTHER"), ("api_app_id", "AOTHER")):
        payload = {**a_mention(fake_slack, workspace_a), field: value}
        assert deliver(Client(), "alpha", payload, secret=SECRET_A).status_code == 401
    assert SlackEvent.objects.count() == 0


def test_get_is_not_allowed(workspace_a: SlackWorkspace) -> None:
    assert Client().get("/slack/events?workspace=alpha").status_code == 405
