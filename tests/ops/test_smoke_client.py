"""The smoke client that `make smoke` runs against a fresh `make run` (tests/smoke.py), here against daphne on the
test database: it passes on a working server and names the step that fails on a broken one."""

from __future__ import annotations

import asyncio
import os

import pytest

from llm.models import ModelVersion
from tenants.models import User
from tests.live import DaphneServer
from tests.smoke import SmokeError, smoke
from tests.upstream.server import DEFAULT_TEXT, UpstreamServer

pytestmark = pytest.mark.django_db(transaction=True)


def test_smoke_client_signs_in_and_chats_to_done(
    user_a: User, user_b: User, gpt4o: ModelVersion, upstream: UpstreamServer
) -> None:
    with DaphneServer(redis_url=os.environ.get("REDIS_URL")) as server:
        result = asyncio.run(smoke(server.url, email=user_a.email, wait=30))
    assert result["status"] == "ok"
    assert result["text"] == DEFAULT_TEXT
    assert upstream.requests_to("gpt-4o")[-1].json["messages"][-1]["content"] == "Hello from smoke"


def test_smoke_client_fails_for_a_user_without_a_model(
    user_a: User, user_b: User, gpt4o: ModelVersion, upstream: UpstreamServer
) -> None:
    # gpt-4o is tenant A's only; B has no model, so B's chat cannot reach chat.done ok.
    with (
        DaphneServer(redis_url=os.environ.get("REDIS_URL")) as server,
        pytest.raises(SmokeError, match="model_unavailable"),
    ):
        asyncio.run(smoke(server.url, email=user_b.email, wait=30))
    assert upstream.requests_to("gpt-4o") == []
