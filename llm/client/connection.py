"""The admin's "Test connection" (and test-on-save): one tiny, non-streamed, real call to a deployment."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from llm.client import errors
from llm.client.clients import new_client
from llm.client.errors import gettext_noop
from llm.client.fake import FAKE_MODEL
from llm.client.request import PreparedRequest, build_request
from llm.client.types import ChatParams, ConnectionTestResult, DeploymentSpec, ModelSpec, ProviderKind

TEST_MAX_TOKENS = 16
TEST_PROMPT = "Reply with the single word OK."
MSG_OK = gettext_noop("Connected in %(ms)s ms; the upstream reports the model “%(model)s”.")


async def test_connection(deployment: DeploymentSpec, model: ModelSpec | None) -> ConnectionTestResult:
    """Call ``deployment`` once. With ``model``, the request uses its capability flags, so a wrong flag shows up
    here (e.g. ``max_tokens`` sent to a reasoning model) rather than when a user chats."""
    if deployment.kind is ProviderKind.FAKE:
        return ConnectionTestResult(True, 0.0, FAKE_MODEL, None, errors.translate(MSG_OK, ms=0, model=FAKE_MODEL))
    messages: list[dict[str, Any]] = [{"role": "user", "content": TEST_PROMPT}]
    if model is not None:
        request = build_request(
            model, deployment, messages, ChatParams(max_output_tokens=TEST_MAX_TOKENS), stream=False
        )
    else:
        # Without a model version the token parameter is unknown (reasoning models reject max_tokens): send none.
        request = PreparedRequest(params={"model": deployment.deployment_name, "stream": False}, messages=messages)
    # A client of its own, closed at the end: this often runs in a short-lived loop (async_to_sync in the admin).
    client = new_client(deployment)
    create: Any = client.chat.completions.create
    started = time.perf_counter()
    try:
        async with asyncio.timeout(
            min(deployment.first_token_timeout + deployment.connect_timeout, deployment.total_timeout)
        ):
            completion = await create(**request.kwargs())
    except TimeoutError:
        error = errors.make_error(errors.TIMEOUT, detail=f"no answer within {deployment.first_token_timeout:g} s")
        return ConnectionTestResult(False, None, None, error, errors.admin_message(error, deployment))
    except Exception as exc:
        error = errors.error_from_exception(exc, api_key=deployment.api_key)
        return ConnectionTestResult(False, None, None, error, errors.admin_message(error, deployment))
    finally:
        await client.close()
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    upstream_model = getattr(completion, "model", None) or None
    message = errors.translate(MSG_OK, ms=f"{latency_ms:.0f}", model=upstream_model or "?")
    return ConnectionTestResult(True, latency_ms, upstream_model, None, message)


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, despite the name
