"""Plain values the client layer works on. The Django side builds them from its models; nothing here touches the ORM."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import urlsplit


class ProviderKind(StrEnum):
    AZURE_DATED = "azure_dated"  # {endpoint}/openai/deployments/{name}/chat/completions?api-version=
    AZURE_V1 = "azure_v1"  # {endpoint}/openai/v1/, no api-version, model = deployment name
    OPENAI_COMPATIBLE = "openai_compatible"  # any base URL (api.openai.com/v1, a local server); Bearer key
    FAKE = "fake"  # built in, no HTTP: fake://?delay=0.02


@dataclass(frozen=True)
class DeploymentSpec:
    id: int
    label: str
    kind: ProviderKind
    endpoint: str
    deployment_name: str
    api_version: str
    api_key: str = field(repr=False)
    connect_timeout: float = 5
    first_token_timeout: float = 30
    stall_timeout: float = 30
    total_timeout: float = 600
    proxy: str = field(default="", repr=False)  # outbound HTTP(S) proxy URL; empty: none (may hold credentials)

    def __repr__(self) -> str:
        # Written out so the key can never show up in logs, tracebacks or audit details.
        return (
            f"DeploymentSpec(id={self.id!r}, label={self.label!r}, kind={self.kind.value!r}, "
            f"endpoint={self.endpoint!r}, deployment_name={self.deployment_name!r}, api_version={self.api_version!r})"
        )

    @property
    def host(self) -> str:
        """Host (and port) of the endpoint, for audit and admin messages."""
        if self.kind is ProviderKind.FAKE:
            return "fake"
        parts = urlsplit(self.endpoint)
        return parts.netloc.rpartition("@")[2] or self.endpoint


@dataclass(frozen=True)
class ModelSpec:
    label: str
    family: str
    version: str
    token_param: Literal["max_tokens", "max_completion_tokens"]
    temperature_allowed: bool
    system_role: Literal["system", "developer", "none"]
    streaming: bool
    usage_in_stream: bool
    reasoning_efforts: tuple[str, ...]
    context_window: int
    max_output_tokens: int
    deployments: tuple[DeploymentSpec, ...]  # first is primary, the rest are fallbacks in order


@dataclass(frozen=True)
class ChatParams:
    temperature: float | None = None
    max_output_tokens: int | None = None
    reasoning_effort: str | None = None
    user: str | None = None


# Events ------------------------------------------------------------------------------------------------------------
#
# Order of one reply: per attempt a RequestInfo, then FilterAnnotation/TextDelta events, then (if it failed over) an
# Attempt(outcome="failed_over"). The last attempt ends with Attempt, then either
#   Usage, Finish                    - an answer (Finish.status ok / length / completion_filtered)
#   Error                            - nothing was answered (the Error is the last event)
#   Error, Usage, Finish(truncated)  - part of an answer was streamed, then it broke (stall, drop, in-stream error)
# so the last event is always Finish or Error.


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class FilterAnnotation:
    stage: Literal["prompt", "completion"]
    results: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    reasoning_tokens: int | None
    estimated: bool
    cached_tokens: int | None = None  # prompt tokens served from the provider's prompt cache (cheaper)


FinishStatus = Literal["ok", "completion_filtered", "truncated", "length"]


@dataclass(frozen=True, slots=True)
class Finish:
    reason: str
    status: FinishStatus


@dataclass(frozen=True, slots=True)
class Error:
    kind: str
    message: str  # translated, in words an end user understands
    retryable: bool
    status_code: int | None = None
    code: str | None = None
    retry_after: float | None = None
    request_id: str | None = None
    detail: str = ""  # technical, for the audit log and the admin


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """Exactly what one attempt sent (the key travels in a header and is never part of this)."""

    params: dict[str, Any]
    messages: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Attempt:
    deployment_id: int
    deployment_label: str
    endpoint_host: str
    kind: str
    api_version: str
    deployment_name: str
    outcome: Literal["ok", "failed_over", "error"]
    error_kind: str | None
    status_code: int | None
    request_id: str | None
    started_at: datetime
    first_token_ms: float | None
    duration_ms: float


LLMEvent = TextDelta | FilterAnnotation | Usage | Finish | Error | RequestInfo | Attempt


@dataclass(frozen=True)
class ConnectionTestResult:
    ok: bool
    latency_ms: float | None
    upstream_model: str | None
    error: Error | None
    admin_message: str
