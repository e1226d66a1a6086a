"""The model client layer: one async function streams a reply from whichever provider serves a model version.

No ORM in here: the Django side turns its rows into the plain specs of ``chat.llm.types`` (see chat/specs.py).

    async with contextlib.aclosing(stream_chat(model, messages, ChatParams(temperature=0.2))) as events:
        async for event in events:
            match event:
                case TextDelta(text=text): ...
                case Finish() | Error(): ...
"""

from chat.llm.clients import aclose_clients, client_for, drop_client
from chat.llm.connection import test_connection
from chat.llm.errors import FAILOVER_KINDS, admin_message, error_from_exception
from chat.llm.request import PreparedRequest, build_request
from chat.llm.stream import stream_chat
from chat.llm.tokens import estimate_messages_tokens, estimate_tokens
from chat.llm.types import (
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
