"""The usage rollup: every finished answer, web or Slack, adds to its day x person x model x channel row in the
transaction that saves it; prices apply by date; ``usage_rebuild`` gives back exactly the live rollup."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from chat.models import Conversation, Message
from chat.services import chat_stale_replies_close
from chat.usage import usage_rebuild
from llm.models import ModelVersion
from tenants.models import Tenant, User
from tests.conftest import wait_for
from tests.upstream import server as up
from tests.usage.helpers import budget, price, turn
from usage.models import UsageDaily
from usage.periods import local_day
from usage.prices import Price, prices_changed
from usage.services import turn_cost

pytestmark = pytest.mark.django_db(transaction=True)

COUNTERS = (
    "requests", "input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens", "estimated_requests",
    "ttft_ms_sum", "ttft_count", "duration_ms_sum", "cost_micros",
)  # fmt: skip


def rollup() -> dict[tuple[Any, ...], dict[str, Any]]:
    rows = UsageDaily.objects.values("tenant_id", "day", "speaker", "model_label", "channel", "outcome", *COUNTERS)
    return {(r["tenant_id"], r["day"], r["speaker"], r["model_label"], r["channel"], r["outcome"]): r for r in rows}


def test_a_finished_answer_adds_to_its_day_with_cost_at_that_days_price(
    tenant_a: Tenant,
    tenant_b: Tenant,
    user_a: User,
    user_b: User,
    gpt4o: ModelVersion,
    o3mini: ModelVersion,
    upstream: up.UpstreamServer,
) -> None:
    today = local_day(timezone.now(), "Asia/Tokyo")
    price(gpt4o, str(today - timedelta(days=30)), inp="2.50", out="10.00", cached="1.25")
    upstream.add_deployment("gpt-4o", cached_tokens=4)
    start, outcome = turn(tenant_a, user_a, "one two three")
    assert outcome.status == "ok"
    row = UsageDaily.objects.get(tenant=tenant_a)
    usage = outcome.usage
    assert usage is not None
    assert usage.estimated is False
    assert row.day == today
    assert row.speaker == f"user:{user_a.pk}"
    assert row.user_id == user_a.pk
    assert (row.channel, row.outcome, row.model_label) == ("web", "ok", gpt4o.label)
    assert (row.requests, row.input_tokens, row.output_tokens) == (1, usage.prompt_tokens, usage.completion_tokens)
    assert row.cached_tokens == 4
    expected = (Decimal(usage.prompt_tokens - 4) * Decimal("2.50") + 4 * Decimal("1.25")) / 1_000_000
    expected += Decimal(usage.completion_tokens) * Decimal("10.00") / 1_000_000
    assert row.cost_micros == int(expected * 1_000_000)
    assert row.currency == "USD"
    assert row.ttft_count == 1
    assert row.duration_ms_sum >= row.ttft_ms_sum
    saved = Message.objects.get(pk=start.assistant_message_id)
    assert saved.usage["day"] == today.isoformat()
    assert saved.usage["cost_micros"] == row.cost_micros
    # A second answer the same day adds to the same row; tenant B's stays its own.
    turn(tenant_a, user_a, "again")
    turn(tenant_b, user_b, "beta")
    assert UsageDaily.objects.get(tenant=tenant_a).requests == 2
    assert UsageDaily.objects.get(tenant=tenant_b).requests == 1
    assert UsageDaily.objects.get(tenant=tenant_b).cost_micros == 0  # o3-mini has no price: no cost, no guess


def test_errors_and_filters_are_counted_by_kind(
    tenant_a: Tenant, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    upstream.script("gpt-4o", up.server_error(), up.prompt_filtered(), up.normal("fine"))
    upstream.script("gpt-4o-eu", up.server_error())  # the fallback fails too: the answer is an error
    turn(tenant_a, user_a, "a")
    turn(tenant_a, user_a, "b")
    turn(tenant_a, user_a, "c")
    outcomes = dict(UsageDaily.objects.values_list("outcome", "requests"))
    assert outcomes == {"error:upstream_error": 1, "prompt_filtered": 1, "ok": 1}


def test_prices_apply_from_their_date_not_retroactively(gpt4o: ModelVersion, db: None) -> None:
    price(gpt4o, "2026-11-01", inp="2.00", out="8.00")
    price(gpt4o, "2026-11-20", inp="1.00", out="4.00", cur="USD")
    prices_changed()
    tokens = {"input_tokens": 1_000_000, "cached_tokens": 0, "output_tokens": 1_000_000}
    assert turn_cost(model_version_id=gpt4o.pk, day=date(2026, 10, 31), **tokens) == (0, "")  # before any price
    assert turn_cost(model_version_id=gpt4o.pk, day=date(2026, 11, 19), **tokens) == (10_000_000, "USD")
    assert turn_cost(model_version_id=gpt4o.pk, day=date(2026, 11, 20), **tokens) == (5_000_000, "USD")
    assert Price("USD", Decimal(1), Decimal("0.5"), Decimal(4)).cost(
        input_tokens=100, cached_tokens=500, output_tokens=0
    ) == Decimal("0.000050")  # cached never exceeds the prompt


def test_usage_rebuild_equals_the_live_rollup(
    tenant_a: Tenant,
    tenant_b: Tenant,
    user_a: User,
    user_b: User,
    gpt4o: ModelVersion,
    o3mini: ModelVersion,
    upstream: up.UpstreamServer,
) -> None:
    budget(tenant_b, time_zone="America/New_York")
    price(gpt4o, "2026-01-01", inp="2.50", out="10.00")
    upstream.script("gpt-4o", up.normal("one"), up.server_error(), up.normal("three"), up.stream_tokens(5))
    upstream.script("gpt-4o-eu", up.server_error())
    for text in ("a", "b", "c", "d"):
        turn(tenant_a, user_a, text)
    turn(tenant_b, user_b, "e")
    # An answer whose process died is closed by the sweep and counted as interrupted, with estimated tokens.
    start = turn_start_only(tenant_a, user_a)
    Message.objects.filter(pk=start.assistant_message_id).update(
        content="partial answer", updated_at=timezone.now() - timedelta(minutes=10)
    )
    assert chat_stale_replies_close() == 1
    live = rollup()
    assert sum(r["requests"] for r in live.values()) == 6
    interrupted = [r for k, r in live.items() if k[5] == "interrupted"]
    assert interrupted[0]["estimated_requests"] == 1
    today = timezone.localdate()
    counted = usage_rebuild(since=today - timedelta(days=1), until=today + timedelta(days=1))
    assert counted == 6
    assert rollup() == live
    # One tenant's rebuild leaves the other's rows alone.
    UsageDaily.objects.filter(tenant=tenant_b).update(requests=99)
    usage_rebuild(since=today - timedelta(days=1), until=today + timedelta(days=1), tenant_id=tenant_a.pk)
    assert UsageDaily.objects.get(tenant=tenant_b).requests == 99


def turn_start_only(tenant: Tenant, user: User) -> Any:
    from chat.services import chat_turn_start

    return chat_turn_start(tenant=tenant, user=user, conversation_id=None, text="will die")


def test_usage_rebuild_command(
    tenant_a: Tenant, user_a: User, gpt4o: ModelVersion, upstream: up.UpstreamServer
) -> None:
    turn(tenant_a, user_a)
    UsageDaily.objects.all().delete()
    out = StringIO()
    today = timezone.localdate()
    call_command("usage_rebuild", "--from", str(today), "--to", str(today), "--tenant", tenant_a.slug, stdout=out)
    assert "1 answers counted" in out.getvalue()
    assert UsageDaily.objects.get().requests == 1
    with pytest.raises(CommandError, match="--from must be a date"):
        call_command("usage_rebuild", "--from", "yesterday", "--to", str(today))
    with pytest.raises(CommandError, match="before --from"):
        call_command("usage_rebuild", "--from", str(today), "--to", str(today - timedelta(days=1)))
    with pytest.raises(CommandError, match="no tenant"):
        call_command("usage_rebuild", "--from", str(today), "--to", str(today), "--tenant", "nope")


def test_title_calls_are_counted_and_rebuilt_like_answers(
    tenant_a: Tenant,
    user_a: User,
    gpt4o: ModelVersion,
    upstream: up.UpstreamServer,
    settings: Any,
    celery_worker: object | None,
) -> None:
    settings.CHAT_MODEL_TITLES = True  # after the first answer, the model names the conversation
    upstream.script("gpt-4o", up.normal("An answer about the budget"), up.normal("Budget talk"))
    start, _ = turn(tenant_a, user_a, "What about the budget?")
    conversation = Message.objects.get(pk=start.assistant_message_id).conversation
    assert wait_for(lambda: Conversation.objects.get(pk=conversation.pk).title == "Budget talk", 20)
    live = rollup()
    assert sum(r["requests"] for r in live.values()) == 2  # the answer and the title call
    today = timezone.localdate()
    assert usage_rebuild(since=today - timedelta(days=1), until=today + timedelta(days=1)) == 2
    assert rollup() == live
