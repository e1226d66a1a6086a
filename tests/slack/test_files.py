"""Slack stays text-only: a file shared with the bot is not read, and the person is told that files belong in the
web UI, with a link; the question beside the file is still answered."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from slack.models import SlackEvent, SlackWorkspace
from tests.slack.conftest import BOT_A, SECRET_A, deliver, envelope, mention
from tests.slack.fake_slack import FakeSlack
from tests.slack.test_events import settled
from tests.upstream import server as up

pytestmark = pytest.mark.django_db(transaction=True)

FILE = {"id": "F1", "name": "議事録.pdf", "mimetype": "application/pdf", "size": 1234}


@pytest.fixture(autouse=True)
def _worker(celery_worker: object | None, settings: Any) -> object | None:
    settings.OFFICE_AI_URL = "https://ai.alpha.example/"
    return celery_worker


def share(fake: FakeSlack, workspace: SlackWorkspace, text: str) -> dict[str, Any]:
    message = fake.add_message("C1", user="UALICE", text=text, subtype="file_share", files=[FILE])
    response = deliver(Client(), workspace.slug, envelope(workspace, mention(message)), secret=SECRET_A)
    assert response.status_code == 200, response.content
    return message


def test_a_file_alone_gets_the_notice_with_a_link_and_no_model_call(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    message = share(fake_slack, workspace_a, f"<@{BOT_A}>")
    settled()
    (notice,) = fake_slack.bot_messages("C1", message["ts"])
    assert "not read" in notice["text"]
    assert "web version of Office AI" in notice["text"]
    assert "<https://ai.alpha.example/|" in notice["text"]
    assert upstream.requests_to("gpt-4o") == []
    assert SlackEvent.objects.get().status == SlackEvent.Status.DONE


def test_the_question_beside_a_file_is_still_answered_after_the_notice(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.normal("Here is what I can say without the file."))
    message = share(fake_slack, workspace_a, f"<@{BOT_A}> What does this say?")
    settled()
    notice, answer = fake_slack.bot_messages("C1", message["ts"])
    assert "not read" in notice["text"]
    assert answer["text"].startswith("Here is what I can say without the file.")
    sent = upstream.requests_to("gpt-4o")[-1].json["messages"][-1]
    assert sent == {"role": "user", "content": "What does this say?"}  # the file's contents never go
