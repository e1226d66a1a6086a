"""An idle websocket on the Redis channel layer stays open.

redis-py 8 reads with a 5 s socket timeout by default, exactly channels_redis's 5 s blocking BZPOPMIN: the read
raced the pop, the consumer's receive loop died with ``redis.exceptions.TimeoutError: Timeout reading from …`` and
daphne closed idle sockets with 1011 after 5-20 s (django/channels_redis#422). Always on Redis, like the
two-process test: REDIS_URL, or the local server.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

import aiohttp
import pytest
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from django.test import Client

from chat.consumers import tenant_group
from tenants.models import Tenant
from tests.live import ROOT, DaphneServer

pytestmark = pytest.mark.django_db(transaction=True)
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
# Longer than two BZPOPMIN rounds (5 s each); the unfixed layer closed idle sockets after 5-20 s.
IDLE_SECONDS = 14


async def _open(session: aiohttp.ClientSession, server: DaphneServer, client: Client) -> Any:
    ws = await session.ws_connect(
        server.ws_url,
        headers={"Origin": "http://127.0.0.1", "Cookie": f"sessionid={client.cookies['sessionid'].value}"},
    )
    ready = json.loads((await ws.receive(timeout=10)).data)
    assert ready["type"] == "session.ready"
    return ws, ready


async def _stays_quiet(ws: Any, seconds: float) -> Any:
    """None when nothing at all (no frame, no close) arrives for ``seconds``; else what arrived."""
    try:
        return await ws.receive(timeout=seconds)
    except TimeoutError:
        return None


def _layer() -> RedisChannelLayer:
    # The layer the daphne process uses: same Redis, same prefix (REDIS_KEY_PREFIX is inherited from this run).
    return RedisChannelLayer(hosts=[REDIS_URL], prefix=f"{settings.REDIS_KEY_PREFIX}:ws")


def test_idle_socket_survives_on_redis_layer(
    client_a: Client, client_b: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    async def scenario(server: DaphneServer) -> None:
        async with aiohttp.ClientSession() as session:
            ws_a, ready_a = await _open(session, server, client_a)
            ws_b, ready_b = await _open(session, server, client_b)
            assert (ready_a["tenant"], ready_b["tenant"]) == ("alpha", "beta")

            quiet = await asyncio.gather(_stays_quiet(ws_a, IDLE_SECONDS), _stays_quiet(ws_b, IDLE_SECONDS))
            assert quiet == [None, None], f"idle sockets got {quiet}"

            for ws in (ws_a, ws_b):
                await ws.send_json({"type": "ping"})
                assert json.loads((await ws.receive(timeout=5)).data) == {"type": "pong"}
                assert not ws.closed

            # The consumers' channel-layer receive loops are alive too, and still tenant-scoped: B's event, sent
            # first, never reaches A's socket, whose next frame is A's own event.
            layer = _layer()
            try:
                await layer.group_send(
                    tenant_group(tenant_b.pk), {"type": "tenant.event", "event": {"type": "probe", "for": "beta"}}
                )
                await layer.group_send(
                    tenant_group(tenant_a.pk), {"type": "tenant.event", "event": {"type": "probe", "for": "alpha"}}
                )
            finally:
                await layer.close_pools()
            assert json.loads((await ws_a.receive(timeout=5)).data) == {"type": "probe", "for": "alpha"}
            assert json.loads((await ws_b.receive(timeout=5)).data) == {"type": "probe", "for": "beta"}
            assert await _stays_quiet(ws_a, 0.5) is None
            assert await _stays_quiet(ws_b, 0.5) is None

            await ws_a.close()
            await ws_b.close()

    with DaphneServer(redis_url=REDIS_URL) as server:
        asyncio.run(scenario(server))
    log = server.log()
    assert "Timeout reading" not in log, log[-3000:]
    assert "TimeoutError" not in log, log[-3000:]


def test_channel_layer_read_timeout_outlasts_blocking_pop() -> None:
    # The settings as a process with REDIS_URL set builds them (this run may be on the in-memory layer).
    code = "import json; from config.settings import base; print(json.dumps(base.CHANNEL_LAYERS))"
    env = {**os.environ, "REDIS_URL": REDIS_URL, "DJANGO_READ_DOT_ENV_FILE": "false"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    config = json.loads(out.stdout)["default"]
    assert config["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    [host] = config["CONFIG"]["hosts"]
    assert isinstance(host, dict), f"a bare URL gets redis-py's 5 s read timeout: {host!r}"
    assert host["address"] == REDIS_URL
    # None would also do; a finite timeout must leave the server's blocking pop room to answer.
    assert host["socket_timeout"] is None or host["socket_timeout"] >= 2 * RedisChannelLayer.brpop_timeout
    assert host["socket_keepalive"] is True
    assert host["health_check_interval"] > 0
