"""Budgets and per-minute limits, enforced before the upstream call for web and Slack alike: what ran out, when it
resets (in the company's time zone) and whom to ask; never overshot by more than one answer under concurrency."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import translation

from chat.models import Message
from chat.services import ChatRefused
from llm.models import ModelVersion
from slack.models import SlackWorkspace
from slack.tasks import slack_event_process_task
from tenants.models import Tenant, User
from tenants.services import user_create
from tests.slack.conftest import stored
from tests.slack.fake_slack import FakeSlack
from tests.upstream import server as up
from tests.usage.helpers import budget, price, turn
from usage.counters import counters
from usage.limits import LimitReached, Limits, budget_reserve, budget_settle
from usage.models import UsageDaily, UserLimit

pytestmark = pytest.mark.django_db(transaction=True)


def used(tenant: Tenant) -> int:
    return sum(r.input_tokens + r.output_tokens for r in UsageDaily.objects.filter(tenant=tenant))


def test_company_budget_reached_mid_month_refuses_web_with_its_code(
    tenant_a: Tenant, tenant_b: Tenant, user_a: User, admin_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    turn(tenant_a, user_a)
    budget(tenant_a, monthly_tokens=used(tenant_a) + 1)  # mid-month, almost nothing left: the next prompt won't fit
    calls = len(upstream.requests_to("gpt-4o"))
    with translation.override("en"), pytest.raises(ChatRefused) as wall:
        turn(tenant_a, user_a, "more")
    assert wall.value.code == "budget_exhausted"
    message = wall.value.message
    assert "Your company's Office AI budget for this month is used up" in message
    assert "(Asia/Tokyo)" in message  # when it starts again, in the company's time zone
    assert admin_a.email in message  # whom to ask: the company's administrators
    assert len(upstream.requests_to("gpt-4o")) == calls  # no upstream call
    assert Message.objects.filter(tenant=tenant_a).count() == 2  # the refused turn left no rows behind
    with translation.override("ja"), pytest.raises(ChatRefused) as wall_ja:
        turn(tenant_a, user_a, "もっと")
    assert "今月" in wall_ja.value.message


def test_company_budget_in_slack_is_a_warning_in_the_thread(
    workspace_a: SlackWorkspace, fake_slack: FakeSlack, upstream: up.UpstreamServer, tenant_a: Tenant
) -> None:
    event, message = stored(workspace_a, fake_slack, "first")
    assert slack_event_process_task.apply(args=(event.pk,)).get(disable_sync_subtasks=False) == "done"
    budget(tenant_a, monthly_tokens=used(tenant_a) + 1, contact="it-help@alpha.example")
    calls = len(upstream.requests_to("gpt-4o"))
    event, message = stored(workspace_a, fake_slack, "second")
    assert slack_event_process_task.apply(args=(event.pk,)).get(disable_sync_subtasks=False) == "refused"
    reply = fake_slack.bot_messages("C1", message["ts"])[-1]["text"]
    assert reply.startswith(":warning: Your company&#39;s Office AI budget") or "budget for this month" in reply
    assert "it-help@alpha.example" in reply
    assert len(upstream.requests_to("gpt-4o")) == calls


def test_personal_limits_default_from_the_company_and_overrides_win(
    tenant_a: Tenant, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    bob = user_create(tenant=tenant_a, email="bob@alpha.example")
    turn(tenant_a, user_a)
    allowance = used(tenant_a) + 1
    budget(tenant_a, user_daily_tokens=allowance)
    with translation.override("en"), pytest.raises(ChatRefused) as wall:
        turn(tenant_a, user_a)
    assert wall.value.code == "budget_exhausted"
    assert f"today's allowance of {allowance:,} tokens" in wall.value.message
    turn(tenant_a, bob)  # Bob's day is his own
    UserLimit.objects.create(tenant=tenant_a, user=user_a, daily_tokens=1_000_000)
    turn(tenant_a, user_a)  # Alice's own limit overrides the company default


def test_requests_per_minute(tenant_a: Tenant, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer) -> None:
    budget(tenant_a, user_requests_per_minute=2)
    turn(tenant_a, user_a)
    turn(tenant_a, user_a)
    with translation.override("en"), pytest.raises(ChatRefused) as wall:
        turn(tenant_a, user_a)
    assert wall.value.code == "too_many_requests"
    assert "2 a minute" in wall.value.message


def test_budgets_reset_at_the_companys_midnight_and_month(tenant_a: Tenant, tenant_b: Tenant) -> None:
    limits = Limits(time_zone="Asia/Tokyo", company_monthly_tokens=100, user_daily_tokens=50)
    last_minute = datetime(2026, 11, 30, 14, 59, tzinfo=UTC)  # 23:59 on 30 November in Tokyo
    ticket = budget_reserve(
        tenant_id=tenant_a.pk, speaker="user:1", limits=limits, reply_id=1, prompt_tokens=10, max_output_tokens=10,
        price=None, now=last_minute,
    )  # fmt: skip
    budget_settle(ticket, tokens=100, micros=0, currency="")  # the month's budget is used up
    with pytest.raises(LimitReached) as wall:
        budget_reserve(
            tenant_id=tenant_a.pk, speaker="user:2", limits=limits, reply_id=2, prompt_tokens=1, max_output_tokens=1,
            price=None, now=last_minute,
        )  # fmt: skip
    assert "(Asia/Tokyo)" in wall.value.message
    # Tenant B's month is another counter.
    budget_reserve(
        tenant_id=tenant_b.pk, speaker="user:2", limits=limits, reply_id=3, prompt_tokens=1, max_output_tokens=1,
        price=None, now=last_minute,
    )  # fmt: skip
    # One minute later it is 1 December in Tokyo (still 30 November in UTC): a new month and a new day.
    midnight = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert budget_reserve(
        tenant_id=tenant_a.pk, speaker="user:1", limits=limits, reply_id=4, prompt_tokens=10, max_output_tokens=10,
        price=None, now=midnight,
    )  # fmt: skip


def test_concurrent_sends_at_the_edge_overshoot_by_at_most_one_answer(tenant_a: Tenant) -> None:
    limit, prompt, max_output = 1_000, 10, 200
    limits = Limits(time_zone="Asia/Tokyo", company_monthly_tokens=limit)
    budget_reserve(  # load the counter once (as the first turn of the month does)
        tenant_id=tenant_a.pk, speaker="user:1", limits=limits, reply_id=0, prompt_tokens=0, max_output_tokens=0,
        price=None,
    )  # fmt: skip
    counters().settle({f"t:{tenant_a.pk}:{_month()}:tok": 700}, reply="0")  # 700 of 1,000 used
    admitted: list[int] = []
    lock = threading.Lock()

    def send(reply_id: int) -> None:
        try:
            ticket = budget_reserve(
                tenant_id=tenant_a.pk, speaker=f"user:{reply_id}", limits=limits, reply_id=reply_id,
                prompt_tokens=prompt, max_output_tokens=max_output, price=None,
            )  # fmt: skip
        except LimitReached:
            return
        finally:
            connection.close()
        with lock:
            admitted.append(reply_id)
        budget_settle(ticket, tokens=prompt + max_output, micros=0, currency="")  # each answer uses all it may

    threads = [threading.Thread(target=send, args=(i,)) for i in range(1, 31)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = 700 + len(admitted) * (prompt + max_output)
    assert 1 <= len(admitted) <= 2  # 300 left: one answer fits its reservation, a second may start at the edge
    assert total <= limit + max_output


def _month() -> str:
    from django.utils import timezone

    from usage.periods import periods

    return periods(timezone.now(), "Asia/Tokyo").month_key


def test_cost_budget_counts_prices_in_its_currency(
    tenant_a: Tenant, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    price(gpt4o, "2026-01-01", inp="1000000", out="1000000")  # a token costs 1 USD: easy to count
    budget(tenant_a, monthly_cost=Decimal("20"), currency="USD")
    turn(tenant_a, user_a)  # 4 prompt and 14 answer tokens: 18 USD
    assert UsageDaily.objects.get(tenant=tenant_a).cost_micros == 18_000_000
    with pytest.raises(ChatRefused) as wall:
        turn(tenant_a, user_a)  # 18 USD used and a 4 USD prompt would pass 20
    assert wall.value.code == "budget_exhausted"
    price(gpt4o, "2026-01-02", inp="1000000", out="1000000", cur="EUR")
    from usage.prices import prices_changed

    prices_changed()
    turn(tenant_a, user_a)  # priced in EUR now: a USD budget does not count it


def test_reconcile_releases_reservations_of_answers_that_died(
    tenant_a: Tenant, user_a: User, gpt4o: ModelVersion
) -> None:
    from chat.services import chat_turn_start
    from chat.tasks import chat_usage_reconcile_task

    budget(tenant_a, monthly_tokens=10_000)
    start = chat_turn_start(tenant=tenant_a, user=user_a, conversation_id=None, text="dies")
    held = counters().reservations()
    assert any(str(start.assistant_message_id) in replies for replies in held.values())
    assert chat_usage_reconcile_task.apply().get() == [1, 0]  # still running: kept (one counter reloaded later)
    Message.objects.filter(pk=start.assistant_message_id).update(status=Message.Status.TRUNCATED)
    _dropped, released = chat_usage_reconcile_task.apply().get()
    assert released == 1
    assert not any(replies for replies in counters().reservations().values())


def test_no_limits_means_no_counter_at_all(tenant_a: Tenant, user_a: User, gpt4o: ModelVersion, upstream: Any) -> None:
    start, _ = turn(tenant_a, user_a)
    assert start.ticket is None
    assert counters().reservations() == {}


async def test_the_web_door_sends_the_wall_as_an_error_frame_with_its_code(
    user_a: User, tenant_a: Tenant, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    from asgiref.sync import sync_to_async

    from tests.chat.test_consumer import until
    from tests.chat.test_sessions import sockets

    await sync_to_async(budget)(tenant_a, user_requests_per_minute=1)
    (socket,) = await sockets(user_a)
    await socket.send_json_to({"type": "chat.send", "request_id": "one", "conversation_id": None, "text": "hi"})
    await until(socket, "chat.done")
    await socket.send_json_to({"type": "chat.send", "request_id": "two", "conversation_id": None, "text": "again"})
    frame, _ = await until(socket, "error")
    assert frame["code"] == "too_many_requests"
    assert frame["request_id"] == "two"
    assert len(upstream.requests_to("gpt-4o")) == 1
    await socket.disconnect()
