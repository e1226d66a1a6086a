"""Celery's Redis keys sit under REDIS_KEY_PREFIX, like the channel layer's and the cache's: a queued task lands in
this installation's queue, not in a bare ``celery`` list shared by everything on that Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
REDIS = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"

PROBE = """
import django
django.setup()
from celery import current_app
from audit.services import CHAIN_ADVANCE_TASK
current_app.tasks[CHAIN_ADVANCE_TASK].delay(424242)
"""


def test_a_queued_task_lands_under_the_installations_prefix() -> None:
    prefix = f"officeai-prefix-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(REDIS)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "REDIS_URL": REDIS,
        "REDIS_KEY_PREFIX": prefix,
    }
    try:
        result = subprocess.run(
            [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr
        keys = {key.decode() for key in client.scan_iter(f"{prefix}:*")}
        assert f"{prefix}:celery:celery" in keys  # the default queue, prefixed
        assert any(key.startswith(f"{prefix}:celery:_kombu.binding.") for key in keys)
        queued = client.lrange(f"{prefix}:celery:celery", 0, -1)
        assert len(queued) == 1
        assert b"424242" in queued[0]
        if client.type("celery") == b"list":  # the shared, unprefixed queue of older installations
            assert not any(b"424242" in message for message in client.lrange("celery", 0, -1))
    finally:
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
