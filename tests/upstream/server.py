"""A real HTTP upstream that speaks the Azure OpenAI (dated and v1) and OpenAI chat-completions wire formats.

It runs aiohttp on 127.0.0.1 on a free port in its own thread with its own event loop, so sync Django tests, async
tests, other processes and benchmarks can all use it. The bytes follow shared/azure-wire.md (A3 stream shapes, A4
error bodies, A6 reasoning-model rules). Nothing here mocks the ``openai`` client: the client under test makes real
HTTP requests.

    with UpstreamServer() as upstream:
        upstream.add_deployment("gpt-4o", key="k1")
        upstream.script("gpt-4o", rate_limit(retry_after=2))  # the next request gets a 429, then normal answers
        ...  # point a client at upstream.url

Run it on its own for manual testing: ``python -m tests.upstream.server --port 8765``.
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web

DEFAULT_API_VERSIONS = frozenset(
    {"2024-10-21", "2024-12-01-preview", "2025-01-01-preview", "2024-08-01-preview", "2024-06-01"}
)
DEFAULT_KEY = "upstream-test-key"
DEFAULT_TEXT = "Hello! This is the test upstream answering your question in a few short words."

SAFE: dict[str, Any] = {"filtered": False, "severity": "safe"}
COMPLETION_FILTER_OK: dict[str, dict[str, Any]] = {"hate": SAFE, "self_harm": SAFE, "sexual": SAFE, "violence": SAFE}
PROMPT_FILTER_OK: dict[str, dict[str, Any]] = {
    **COMPLETION_FILTER_OK,
    "jailbreak": {"filtered": False, "detected": False},
}

# Azure error bodies, verbatim from azure-wire.md A4.
AZURE_401 = {
    "error": {
        "code": "401",
        "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
        "key for an active subscription and use a correct regional API endpoint for your resource.",
    }
}
AZURE_404_DEPLOYMENT = {
    "error": {
        "code": "DeploymentNotFound",
        "message": "The API deployment for this resource does not exist. If you created the deployment within the "
        "last 5 minutes, please wait a moment and try again.",
    }
}
AZURE_404_RESOURCE = {"error": {"code": "404", "message": "Resource not found"}}
AZURE_API_VERSION = {"error": {"code": "BadRequest", "message": "API version not supported"}}
AZURE_500 = {
    "error": {
        "message": "The server had an error while processing your request. Sorry about that! You can retry your "
        "request, or contact us through an Azure support request if the error persists.",
        "type": "server_error",
        "param": None,
        "code": None,
    }
}
OPENAI_401 = {
    "error": {
        "message": "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
}


def _prompt_filtered_body(category: str) -> dict[str, Any]:
    result: dict[str, Any] = {name: dict(value) for name, value in PROMPT_FILTER_OK.items()}
    result[category] = (
        {"filtered": True, "severity": "medium"} if category != "jailbreak" else {"filtered": True, "detected": True}
    )
    return {
        "error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management "
            "policy. Please modify your prompt and retry. To learn more about our content filtering policies please "
            "read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": result},
        }
    }


def _invalid_request(message: str, *, param: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


# ---------------------------------------------------------------------------------------------------------------
# Scenarios: what the next request to a deployment gets. One small dataclass; the factories below name the cases.
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    text: str | None = None
    tokens: int | None = None
    rate: float | None = None  # content chunks per second (None: as fast as possible)
    after_tokens: int = 0
    seconds: float = 0.0
    retry_after: float | None = None
    retry_after_header: bool = True
    clean: bool = False
    category: str = "violence"
    message: str | None = None


def normal(text: str = DEFAULT_TEXT, *, tokens: int | None = None, rate: float | None = None) -> Scenario:
    """A normal answer: streamed like Azure when ``stream`` is true, one JSON body otherwise."""
    return Scenario("normal", text=text, tokens=tokens, rate=rate)


def annotations(text: str = DEFAULT_TEXT, *, rate: float | None = None) -> Scenario:
    """Asynchronous Filter mode: annotation-only chunks (no ``delta``, ``id: ""``) between content chunks."""
    return Scenario("annotations", text=text, rate=rate)


def prompt_filtered(category: str = "violence") -> Scenario:
    """400 ``content_filter`` with ``innererror.content_filter_result`` flagging ``category``."""
    return Scenario("prompt_filtered", category=category)


def filter_mid_answer(after_tokens: int = 4, *, category: str = "protected_material_text") -> Scenario:
    """Some content, then a delta-less chunk with ``finish_reason: content_filter``, then ``[DONE]``."""
    return Scenario("filter_mid_answer", after_tokens=after_tokens, category=category)


def rate_limit(retry_after: float = 2, *, header: bool = True, message: str | None = None) -> Scenario:
    """429 with Azure's body; ``retry-after`` header unless ``header`` is false (then only the message says it)."""
    return Scenario("rate_limit", retry_after=retry_after, retry_after_header=header, message=message)


def server_error() -> Scenario:
    return Scenario("server_error")


def deployment_not_found() -> Scenario:
    return Scenario("deployment_not_found")


def bad_key() -> Scenario:
    return Scenario("bad_key")


def stall(after_tokens: int = 3, seconds: float = 5.0) -> Scenario:
    """Send ``after_tokens`` content chunks, then nothing for ``seconds`` while keeping the connection open."""
    return Scenario("stall", after_tokens=after_tokens, seconds=seconds)


def hang(seconds: float = 5.0) -> Scenario:
    """Accept the request and send nothing at all (not even headers) for ``seconds``."""
    return Scenario("hang", seconds=seconds)


def drop(after_tokens: int = 3, *, clean: bool = False) -> Scenario:
    """Close mid-stream with neither ``[DONE]`` nor a finish_reason.

    ``clean=False`` aborts the TCP connection (the client sees an incomplete body); ``clean=True`` ends the HTTP body
    properly, which the openai library reports as a normal end of stream.
    """
    return Scenario("drop", after_tokens=after_tokens, clean=clean)


def stream_tokens(n: int, rate: float | None = None) -> Scenario:
    """``n`` one-word content chunks at ``rate`` chunks per second (benchmarks)."""
    return Scenario("stream_tokens", tokens=n, rate=rate)


def in_stream_error(after_tokens: int = 0, message: str | None = None) -> Scenario:
    """``data: {"error": ...}`` inside a 200 stream (the openai library raises APIError)."""
    return Scenario("in_stream_error", after_tokens=after_tokens, message=message)


CUT_SHORT = frozenset({"stall", "drop", "filter_mid_answer", "in_stream_error"})  # stop after ``after_tokens``


@dataclass
class Deployment:
    name: str
    key: str
    model: str
    reasoning: bool = False
    streaming: bool = True  # o1 / o3-pro style deployments reject stream=true
    system_messages: bool = True  # o1-mini style deployments reject system/developer messages
    usage_in_stream: bool = True  # old api-versions reject stream_options
    cached_tokens: int = 0  # prompt tokens reported as served from the prompt cache
    queue: deque[Scenario] = field(default_factory=deque)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    json: Any
    route: str  # "azure_dated" | "azure_v1" | "openai"
    deployment: str | None
    scenario: str | None = None
    client_port: int | None = None  # the same port on two requests means the client reused its connection
    status: int | None = None
    chunks_sent: int = 0
    completed: bool = False  # the whole response was written
    disconnected: bool = False  # the client went away before the response was complete


class UpstreamServer:
    """The test upstream. ``start()``/``stop()`` or use it as a context manager; ``url`` is ``http://127.0.0.1:PORT``."""

    def __init__(
        self,
        *,
        key: str = DEFAULT_KEY,
        api_versions: frozenset[str] | set[str] = DEFAULT_API_VERSIONS,
        api_version_status: int = 400,
        port: int = 0,
    ) -> None:
        self.key = key  # the resource key: checked for deployments that do not exist
        self.api_versions = frozenset(api_versions)
        self.api_version_status = api_version_status
        self.requests: list[RecordedRequest] = []
        self._port = port
        self._deployments: dict[str, Deployment] = {}
        self._lock = threading.RLock()  # re-entrant: wait_for predicates may call requests_to()
        self._changed = threading.Condition(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self.url = ""

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> Self:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # reported to start() below
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="upstream-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/openai/deployments/{name}/chat/completions", self._azure_dated)
        app.router.add_post("/openai/v1/chat/completions", self._azure_v1)
        app.router.add_post("/v1/chat/completions", self._openai)
        # handler_cancellation: a client that goes away cancels the handler, so stalls end and disconnects are seen.
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=0.2)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self._port)
        await site.start()
        self._runner = runner
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"

    def stop(self) -> None:
        loop, runner, thread = self._loop, self._runner, self._thread
        if loop is None or thread is None:
            return
        if runner is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._loop = self._runner = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- configuration ------------------------------------------------------------------------------------------

    def add_deployment(
        self,
        name: str,
        *,
        key: str | None = None,
        reasoning: bool = False,
        model: str | None = None,
        streaming: bool = True,
        system_messages: bool = True,
        usage_in_stream: bool = True,
        cached_tokens: int = 0,
    ) -> Deployment:
        """Add (or replace) a deployment. ``reasoning`` applies the o-series rules of azure-wire.md A6."""
        deployment = Deployment(
            name=name,
            key=key or self.key,
            model=model or ("o3-mini-2025-01-31" if reasoning else "gpt-4o-2024-11-20"),
            reasoning=reasoning,
            streaming=streaming,
            system_messages=system_messages,
            usage_in_stream=usage_in_stream,
            cached_tokens=cached_tokens,
        )
        with self._lock:
            self._deployments[name] = deployment
        return deployment

    def remove_deployment(self, name: str) -> None:
        with self._lock:
            self._deployments.pop(name, None)

    def script(self, name: str, *scenarios: Scenario) -> None:
        """Queue scenarios for ``name``: each request to it consumes one; then answers are normal again."""
        with self._lock:
            self._deployments[name].queue.extend(scenarios)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            for deployment in self._deployments.values():
                deployment.queue.clear()

    # -- inspection ---------------------------------------------------------------------------------------------

    def requests_to(self, name: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.deployment == name]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until ``predicate()`` is true (re-checked whenever a request changes), or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.05))
        return True

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    # -- routes -------------------------------------------------------------------------------------------------

    async def _record(self, request: web.Request, route: str, deployment: str | None, body: Any) -> RecordedRequest:
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            json=body,
            route=route,
            deployment=deployment,
        )
        peer = request.transport.get_extra_info("peername") if request.transport else None
        record.client_port = peer[1] if peer else None
        with self._lock:
            self.requests.append(record)
        self._notify()
        return record

    @staticmethod
    async def _body(request: web.Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            return None

    async def _azure_dated(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        body = await self._body(request)
        record = await self._record(request, "azure_dated", name, body)
        deployment = self._deployments.get(name)
        if request.headers.get("api-key") != (deployment.key if deployment else self.key):
            return self._json(record, 401, AZURE_401)
        version = request.query.get("api-version")
        if version is None:
            return self._json(record, 404, AZURE_404_RESOURCE)
        if version not in self.api_versions:
            return self._json(record, self.api_version_status, AZURE_API_VERSION)
        if deployment is None:
            return self._json(record, 404, AZURE_404_DEPLOYMENT)
        return await self._answer(request, record, deployment, body, azure=True)

    async def _azure_v1(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        name = body.get("model") if isinstance(body, dict) else None
        record = await self._record(request, "azure_v1", name, body)
        deployment = self._deployments.get(name or "")
        presented = request.headers.get("api-key") or _bearer(request)
        if presented != (deployment.key if deployment else self.key):
            return self._json(record, 401, AZURE_401)
        if request.query.get("api-version", "preview") not in {"preview", "latest"}:
            message = "api-version query parameter is not allowed when using /v1 path"
            return self._json(record, 400, {"error": {"code": "BadRequest", "message": message}})
        if deployment is None:
            return self._json(record, 404, AZURE_404_DEPLOYMENT)
        return await self._answer(request, record, deployment, body, azure=True)

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        name = body.get("model") if isinstance(body, dict) else None
        record = await self._record(request, "openai", name, body)
        deployment = self._deployments.get(name or "")
        if _bearer(request) != (deployment.key if deployment else self.key):
            return self._json(record, 401, OPENAI_401)
        if deployment is None:
            message = f"The model `{name}` does not exist or you do not have access to it."
            return self._json(record, 404, _invalid_request(message, param=None, code="model_not_found"))
        return await self._answer(request, record, deployment, body, azure=False)

    # -- answering ----------------------------------------------------------------------------------------------

    def _json(
        self, record: RecordedRequest, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> web.Response:
        record.status = status
        record.completed = True
        self._notify()
        request_id = str(uuid.uuid4())
        all_headers = {"x-request-id": request_id, "apim-request-id": request_id, "x-ms-region": "Test Region"}
        return web.json_response(body, status=status, headers={**all_headers, **(headers or {})})

    def _validate(self, deployment: Deployment, body: Any) -> dict[str, Any] | None:
        """The 400 bodies a real deployment answers for requests its model does not accept (azure-wire.md A4/A6)."""
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _invalid_request("'messages' is a required property", param="messages", code=None)
        roles = [m.get("role") for m in body["messages"] if isinstance(m, dict)]
        if deployment.reasoning:
            if "max_tokens" in body:
                return _invalid_request(
                    "Unsupported parameter: 'max_tokens' is not supported with this model. "
                    "Use 'max_completion_tokens' instead.",
                    param="max_tokens",
                    code="unsupported_parameter",
                )
            temperature = body.get("temperature")
            if temperature is not None and temperature != 1:
                return _invalid_request(
                    f"Unsupported value: 'temperature' does not support {temperature} with this model. "
                    "Only the default (1) value is supported.",
                    param="temperature",
                    code="unsupported_value",
                )
            if "system" in roles and "developer" in roles:
                return _invalid_request(
                    "Invalid messages: 'system' and 'developer' messages cannot be used together.",
                    param="messages",
                    code="invalid_value",
                )
        elif "reasoning_effort" in body:
            return _invalid_request("Unrecognized request argument supplied: reasoning_effort", param=None, code=None)
        if not deployment.system_messages:
            for index, role in enumerate(roles):
                if role in {"system", "developer"}:
                    return _invalid_request(
                        f"Unsupported value: 'messages[{index}].role' does not support '{role}' with this model.",
                        param=f"messages[{index}].role",
                        code="unsupported_value",
                    )
        if body.get("stream") and not deployment.streaming:
            return _invalid_request(
                "Unsupported value: 'stream' does not support true with this model. Supported values are: false.",
                param="stream",
                code="unsupported_value",
            )
        if "stream_options" in body and not deployment.usage_in_stream:
            return _invalid_request("Unrecognized request argument supplied: stream_options", param=None, code=None)
        return None

    def _next_scenario(self, deployment: Deployment) -> Scenario:
        with self._lock:
            return deployment.queue.popleft() if deployment.queue else normal()

    async def _answer(
        self, request: web.Request, record: RecordedRequest, deployment: Deployment, body: Any, *, azure: bool
    ) -> web.StreamResponse:
        invalid = self._validate(deployment, body)
        if invalid is not None:
            return self._json(record, 400, invalid)
        scenario = self._next_scenario(deployment)
        record.scenario = scenario.name
        self._notify()
        if scenario.name == "prompt_filtered":
            return self._json(record, 400, _prompt_filtered_body(scenario.category))
        if scenario.name == "rate_limit":
            return self._rate_limited(record, deployment, scenario, azure=azure)
        if scenario.name == "server_error":
            return self._json(record, 500, AZURE_500)
        if scenario.name == "deployment_not_found":
            return self._json(record, 404, AZURE_404_DEPLOYMENT)
        if scenario.name == "bad_key":
            return self._json(record, 401, AZURE_401 if azure else OPENAI_401)
        try:
            if scenario.name == "hang":
                await asyncio.sleep(scenario.seconds)
            if body.get("stream"):
                return await self._stream(request, record, deployment, body, scenario, azure=azure)
            return await self._complete(request, record, deployment, body, scenario, azure=azure)
        except (asyncio.CancelledError, ConnectionResetError):
            record.disconnected = True
            self._notify()
            raise

    def _rate_limited(
        self, record: RecordedRequest, deployment: Deployment, scenario: Scenario, *, azure: bool
    ) -> web.Response:
        seconds = scenario.retry_after if scenario.retry_after is not None else 2
        shown = f"{seconds:g}"
        if azure:
            message = scenario.message or (
                "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have "
                "exceeded token rate limit of your current OpenAI S0 pricing tier. "
                f"Please retry after {shown} seconds. Please go here: https://aka.ms/oai/quotaincrease if you would "
                "like to further increase the default rate limit."
            )
            body: dict[str, Any] = {"error": {"code": "429", "message": message}}
        else:
            message = scenario.message or (
                f"Rate limit reached for {deployment.name} on tokens per min (TPM). Please try again in {shown}s."
            )
            body = {"error": {"message": message, "type": "tokens", "param": None, "code": "rate_limit_exceeded"}}
        headers = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-remaining-tokens": "0"}
        if scenario.retry_after_header:
            headers["retry-after"] = shown
        return self._json(record, 429, body, headers)

    # Streaming -------------------------------------------------------------------------------------------------

    def _pieces(self, scenario: Scenario) -> list[str]:
        if scenario.tokens is not None:
            return [f" w{i}" for i in range(scenario.tokens)]
        text = scenario.text or DEFAULT_TEXT
        return re.findall(r"\s*\S+\s*$|\s*\S+", text) or [text]

    def _usage(self, body: dict[str, Any], deployment: Deployment, completion_tokens: int) -> dict[str, Any]:
        prompt_tokens = sum(3 + _word_count(m.get("content")) for m in body["messages"] if isinstance(m, dict))
        reasoning_tokens = 64 if deployment.reasoning else 0
        completion = completion_tokens + reasoning_tokens
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
            "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "prompt_tokens_details": {"cached_tokens": min(prompt_tokens, deployment.cached_tokens)},
        }

    async def _stream(
        self,
        request: web.Request,
        record: RecordedRequest,
        deployment: Deployment,
        body: dict[str, Any],
        scenario: Scenario,
        *,
        azure: bool,
    ) -> web.StreamResponse:
        request_id = str(uuid.uuid4())
        response = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "x-request-id": request_id,
                "apim-request-id": request_id,
            },
        )
        record.status = 200
        await response.prepare(request)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        ident = f"chatcmpl-{next(self._ids)}"
        created = int(time.time())

        def chunk(choices: list[dict[str, Any]], *, annotation: bool = False, **extra: Any) -> dict[str, Any]:
            data: dict[str, Any] = {
                "choices": choices,
                "created": 0 if annotation else created,
                "id": "" if annotation else ident,
                "model": "" if annotation else deployment.model,
                "object": "" if annotation else "chat.completion.chunk",
                "system_fingerprint": None if annotation else "fp_test",
            }
            if include_usage:
                data["usage"] = None
            data.update(extra)
            return data

        def choice(delta: dict[str, Any] | None, finish: str | None = None, filters: Any = None) -> dict[str, Any]:
            item: dict[str, Any] = {"index": 0, "finish_reason": finish, "logprobs": None}
            if delta is not None:
                item["delta"] = delta
            if azure:
                item["content_filter_results"] = COMPLETION_FILTER_OK if filters is None else filters
            return item

        async def send(data: Any) -> None:
            payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
            await response.write(f"data: {payload}\n\n".encode())
            record.chunks_sent += 1

        if azure:  # Azure's prompt-annotation chunk: empty choices (azure-wire.md A3)
            await send(
                {
                    "choices": [],
                    "created": 0,
                    "id": "",
                    "model": "",
                    "object": "",
                    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": PROMPT_FILTER_OK}],
                }
            )
        await send(chunk([choice({"role": "assistant", "content": ""}, filters={})]))

        pieces = self._pieces(scenario)
        cut = scenario.after_tokens if scenario.name in CUT_SHORT else len(pieces)
        delay = 1 / scenario.rate if scenario.rate else 0.0
        loop = asyncio.get_running_loop()
        paced_from = loop.time()
        sent = 0
        for index, piece in enumerate(pieces[:cut]):
            if delay and index:
                # Against the start time, not chunk to chunk, so sleep overshoot does not slow the rate down.
                await asyncio.sleep(max(0.0, paced_from + index * delay - loop.time()))
            await send(chunk([choice({"content": piece})]))
            sent += 1
            if scenario.name == "annotations" and azure:
                offset = sum(len(p) for p in pieces[: index + 1])
                offsets = {"check_offset": offset, "start_offset": max(0, offset - 40), "end_offset": offset}
                await send(chunk([choice(None) | {"content_filter_offsets": offsets}], annotation=True))

        if scenario.name == "stall":
            await asyncio.sleep(scenario.seconds)
            return await self._finish_stream(response, record, body, deployment, chunk, choice, send, sent)
        if scenario.name == "drop":
            if scenario.clean:
                await response.write_eof()
                record.completed = True
                self._notify()
                return response
            if request.transport is not None:
                request.transport.abort()
            record.completed = True
            self._notify()
            return response
        if scenario.name == "in_stream_error":
            error = {
                "error": {
                    "message": scenario.message or "The server had an error while processing your request.",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            }
            await send(error)
            await response.write_eof()
            record.completed = True
            self._notify()
            return response
        if scenario.name == "filter_mid_answer":
            filters = {scenario.category: {"detected": True, "filtered": True}}
            offsets = {"check_offset": 65, "start_offset": 65, "end_offset": 1056}
            final = choice(None, "content_filter", filters) | {"content_filter_offsets": offsets}
            await send(chunk([final], annotation=True))
            await send("[DONE]")
            await response.write_eof()
            record.completed = True
            self._notify()
            return response
        return await self._finish_stream(response, record, body, deployment, chunk, choice, send, sent)

    async def _finish_stream(
        self,
        response: web.StreamResponse,
        record: RecordedRequest,
        body: dict[str, Any],
        deployment: Deployment,
        chunk: Callable[..., dict[str, Any]],
        choice: Callable[..., dict[str, Any]],
        send: Callable[[Any], Any],
        sent: int,
    ) -> web.StreamResponse:
        await send(chunk([choice({}, "stop")]))
        if (body.get("stream_options") or {}).get("include_usage"):
            await send(chunk([], usage=self._usage(body, deployment, sent)))
        await send("[DONE]")
        await response.write_eof()
        record.completed = True
        self._notify()
        return response

    # Non-streamed ----------------------------------------------------------------------------------------------

    async def _complete(
        self,
        request: web.Request,
        record: RecordedRequest,
        deployment: Deployment,
        body: dict[str, Any],
        scenario: Scenario,
        *,
        azure: bool,
    ) -> web.StreamResponse:
        pieces = self._pieces(scenario)
        finish = "stop"
        filters: dict[str, Any] = COMPLETION_FILTER_OK
        if scenario.name in CUT_SHORT:
            pieces = pieces[: scenario.after_tokens]
        if scenario.name == "stall":
            await asyncio.sleep(scenario.seconds)
        if scenario.name == "drop":
            if request.transport is not None:
                request.transport.abort()
            record.completed = True
            self._notify()
            return web.Response(status=200)
        if scenario.name == "in_stream_error":
            return self._json(record, 500, AZURE_500)
        if scenario.name == "filter_mid_answer":
            finish = "content_filter"
            filters = {scenario.category: {"detected": True, "filtered": True}}
        if scenario.rate:
            await asyncio.sleep(len(pieces) / scenario.rate)
        message_choice: dict[str, Any] = {
            "index": 0,
            "finish_reason": finish,
            "logprobs": None,
            "message": {"role": "assistant", "content": "".join(pieces), "refusal": None},
        }
        result: dict[str, Any] = {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": deployment.model,
            "choices": [message_choice],
            "system_fingerprint": "fp_test",
            "usage": self._usage(body, deployment, len(pieces)),
        }
        if azure:
            message_choice["content_filter_results"] = filters
            result["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": PROMPT_FILTER_OK}]
        return self._json(record, 200, result)


def _bearer(request: web.Request) -> str | None:
    value = request.headers.get("Authorization", "")
    return value[7:] if value.startswith("Bearer ") else None


def _word_count(content: Any) -> int:
    if isinstance(content, str):
        return len(content.split())
    if isinstance(content, list):
        return sum(_word_count(part.get("text")) for part in content if isinstance(part, dict))
    return 0


@contextlib.contextmanager
def running(**kwargs: Any) -> Iterator[UpstreamServer]:
    """``with running() as upstream:`` — a started server, stopped on exit."""
    server = UpstreamServer(**kwargs).start()
    try:
        yield server
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the test upstream on its own.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--key", default=DEFAULT_KEY)
    parser.add_argument("--deployment", action="append", default=[], help="name, or name:reasoning")
    args = parser.parse_args()
    server = UpstreamServer(key=args.key, port=args.port)
    for spec in args.deployment or ["gpt-4o", "o3-mini:reasoning"]:
        name, _, flag = spec.partition(":")
        server.add_deployment(name, reasoning=flag == "reasoning")
    with server:
        print(f"upstream listening on {server.url} (key {args.key!r}); Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
