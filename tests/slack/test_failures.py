"""Slack being slow or down: 429s waited out, failures retried, then kept for ``slack_reprocess``; the model is
called at most once per event."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from chat.models import Message
from slack.context import FOOTER_SEPARATOR
from slack.models import SlackEvent, SlackWorkspace
from slack.tasks import slack_event_process_task
from tests.conftest import wait_for
from tests.slack.conftest import BOT_A, SECRET_A, deliver, envelope, mention, stored
from tests.slack.fake_slack import Failure, FakeSlack
from tests.upstream import server as up

pytestmark = pytest.mark.django_db(transaction=True)


def test_rate_limited_slack_is_retried_after_retry_after(
    celery_worker: object | None, workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    fake_slack.fail("chat.postMessage", Failure(retry_after=1))
    message = fake_slack.add_message("C1", user="UALICE", text=f"<@{BOT_A}> hi")
    assert deliver(Client(), "alpha", envelope(workspace_a, mention(message)), secret=SECRET_A).status_code == 200
    assert wait_for(lambda: SlackEvent.objects.filter(status=SlackEvent.Status.DONE).exists(), 20)
    posts = fake_slack.calls_to("chat.postMessage")
    assert [c.status for c in posts] == [429, 200]
    assert len(fake_slack.bot_messages("C1", message["ts"])) == 1


def test_slack_down_before_the_model_is_retried_then_kept_and_reprocessed(
    celery_worker: object | None, workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    event, message = stored(workspace_a, fake_slack, "hello")
    fake_slack.fail("users.info", *[Failure(status=500)] * 8)
    slack_event_process_task.apply(args=(event.pk,))
    event.refresh_from_db()
    assert event.status == SlackEvent.Status.FAILED
    assert event.attempts == 4  # the first try and three retries
    assert "500" in event.error or "slack" in event.error
    assert upstream.requests_to("gpt-4o") == []
    assert Message.objects.count() == 0

    fake_slack.failures.clear()
    call_command("slack_reprocess")
    assert wait_for(lambda: SlackEvent.objects.get(pk=event.pk).status == SlackEvent.Status.DONE, 20)
    assert len(upstream.requests_to("gpt-4o")) == 1
    assert len(fake_slack.bot_messages("C1", message["ts"])) == 1


def test_answer_that_slack_did_not_take_is_reposted_without_a_second_model_call(
    celery_worker: object | None, workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.normal("The saved answer."))
    event, message = stored(workspace_a, fake_slack, "hello")
    fake_slack.fail("chat.update", Failure(error="internal_error"))
    slack_event_process_task.apply(args=(event.pk,))
    event.refresh_from_db()
    assert event.status == SlackEvent.Status.FAILED
    assert "internal_error" in event.error
    assert event.reply_message is not None
    assert event.reply_message.content == "The saved answer."
    assert fake_slack.bot_messages("C1", message["ts"])[0]["text"] == "_Thinking…_"

    call_command("slack_reprocess")
    assert wait_for(lambda: SlackEvent.objects.get(pk=event.pk).status == SlackEvent.Status.DONE, 20)
    replies = fake_slack.bot_messages("C1", message["ts"])
    assert len(replies) == 1
    assert replies[0]["text"].split(FOOTER_SEPARATOR)[0] == "The saved answer."
    assert len(upstream.requests_to("gpt-4o")) == 1


def test_a_processed_event_is_never_processed_again(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    event, _ = stored(workspace_a, fake_slack, "hello")
    # Eager results, read in the test: an in-process worker of an earlier test can leave Celery's join guard set.
    assert slack_event_process_task.apply(args=(event.pk,)).get(disable_sync_subtasks=False) == "done"
    assert slack_event_process_task.apply(args=(event.pk,)).get(disable_sync_subtasks=False) == "skipped"
    assert len(upstream.requests_to("gpt-4o")) == 1


def test_an_event_stuck_in_processing_by_a_dead_worker_is_answered_by_the_sweep(
    celery_worker: object | None, workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from slack.services import slack_stranded_requeue

    upstream.script("gpt-4o", up.normal("Answered after all."))
    event, message = stored(workspace_a, fake_slack, "hello")
    # A worker claimed it and was killed (hard time limit, OOM): it stays PROCESSING, and acks_late alone does not
    # bring it back within the hour.
    recent = timezone.now() - timedelta(seconds=30)
    SlackEvent.objects.filter(pk=event.pk).update(status=SlackEvent.Status.PROCESSING, updated_at=recent, attempts=1)
    assert slack_stranded_requeue() == 0  # still within the task's hard limit: maybe it is running
    long_ago = timezone.now() - timedelta(hours=1)
    SlackEvent.objects.filter(pk=event.pk).update(updated_at=long_ago)
    assert slack_stranded_requeue() == 1
    assert wait_for(lambda: SlackEvent.objects.get(pk=event.pk).status == SlackEvent.Status.DONE, 20)
    replies = fake_slack.bot_messages("C1", message["ts"])
    assert replies[-1]["text"].split(FOOTER_SEPARATOR)[0] == "Answered after all."
    assert len(upstream.requests_to("gpt-4o")) == 1


def test_a_slack_reply_closes_its_event_loops_openai_clients(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    from llm.client import clients

    event, _ = stored(workspace_a, fake_slack, "hello")
    before = set(clients._by_loop)
    assert slack_event_process_task.apply(args=(event.pk,)).get(disable_sync_subtasks=False) == "done"
    # The task's loop made a client for the upstream and closed it at the end: no cache entry is left behind.
    assert set(clients._by_loop) == before
    assert len(upstream.requests_to("gpt-4o")) == 1


@pytest.mark.parametrize(
    ("scenario", "note", "partial"),
    [
        (up.stream_tokens(200, rate=20), "The answer took too long and was cut off.", True),  # a 10 s answer
        (up.hang(seconds=30), "The AI service did not answer in time. Please try again.", False),
    ],
)
def test_a_reply_past_its_budget_still_ends_with_a_final_message_in_the_thread(
    scenario: Any,
    note: str,
    partial: bool,
    settings: Any,
    workspace_a: SlackWorkspace,
    fake_slack: FakeSlack,
    upstream: up.UpstreamServer,
) -> None:
    settings.SLACK_REPLY_BUDGET = 1  # stands for the production budget under the task's time limits
    upstream.script("gpt-4o", scenario)
    event, message = stored(workspace_a, fake_slack, "a long one please")
    assert slack_event_process_task.apply(args=(event.pk,)).get(disable_sync_subtasks=False) == "done"
    (reply,) = fake_slack.bot_messages("C1", message["ts"])
    final = reply["text"].split(FOOTER_SEPARATOR)[0]
    assert final.endswith(f":warning: {note}")
    assert final != "_Thinking…_"
    saved = Message.objects.get(role=Message.Role.ASSISTANT)
    assert saved.status == (Message.Status.TRUNCATED if partial else Message.Status.ERROR)
    assert bool(saved.content) is partial
    if partial:
        assert final.split()[:5] == saved.content.split()[:5]  # the streamed part is posted, then the warning
    assert SlackEvent.objects.get(pk=event.pk).status == SlackEvent.Status.DONE
