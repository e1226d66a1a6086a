"""The Slack door end to end: signed events in, replies in threads out (fake Slack over HTTP, the real test
upstream as the model). Works with eager Celery and, with REDIS_URL, through a real broker and worker."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client

from audit.models import AuditOutbox
from chat.models import Conversation, Message
from slack.context import FOOTER_SEPARATOR
from slack.models import SlackEvent, SlackWorkspace
from tenants.models import Tenant, User
from tests.conftest import wait_for
from tests.slack.conftest import BOT_A, SECRET_A, SECRET_B, deliver, direct, envelope, mention
from tests.slack.fake_slack import FakeSlack
from tests.upstream import server as up

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _worker(celery_worker: object | None) -> object | None:
    return celery_worker  # a real worker thread on the broker in CI; eager (in the request) otherwise


def settled(count: int = 1, timeout: float = 20) -> None:
    finished = (SlackEvent.Status.DONE, SlackEvent.Status.FAILED)
    assert wait_for(lambda: SlackEvent.objects.filter(status__in=finished).count() >= count, timeout), list(
        SlackEvent.objects.values("status", "error")
    )


def ask(
    fake: FakeSlack,
    workspace: SlackWorkspace,
    text: str,
    *,
    user: str = "UALICE",
    thread_ts: str | None = None,
    channel: str = "C1",
    secret: str = SECRET_A,
    **headers: str,
) -> dict[str, Any]:
    message = fake.add_message(channel, user=user, text=text, thread_ts=thread_ts)
    response = deliver(
        Client(), workspace.slug, envelope(workspace, mention(message, channel)), secret=secret, headers=headers
    )
    assert response.status_code == 200, response.content
    return message


def reply_text(fake: FakeSlack, channel: str, thread_ts: str, index: int = -1) -> str:
    return fake.bot_messages(channel, thread_ts)[index]["text"]


def sent_messages(upstream: up.UpstreamServer, deployment: str = "gpt-4o") -> list[dict[str, str]]:
    return upstream.requests_to(deployment)[-1].json["messages"]


def test_channel_mention_is_answered_in_its_thread_saved_and_audited(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer, tenant_a: Tenant, user_a: User
) -> None:
    upstream.script("gpt-4o", up.normal("Paris is the **capital** of France & more.", rate=40))
    question = ask(fake_slack, workspace_a, f"<@{BOT_A}> What is the capital of France?")
    settled()
    posts = fake_slack.calls_to("chat.postMessage")
    assert len(posts) == 1
    assert posts[0].params["channel"] == "C1"
    assert posts[0].params["thread_ts"] == question["ts"]  # a top-level mention starts a thread
    replies = fake_slack.bot_messages("C1", question["ts"])
    assert len(replies) == 1
    answer, footer = replies[0]["text"].split(FOOTER_SEPARATOR)
    assert answer == "Paris is the *capital* of France &amp; more."
    assert "web version" in footer
    assert "`-from:@officeai`" in footer
    assert sent_messages(upstream)[-1] == {"role": "user", "content": "What is the capital of France?"}

    conversation = Conversation.objects.get(tenant=tenant_a, source=Conversation.Source.SLACK)
    assert conversation.slack_key == f"alpha:C1:{question['ts']}"
    assert conversation.user == user_a  # Slack email Alice@alpha.example → the tenant's user
    user_message, bot_message = conversation.messages.order_by("pk")
    assert (user_message.role, user_message.content, user_message.slack_ts) == (
        "user",
        "What is the capital of France?",
        question["ts"],
    )
    assert bot_message.status == Message.Status.OK
    assert bot_message.content == "Paris is the **capital** of France & more."
    assert bot_message.slack_ts == replies[0]["ts"]

    entry = AuditOutbox.objects.get(event_type="llm.chat")
    assert entry.channel == "slack"
    assert entry.tenant_id == tenant_a.pk
    assert entry.actor_id == user_a.pk
    assert entry.actor_email == user_a.email
    assert entry.payload["channel_detail"] == {
        "workspace": "alpha",
        "team_id": "TALPHA",
        "channel": "C1",
        "thread_ts": question["ts"],
        "slack_user_id": "UALICE",
        "slack_user_email": "alice@alpha.example",
    }
    assert SlackEvent.objects.get().status == SlackEvent.Status.DONE


def test_retries_and_duplicate_event_ids_give_exactly_one_reply(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    message = fake_slack.add_message("C1", user="UALICE", text=f"<@{BOT_A}> once please")
    payload = envelope(workspace_a, mention(message), event_id="Ev0DUPLICATE")
    first = deliver(Client(), "alpha", payload, secret=SECRET_A)
    retry = deliver(
        Client(),
        "alpha",
        payload,
        secret=SECRET_A,
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    again = deliver(Client(), "alpha", payload, secret=SECRET_A)
    assert [r.status_code for r in (first, retry, again)] == [200, 200, 200]
    assert retry.json() == {"ok": True, "duplicate": True}
    settled()
    assert SlackEvent.objects.count() == 1
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert len(upstream.requests_to("gpt-4o")) == 1


def test_later_mention_continues_the_thread_with_earlier_mentions_and_replies_as_context(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer, tenant_a: Tenant
) -> None:
    upstream.script("gpt-4o", up.normal("Tokyo is big."), up.normal("About 14 million."))
    first = ask(fake_slack, workspace_a, f"<@{BOT_A}> Tell me about Tokyo")
    settled(1)
    fake_slack.add_message("C1", user="UCAROL", text="lunch anyone? (not for the bot)", thread_ts=first["ts"])
    ask(fake_slack, workspace_a, f"<@{BOT_A}> How many people live there?", thread_ts=first["ts"])
    settled(2)
    assert sent_messages(upstream) == [
        {"role": "user", "content": "Tell me about Tokyo"},
        {"role": "assistant", "content": "Tokyo is big."},
        {"role": "user", "content": "How many people live there?"},
    ]
    assert Conversation.objects.filter(tenant=tenant_a).count() == 1
    conversation = Conversation.objects.get()
    assert [m.role for m in conversation.messages.order_by("pk")] == ["user", "assistant", "user", "assistant"]
    assert reply_text(fake_slack, "C1", first["ts"]).startswith("About 14 million.")
    assert len(fake_slack.bot_messages("C1", first["ts"])) == 2


def test_thread_context_setting_includes_other_messages_with_their_authors(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    workspace_a.include_thread_context = True
    workspace_a.save()
    parent = fake_slack.add_message(
        "C1", user="UCAROL", text="The build is red since <https://ci.example/1|run 1> &amp; I'm stuck"
    )
    ask(fake_slack, workspace_a, f"<@{BOT_A}> can you summarise <@UCAROL>'s problem?", thread_ts=parent["ts"])
    settled()
    assert sent_messages(upstream) == [
        {"role": "user", "content": "@carol: The build is red since run 1 (https://ci.example/1) & I'm stuck"},
        {"role": "user", "content": "@alice: can you summarise @carol's problem?"},
    ]


def test_thread_messages_without_a_mention_are_not_sent_by_default(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    parent = fake_slack.add_message("C1", user="UCAROL", text="secret plans, no bot here")
    ask(fake_slack, workspace_a, f"<@{BOT_A}> hello", thread_ts=parent["ts"])
    settled()
    assert sent_messages(upstream) == [{"role": "user", "content": "hello"}]


def test_direct_message_thread_is_the_whole_context_across_pages(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    fake_slack.replies_page_size = 2  # conversations.replies answers in pages: every page is read
    upstream.script("gpt-4o", up.normal("First answer."), up.normal("Second answer."))
    top = fake_slack.add_message("D1", user="UALICE", text="Plan a trip to Kyoto")
    deliver(Client(), "alpha", envelope(workspace_a, direct(top)), secret=SECRET_A)
    settled(1)
    assert sent_messages(upstream) == [{"role": "user", "content": "Plan a trip to Kyoto"}]
    assert fake_slack.calls_to("chat.postMessage")[0].params["thread_ts"] == top["ts"]
    fake_slack.add_message("D1", user="UALICE", text="in spring", thread_ts=top["ts"])  # no event: context only
    later = fake_slack.add_message("D1", user="UALICE", text="and with kids?", thread_ts=top["ts"])
    deliver(Client(), "alpha", envelope(workspace_a, direct(later)), secret=SECRET_A)
    settled(2)
    assert sent_messages(upstream) == [
        {"role": "user", "content": "Plan a trip to Kyoto"},
        {"role": "assistant", "content": "First answer."},
        {"role": "user", "content": "in spring"},
        {"role": "user", "content": "and with kids?"},
    ]
    assert len(list(fake_slack.calls_to("conversations.replies"))) >= 2
    assert Conversation.objects.get(slack_key=f"alpha:D1:{top['ts']}").messages.count() == 4


def test_a_new_top_level_dm_starts_a_new_conversation(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    for text in ("first topic", "second topic"):
        message = fake_slack.add_message("D1", user="UALICE", text=text)
        deliver(Client(), "alpha", envelope(workspace_a, direct(message)), secret=SECRET_A)
    settled(2)
    assert Conversation.objects.count() == 2
    assert sent_messages(upstream) == [{"role": "user", "content": "second topic"}]


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({"user": BOT_A, "text": "my own reply"}, id="own message"),
        pytest.param({"user": "UOTHER", "bot_id": "BOTHER", "text": "another bot"}, id="other bot"),
        pytest.param({"subtype": "bot_message", "bot_id": "BOTHER", "text": "legacy bot"}, id="bot_message"),
        pytest.param({"subtype": "message_changed", "message": {"text": "edited"}}, id="message_changed"),
        pytest.param({"subtype": "message_deleted", "deleted_ts": "1.2"}, id="message_deleted"),
        pytest.param({"subtype": "channel_join", "user": "UALICE", "text": "joined"}, id="channel_join"),
    ],
)
def test_bot_messages_edits_and_other_subtypes_are_ignored(
    event: dict[str, Any], workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    full = {"type": "message", "channel": "D1", "channel_type": "im", "ts": fake_slack.next_ts(), **event}
    response = deliver(Client(), "alpha", envelope(workspace_a, full), secret=SECRET_A)
    assert response.status_code == 200
    assert response.json()["ignored"]
    assert SlackEvent.objects.count() == 0
    assert fake_slack.calls == []
    assert upstream.requests_to("gpt-4o") == []


def test_channel_messages_without_mention_are_ignored(workspace_a: SlackWorkspace, fake_slack: FakeSlack) -> None:
    message = fake_slack.add_message("C1", user="UALICE", text="hi all")
    payload = envelope(workspace_a, {**message, "channel": "C1", "channel_type": "channel"})
    assert deliver(Client(), "alpha", payload, secret=SECRET_A).json()["ignored"] == "not a direct message"


def test_long_answer_is_split_over_several_messages_and_nothing_is_lost(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    paragraphs = [f"Paragraph {i}: " + " ".join(f"word{i}-{j}" for j in range(60)) for i in range(40)]
    long_answer = "\n\n".join(paragraphs)
    assert len(long_answer) > 3 * 3000
    upstream.script("gpt-4o", up.normal(long_answer))
    question = ask(fake_slack, workspace_a, f"<@{BOT_A}> write a lot")
    settled()
    parts = [m["text"] for m in fake_slack.bot_messages("C1", question["ts"])]
    assert len(parts) >= 4
    assert all(len(p) <= 4000 for p in parts)
    body, footer = parts[-1].split(FOOTER_SEPARATOR)
    assert "".join([*parts[:-1], body]) == long_answer
    assert all(FOOTER_SEPARATOR not in p for p in parts[:-1])
    assert "-from:@officeai" in footer


def test_streaming_reply_updates_the_placeholder_about_once_a_second(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.stream_tokens(75, rate=30))  # ~2.5 s of tokens
    question = ask(fake_slack, workspace_a, f"<@{BOT_A}> count slowly")
    settled()
    updates = fake_slack.calls_to("chat.update")
    assert 2 <= len(updates) <= 5  # a progress update or two, then the final text
    assert updates[0].params["text"].endswith(" …")
    assert FOOTER_SEPARATOR in updates[-1].params["text"]
    assert len(fake_slack.bot_messages("C1", question["ts"])) == 1


def test_model_errors_become_a_clear_reply(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.prompt_filtered("violence"))
    question = ask(fake_slack, workspace_a, f"<@{BOT_A}> something the filter blocks")
    settled()
    text = reply_text(fake_slack, "C1", question["ts"])
    assert text.startswith(":warning: ")
    assert "content safety filter" in text.split(FOOTER_SEPARATOR)[0]
    assert FOOTER_SEPARATOR in text
    entry = AuditOutbox.objects.get(event_type="llm.chat")
    assert (entry.channel, entry.status) == ("slack", "prompt_filtered")


def test_model_outage_becomes_a_clear_reply(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.server_error(), up.server_error(), up.server_error())
    upstream.script("gpt-4o-eu", up.server_error(), up.server_error(), up.server_error())
    question = ask(fake_slack, workspace_a, f"<@{BOT_A}> are you there?")
    settled()
    text = reply_text(fake_slack, "C1", question["ts"])
    assert text.startswith(":warning: ")
    assert Message.objects.get(role="assistant").status == Message.Status.ERROR


def test_huge_message_gets_a_reply_about_the_limit_and_no_model_call(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    question = ask(fake_slack, workspace_a, f"<@{BOT_A}> " + "x" * 40_000)
    settled()
    text = reply_text(fake_slack, "C1", question["ts"])
    assert "too long" in text
    assert "32,000" in text
    assert FOOTER_SEPARATOR in text
    assert upstream.requests_to("gpt-4o") == []
    assert Message.objects.count() == 0


def test_tenant_notice_is_used_in_the_workspace_language(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer, tenant_a: Tenant
) -> None:
    from chat.models import Notice

    Notice.objects.create(tenant=tenant_a, slack_text_ja="機密情報はWeb版へ。", slack_text_en="Confidential: web only.")
    workspace_a.notice_language = SlackWorkspace.Language.JA
    workspace_a.save()
    question = ask(fake_slack, workspace_a, f"<@{BOT_A}> hi")
    settled()
    footer = reply_text(fake_slack, "C1", question["ts"]).split(FOOTER_SEPARATOR)[1]
    assert footer.startswith("機密情報はWeb版へ。")
    assert "-from:@officeai" in footer


def test_unknown_slack_user_is_recorded_with_their_email_and_no_user(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer
) -> None:
    ask(fake_slack, workspace_a, f"<@{BOT_A}> hi", user="UCAROL")
    settled()
    assert Conversation.objects.get().user is None
    entry = AuditOutbox.objects.get(event_type="llm.chat")
    assert entry.actor_id is None
    assert entry.actor_email == "carol@elsewhere.example"
    assert entry.payload["channel_detail"]["slack_user_id"] == "UCAROL"


def test_workspace_of_tenant_b_never_touches_tenant_a(
    workspace_a: SlackWorkspace,
    workspace_b: SlackWorkspace,
    fake_slack: FakeSlack,
    upstream: up.UpstreamServer,
    tenant_a: Tenant,
    tenant_b: Tenant,
    user_a: User,
    user_b: User,
) -> None:
    # Alice's email is a tenant-A user; through B's workspace she must not be linked to A's account.
    message = fake_slack.add_message("C9", user="UALICE", text="<@UBOTB> hello from beta")
    deliver(Client(), "beta", envelope(workspace_b, mention(message, "C9")), secret=SECRET_B)
    message = fake_slack.add_message("C9", user="UBOB", text="<@UBOTB> and me")
    deliver(Client(), "beta", envelope(workspace_b, mention(message, "C9")), secret=SECRET_B)
    settled(2)
    assert Conversation.objects.filter(tenant=tenant_a).count() == 0
    assert Message.objects.filter(tenant=tenant_a).count() == 0
    conversations = Conversation.objects.filter(tenant=tenant_b).order_by("pk")
    assert [c.user for c in conversations] == [None, user_b]
    assert all(c.slack_key.startswith("beta:") for c in conversations)
    entries = AuditOutbox.objects.filter(event_type="llm.chat")
    assert {e.tenant_id for e in entries} == {tenant_b.pk}
    assert upstream.requests_to("o3-mini")
    assert not upstream.requests_to("gpt-4o")
    assert {c.token for c in fake_slack.calls} == {"xoxb-beta-token"}


def test_secrets_are_encrypted_at_rest(workspace_a: SlackWorkspace) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT signing_secret, bot_token FROM slack_slackworkspace WHERE id = %s", [workspace_a.pk])
        raw_secret, raw_token = cursor.fetchone()
    assert raw_secret.startswith("fernet:")
    assert raw_token.startswith("fernet:")
    assert SECRET_A not in raw_secret
    assert "xoxb" not in raw_token
    assert SlackWorkspace.objects.get(pk=workspace_a.pk).bot_token == "xoxb-alpha-token"
