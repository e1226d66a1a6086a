"""Build the chat-completions request from a model version's capability flags (azure-wire.md A6).

Callers always write ``system`` messages; the model version decides what goes on the wire: ``system``,
``developer``, or nothing (the text folded into the first user message, for models that accept neither).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llm.client.types import ChatParams, DeploymentSpec, ModelSpec

_INSTRUCTION_ROLES = frozenset({"system", "developer"})


@dataclass(frozen=True)
class PreparedRequest:
    params: dict[str, Any]  # every argument except the messages: model, stream, token limit, ...
    messages: list[dict[str, Any]]

    @property
    def stream(self) -> bool:
        return bool(self.params.get("stream"))

    def kwargs(self) -> dict[str, Any]:
        return {**self.params, "messages": self.messages}


def map_system_role(messages: Sequence[Mapping[str, Any]], system_role: str) -> list[dict[str, Any]]:
    """Messages with instruction roles as the model wants them; the input is not modified."""
    if system_role == "none":
        return _fold_instructions(messages)
    wanted = "developer" if system_role == "developer" else "system"
    return [
        {**message, "role": wanted} if message.get("role") in _INSTRUCTION_ROLES else dict(message)
        for message in messages
    ]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "\n".join(
            str(p.get("text") or "") for p in content if isinstance(p, Mapping) and p.get("type") == "text"
        )
    return ""


def _fold_instructions(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    instructions = "\n\n".join(
        text for m in messages if m.get("role") in _INSTRUCTION_ROLES if (text := _text_of(m.get("content")))
    )
    rest = [dict(m) for m in messages if m.get("role") not in _INSTRUCTION_ROLES]
    if not instructions:
        return rest
    for message in rest:
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                message["content"] = [{"type": "text", "text": instructions}, *content]
            else:
                message["content"] = f"{instructions}\n\n{content or ''}".rstrip()
            return rest
    return [{"role": "user", "content": instructions}, *rest]


def output_limit(model: ModelSpec, params: ChatParams) -> int | None:
    """The token limit to send: the caller's, capped at the model's output limit (0 means no known limit)."""
    wanted = params.max_output_tokens
    if model.max_output_tokens > 0:
        wanted = min(wanted, model.max_output_tokens) if wanted else model.max_output_tokens
    return wanted if wanted and wanted > 0 else None


def build_request(
    model: ModelSpec,
    deployment: DeploymentSpec,
    messages: Sequence[Mapping[str, Any]],
    params: ChatParams,
    *,
    stream: bool | None = None,
) -> PreparedRequest:
    """The request for one attempt. ``stream=False`` forces a non-streamed call (test connection)."""
    streaming = model.streaming if stream is None else stream and model.streaming
    body: dict[str, Any] = {"model": deployment.deployment_name, "stream": streaming}
    if streaming and model.usage_in_stream:
        body["stream_options"] = {"include_usage": True}
    limit = output_limit(model, params)
    if limit is not None:
        body[model.token_param] = limit
    # Reasoning models reject any temperature but the default, and unknown efforts (400 unsupported_value).
    if model.temperature_allowed and params.temperature is not None:
        body["temperature"] = params.temperature
    if params.reasoning_effort and params.reasoning_effort in model.reasoning_efforts:
        body["reasoning_effort"] = params.reasoning_effort
    if params.user:
        body["user"] = params.user
    return PreparedRequest(params=body, messages=map_system_role(messages, model.system_role))
