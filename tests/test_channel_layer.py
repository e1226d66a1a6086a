"""The channel layer the settings select carries messages between processes' consumers.

With REDIS_URL set (CI) this is channels_redis against the real server; the second test always uses Redis.
"""

from __future__ import annotations

import os

from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer


async def test_configured_layer_round_trip() -> None:
    layer = get_channel_layer()
    assert layer is not None
    name = await layer.new_channel()
    await layer.group_add("tenant-999", name)
    await layer.group_send("tenant-999", {"type": "tenant.event", "event": {"type": "x"}})
    assert (await layer.receive(name))["event"] == {"type": "x"}
    await layer.group_discard("tenant-999", name)


async def test_redis_layer_between_two_layer_instances() -> None:
    # Two layer objects stand for two daphne processes sharing Redis.
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    sender = RedisChannelLayer(hosts=[url], prefix="officeai:test")
    receiver = RedisChannelLayer(hosts=[url], prefix="officeai:test")
    name = await receiver.new_channel()
    await receiver.group_add("tenant-1", name)
    await sender.group_send("tenant-1", {"type": "tenant.event", "event": {"n": 1}})
    assert (await receiver.receive(name))["event"] == {"n": 1}
    await receiver.group_discard("tenant-1", name)
    await sender.flush()
    await receiver.close_pools()
    await sender.close_pools()
