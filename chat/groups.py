"""Names of everything a message is addressed to: channel-layer groups and the relay's Redis channels.

One module, so services, the engine and the websocket door agree without importing each other.
"""

from __future__ import annotations

from django.conf import settings

GLOBAL_GROUP = "tenant-all"  # channel-layer group of every socket (platform-wide notice changes)


def tenant_group(tenant_id: int) -> str:
    """Channel-layer group of every socket of one tenant (its notice changes)."""
    return f"tenant-{tenant_id}"


def user_group(user_id: int) -> str:
    """Channel-layer group of every socket of one person (closed when they are deactivated or sign out)."""
    return f"user-{user_id}"


def conversation_channel(conversation_id: int) -> str:
    """Redis pub/sub channel of one conversation's live reply frames (chat.relay)."""
    return f"{settings.REDIS_KEY_PREFIX}:relay:conv:{conversation_id}"


def control_channel() -> str:
    """Redis pub/sub channel every process listens on for stop requests (chat.relay)."""
    return f"{settings.REDIS_KEY_PREFIX}:relay:control"
