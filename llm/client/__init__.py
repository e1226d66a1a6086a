"""The model client layer: one async function streams a reply from whichever provider serves a model version.

No ORM in here: the Django side turns its rows into the plain specs of ``llm.client.types`` (see llm/specs.py).

    async with contextlib.aclosing(stream_chat(model, messages, ChatParams(temperature=0.2))) as events:
        async for event in events:
            match event:
                case TextDelta(text=text): ...
                case Finish() | Error(): ...
"""

from llm.client.clients import aclose_clients, client_for, drop_client
from llm.client.connection import test_connection
from llm.client.errors import FAILOVER_KINDS, admin_message, error_from_exception
from llm.client.request import PreparedRequest, build_request
from llm.client.stream import stream_chat
from llm.client.tokens import estimate_messages_tokens, estimate_tokens
from llm.client.types import (
    Attempt,
    ChatParams,
    ConnectionTestResult,
    DeploymentSpec,
    Error,
    FilterAnnotation,
    Finish,
    LLMEvent,
    ModelSpec,
    ProviderKind,
    RequestInfo,
    TextDelta,
    Usage,
)

__all__ = [
    "FAILOVER_KINDS",
    "Attempt",
    "ChatParams",
    "ConnectionTestResult",
    "DeploymentSpec",
    "Error",
    "FilterAnnotation",
    "Finish",
    "LLMEvent",
    "ModelSpec",
    "PreparedRequest",
    "ProviderKind",
    "RequestInfo",
    "TextDelta",
    "Usage",
    "aclose_clients",
    "admin_message",
    "build_request",
    "client_for",
    "drop_client",
    "error_from_exception",
    "estimate_messages_tokens",
    "estimate_tokens",
    "stream_chat",
    "test_connection",
]
