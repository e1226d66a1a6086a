"""One cap on running answers per person, web and Slack together; a Slack member with no account is counted by
their Slack identity, and their answers stay attributable in the audit even when their process dies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from audit.models import AuditOutbox
from chat.models import Conversation, Message
from chat.services import chat_stale_replies_close
from slack.context import FOOTER_SEPARATOR
from slack.models import SlackWorkspace
from slack.tasks import slack_event_process_task
from tenants.models import Tenant, User
from tests.slack.conftest import stored
from tests.slack.fake_slack import FakeSlack
from tests.upstream import server as up

pytestmark = pytest.mark.django_db(transaction=True)


def ask(workspace: SlackWorkspace, fake: FakeSlack, member: str, text: str = "hello") -> tuple[str, dict[str, Any]]:
    """A mention by ``member``, processed as the worker does; returns the outcome and the Slack message."""
    event, message = stored(workspace, fake, text, user=member)
    return slack_event_process_task.apply(args=(event.pk,)).get(disable_sync_subtasks=False), message


def running_answer(tenant: Tenant, *, speaker: str, source: str = Conversation.Source.SLACK) -> Message:
    conversation = Conversation.objects.create(tenant=tenant, source=source, title="running")
    return Message.objects.create(
        tenant=tenant,
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        status=Message.Status.STREAMING,
        speaker=speaker,
    )


def final_text(fake: FakeSlack, message: dict[str, Any]) -> str:
    return str(fake.bot_messages("C1", message["ts"])[-1]["text"].split(FOOTER_SEPARATOR)[0])


def test_a_slack_member_without_an_account_is_capped_by_their_slack_identity(
    workspace_a: SlackWorkspace,
    workspace_b: SlackWorkspace,
    fake_slack: FakeSlack,
    upstream: up.UpstreamServer,
) -> None:
    fake_slack.add_user("UBOB", name="bob", email="bob@elsewhere.example")  # no account in tenant A
    fake_slack.add_user("UCAROL", name="carol", email="carol@elsewhere.example")
    Tenant.objects.filter(pk=workspace_a.tenant_id).update(max_concurrent_replies=1)
    # The same member id in tenant B's workspace is another person in another company: not counted here.
    running_answer(workspace_b.tenant, speaker=f"slack:{workspace_a.team_id}:UBOB")
    outcome, _ = ask(workspace_a, fake_slack, "UBOB")
    assert outcome == "done"
    answer = Message.objects.get(tenant=workspace_a.tenant, role=Message.Role.ASSISTANT)
    assert answer.speaker == f"slack:{workspace_a.team_id}:UBOB"
    assert answer.speaker_email == "bob@elsewhere.example"

    running_answer(workspace_a.tenant, speaker=f"slack:{workspace_a.team_id}:UBOB")  # Bob's other answer
    calls = len(upstream.requests_to("gpt-4o"))
    outcome, second = ask(workspace_a, fake_slack, "UBOB", "and another")
    assert outcome == "refused"
    assert "You already have 1 answer being written" in final_text(fake_slack, second)
    assert len(upstream.requests_to("gpt-4o")) == calls  # refused before the model is called
    outcome, _ = ask(workspace_a, fake_slack, "UCAROL")  # Carol is not held back by Bob
    assert outcome == "done"


def test_a_linked_persons_web_answers_count_against_slack(
    workspace_a: SlackWorkspace, user_a: User, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    Tenant.objects.filter(pk=workspace_a.tenant_id).update(max_concurrent_replies=1)
    running_answer(workspace_a.tenant, speaker=f"user:{user_a.pk}", source=Conversation.Source.WEB)
    outcome, message = ask(workspace_a, fake_slack, "UALICE")  # alice@alpha.example is user_a
    assert outcome == "refused"
    assert "You already have 1 answer being written" in final_text(fake_slack, message)
    assert upstream.requests_to("gpt-4o") == []


def test_an_interrupted_answer_to_an_unlinked_member_is_audited_with_who_asked(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    fake_slack.add_user("UBOB", name="bob", email="bob@elsewhere.example")
    conversation = Conversation.objects.create(
        tenant=workspace_a.tenant, source=Conversation.Source.SLACK, slack_key="alpha:C1:1700000000.000100"
    )
    Message.objects.create(
        tenant=workspace_a.tenant, conversation=conversation, role=Message.Role.USER, content="機密の質問"
    )
    answer = Message.objects.create(
        tenant=workspace_a.tenant,
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        status=Message.Status.STREAMING,
        speaker=f"slack:{workspace_a.team_id}:UBOB",
        speaker_email="bob@elsewhere.example",
        content="partial",
    )
    Message.objects.filter(pk=answer.pk).update(updated_at=timezone.now() - timedelta(minutes=10))
    assert chat_stale_replies_close() == 1
    entry = AuditOutbox.objects.get(event_type="llm.chat", tenant_id=workspace_a.tenant_id)
    assert entry.actor_email == "bob@elsewhere.example"
    assert entry.actor_id is None
    assert entry.payload["channel_detail"] == {
        "workspace": "alpha",
        "channel": "C1",
        "thread_ts": "1700000000.000100",
        "team_id": workspace_a.team_id,
        "slack_user_id": "UBOB",
        "slack_user_email": "bob@elsewhere.example",
    }
    assert entry.payload["prompt_messages"] == [{"role": "user", "content": "機密の質問"}]
