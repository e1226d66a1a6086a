"""Answers as usage: what one finished answer adds to the rollup (written with the answer, in its transaction), and
``usage_rebuild``, which recomputes days of the rollup from the saved answers. Both read the same fields, kept in
``Message.usage``, so a rebuild gives what the live rollup gave."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from django.conf import settings

from chat.models import Message
from chat.outcome import ReplyOutcome
from chat.selectors import answers_finished_between
from usage.periods import local_day
from usage.selectors import tenant_time_zones
from usage.services import TurnUsage, turn_cost, usage_replace


class Turn(Protocol):
    """What of a ``chat.services.TurnStart`` the rollup reads."""

    @property
    def tenant_id(self) -> int: ...
    @property
    def speaker(self) -> str: ...
    @property
    def speaker_email(self) -> str: ...
    @property
    def model_label(self) -> str: ...
    @property
    def model_version_id(self) -> int: ...
    @property
    def time_zone(self) -> str: ...
    @property
    def deployments(self) -> dict[int, dict[str, str]]: ...


def rollup_outcome(status: str, error_kind: str = "") -> str:
    """The rollup's outcome: the answer's status, with an error's kind (``error:rate_limited``)."""
    if status == "error":
        return f"error:{error_kind or 'unknown'}"
    return status


def _user_id(speaker: str) -> int | None:
    kind, _, value = speaker.partition(":")
    return int(value) if kind == "user" and value.isdigit() else None


def _turn(
    *,
    tenant_id: int,
    day: date,
    speaker: str,
    speaker_email: str,
    model_label: str,
    model_version_id: int | None,
    channel: str,
    usage: dict[str, Any],
    user_id: int | None = None,
) -> TurnUsage:
    input_tokens = int(usage.get("prompt_tokens") or 0)
    cached = int(usage.get("cached_tokens") or 0)
    output = int(usage.get("completion_tokens") or 0)
    cost, currency = turn_cost(
        model_version_id=model_version_id,
        day=day,
        input_tokens=input_tokens,
        cached_tokens=cached,
        output_tokens=output,
    )
    ttft, duration = usage.get("ttft_ms"), usage.get("duration_ms")
    return TurnUsage(
        tenant_id=tenant_id,
        day=day,
        speaker=speaker,
        user_id=user_id if user_id is not None else _user_id(speaker),
        speaker_email=speaker_email,
        model_label=model_label,
        model_version_id=model_version_id,
        channel=channel,
        deployment=str(usage.get("deployment") or ""),
        outcome=str(usage.get("outcome") or "ok"),
        input_tokens=input_tokens,
        cached_tokens=cached,
        output_tokens=output,
        reasoning_tokens=int(usage.get("reasoning_tokens") or 0),
        estimated=bool(usage.get("estimated")),
        ttft_ms=None if ttft is None else round(ttft),
        duration_ms=None if duration is None else round(duration),
        cost_micros=cost,
        currency=currency,
    )


def _counted(*, usage: dict[str, Any], **fields: Any) -> tuple[TurnUsage, dict[str, Any]]:
    """The rollup's row for an answer, and its ``Message.usage`` with the cost the row counted."""
    turn = _turn(usage=usage, **fields)
    usage.update(cost_micros=turn.cost_micros, currency=turn.currency)
    return turn, usage


def answer_usage(*, start: Turn, outcome: ReplyOutcome, channel: str) -> tuple[TurnUsage, dict[str, Any]]:
    """What a finished answer adds to the rollup, and the ``Message.usage`` that lets a rebuild count it again."""
    timings = outcome.timings()
    snapshot = start.deployments.get(outcome.deployment_id) if outcome.deployment_id else None
    day = local_day(outcome.received_at, start.time_zone or settings.TIME_ZONE)
    usage: dict[str, Any] = {
        **outcome.usage_dict(),
        "day": day.isoformat(),
        "outcome": rollup_outcome(outcome.status, outcome.error.kind if outcome.error else ""),
        "deployment": (snapshot or {}).get("deployment_label", ""),
        "ttft_ms": timings["ttft_ms"],
        "duration_ms": timings["duration_ms"],
    }
    return _counted(
        tenant_id=start.tenant_id,
        day=day,
        speaker=start.speaker,
        speaker_email=start.speaker_email,
        model_label=start.model_label,
        model_version_id=start.model_version_id,
        channel=channel,
        usage=usage,
    )


def interrupted_usage(
    *, answer: Message, channel: str, prompt_tokens: int, completion_tokens: int, tz: str
) -> tuple[TurnUsage, dict[str, Any]]:
    """An answer closed by the stale sweep: its process died, so the tokens are estimated."""
    day = local_day(answer.created_at, tz)
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "reasoning_tokens": None,
        "estimated": True,
        "day": day.isoformat(),
        "outcome": "interrupted",
        "deployment": "",
        "ttft_ms": None,
        "duration_ms": None,
    }
    return _counted(
        tenant_id=answer.tenant_id,
        day=day,
        speaker=answer.speaker,
        speaker_email=answer.speaker_email,
        model_label=answer.model_label,
        model_version_id=answer.model_version_id,
        channel=channel,
        usage=usage,
        user_id=answer.conversation.user_id if not answer.speaker else None,
    )


def _from_message(message: Message, tz: str) -> list[TurnUsage]:
    """The calls an answer stands for: itself, and the title call it was the subject of, if any."""
    usage = dict(message.usage or {})
    if usage.get("imported"):
        return []  # brought over from chatbot-ui: no call of ours
    title_call = usage.pop("title_call", None)
    stored_day = usage.get("day")
    day = date.fromisoformat(stored_day) if stored_day else local_day(message.created_at, tz)
    usage.setdefault("outcome", rollup_outcome(message.status, message.error_code))
    common: dict[str, Any] = {
        "tenant_id": message.tenant_id,
        "speaker": message.speaker,
        "speaker_email": message.speaker_email,
        "model_label": message.model_label,
        "model_version_id": message.model_version_id,
        "channel": message.conversation.source,
        "user_id": message.conversation.user_id if not message.speaker else None,
    }
    turns = [_turn(day=day, usage=usage, **common)]
    if isinstance(title_call, dict) and title_call.get("day"):
        turns.append(_turn(day=date.fromisoformat(title_call["day"]), usage=title_call, **common))
    return turns


def usage_turns_from_messages(*, since: date, until: date, tenant_id: int | None = None) -> Iterator[TurnUsage]:
    """Every saved answer whose usage day is within ``since``..``until`` (inclusive)."""
    zones = tenant_time_zones()
    # A local day is within a day of the UTC one: read a little more, keep what falls inside.
    start = datetime.combine(since - timedelta(days=1), time.min, tzinfo=UTC)
    end = datetime.combine(until + timedelta(days=2), time.min, tzinfo=UTC)
    for message in answers_finished_between(start=start, end=end, tenant_id=tenant_id):
        for turn in _from_message(message, zones.get(message.tenant_id, settings.TIME_ZONE)):
            if since <= turn.day <= until:
                yield turn


def usage_rebuild(*, since: date, until: date, tenant_id: int | None = None) -> int:
    """Recompute the rollup of ``since``..``until`` from the saved answers, at the prices in force on each day."""
    turns = usage_turns_from_messages(since=since, until=until, tenant_id=tenant_id)
    return usage_replace(since=since, until=until, tenant_id=tenant_id, turns=turns)
