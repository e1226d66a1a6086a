"""One openai client per deployment, reused across requests.

A client owns an HTTP connection pool, so creating one per request would redo TCP and TLS set-up each time. The
cache key includes a fingerprint of everything that shapes the client (kind, endpoint, key, api-version,
timeouts, proxy), so a deployment edited in the admin gets a fresh client on its next request, without a restart.

Connection pools belong to one event loop. Daphne runs one loop per process, but ``async_to_sync`` (Celery tasks,
sync views) and tests create loops of their own, so the cache is kept per loop and entries of closed loops are
dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

import httpx2
import openai

from llm.client.types import DeploymentSpec, ProviderKind


@dataclass(frozen=True)
class _Entry:
    fingerprint: str
    client: openai.AsyncOpenAI


_by_loop: dict[int, tuple[asyncio.AbstractEventLoop, dict[int, _Entry]]] = {}


def fingerprint(deployment: DeploymentSpec) -> str:
    parts = (
        deployment.kind.value,
        deployment.endpoint,
        deployment.deployment_name,
        deployment.api_version,
        deployment.api_key,
        repr((deployment.connect_timeout, deployment.total_timeout)),
        deployment.proxy,
    )
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def base_url(deployment: DeploymentSpec) -> str:
    """The URL the client is rooted at (for v1 and compatible endpoints; the dated API adds its own path)."""
    endpoint = deployment.endpoint.rstrip("/")
    if deployment.kind is ProviderKind.AZURE_V1:
        return endpoint + "/" if endpoint.endswith("/openai/v1") else endpoint + "/openai/v1/"
    if deployment.kind is ProviderKind.AZURE_DATED:
        # The library appends /openai/deployments/{name}; tolerate an endpoint pasted with /openai already on it.
        return endpoint.removesuffix("/openai")
    return endpoint


def new_client(deployment: DeploymentSpec) -> openai.AsyncOpenAI:
    """A client that nobody else shares (the caller closes it). With ``deployment.proxy`` every request goes
    through that proxy (a fixed egress address that Azure's network rules admit)."""
    timeout = httpx2.Timeout(deployment.total_timeout, connect=deployment.connect_timeout)
    http_client = openai.DefaultAsyncHttpxClient(proxy=deployment.proxy, timeout=timeout) if deployment.proxy else None
    if deployment.kind is ProviderKind.AZURE_DATED:
        return openai.AsyncAzureOpenAI(
            azure_endpoint=base_url(deployment),
            azure_deployment=deployment.deployment_name,
            api_version=deployment.api_version,
            api_key=deployment.api_key,
            max_retries=0,  # stream_chat fails over to the next deployment itself
            timeout=timeout,
            http_client=http_client,
        )
    if deployment.kind in (ProviderKind.AZURE_V1, ProviderKind.OPENAI_COMPATIBLE):
        return openai.AsyncOpenAI(
            base_url=base_url(deployment),
            api_key=deployment.api_key,
            max_retries=0,
            timeout=timeout,
            http_client=http_client,
        )
    raise ValueError(f"no HTTP client for provider kind {deployment.kind.value!r}")


def _loop_cache() -> dict[int, _Entry]:
    loop = asyncio.get_running_loop()
    for key, (other, _) in list(_by_loop.items()):
        if other.is_closed():
            del _by_loop[key]
    held = _by_loop.get(id(loop))
    if held is None or held[0] is not loop:
        held = (loop, {})
        _by_loop[id(loop)] = held
    return held[1]


def client_for(deployment: DeploymentSpec) -> openai.AsyncOpenAI:
    """The shared client of ``deployment`` in the running event loop, replaced when the deployment changed."""
    cache = _loop_cache()
    wanted = fingerprint(deployment)
    entry = cache.get(deployment.id)
    if entry is None or entry.fingerprint != wanted:
        # The replaced client is not closed here: a stream started before the edit may still be reading from it.
        # Its pool goes with it when it is garbage collected.
        entry = _Entry(wanted, new_client(deployment))
        cache[deployment.id] = entry
    return entry.client


def drop_client(deployment_id: int) -> None:
    """Forget the cached clients of a deployment (e.g. when it is deleted or disabled), in every loop."""
    for _, cache in _by_loop.values():
        cache.pop(deployment_id, None)


async def aclose_clients() -> None:
    """Close every client cached for the running loop (shutdown, tests)."""
    loop = asyncio.get_running_loop()
    held = _by_loop.pop(id(loop), None)
    if held is not None and held[0] is loop:
        for entry in held[1].values():
            await entry.client.close()
