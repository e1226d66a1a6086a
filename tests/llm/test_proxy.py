"""Egress through a fixed HTTP(S) proxy (the seed system's fixed outbound address, which Azure's network rules
admit): per deployment, or for every deployment with LLM_EGRESS_PROXY; "direct" opts one out. A real forward proxy
on a local port (tests/upstream/proxy.py) carries the calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from llm.client import test_connection
from llm.models import Deployment
from llm.services import deployment_check
from llm.specs import deployment_spec
from tests.llm.conftest import MESSAGES, collect, deployment, gpt4o, text_of
from tests.upstream.proxy import ForwardProxy
from tests.upstream.server import DEFAULT_TEXT, UpstreamServer

COMPLETIONS = "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy() as server:
        yield server


async def test_a_streamed_answer_and_a_connection_test_go_through_the_proxy(
    upstream: UpstreamServer, proxy: ForwardProxy
) -> None:
    spec = deployment(upstream, proxy=proxy.url)
    events = await collect(gpt4o(spec), MESSAGES)
    assert text_of(events) == DEFAULT_TEXT
    result = await test_connection(spec, None)
    assert result.ok, result.admin_message
    assert proxy.targets == [f"POST {upstream.url}{COMPLETIONS}"] * 2
    assert len(upstream.requests_to("gpt-4o")) == 2


async def test_without_a_proxy_nothing_goes_through_it(upstream: UpstreamServer, proxy: ForwardProxy) -> None:
    assert text_of(await collect(gpt4o(deployment(upstream)), MESSAGES)) == DEFAULT_TEXT
    assert proxy.targets == []


async def test_a_dead_proxy_is_a_connection_error_not_a_hang(upstream: UpstreamServer) -> None:
    dead = ForwardProxy().start()
    dead.stop()  # its port is closed now
    result = await test_connection(deployment(upstream, proxy=dead.url), None)
    assert not result.ok
    assert result.error is not None
    assert result.error.kind == "connection"
    assert upstream.requests_to("gpt-4o") == []


def make(upstream: UpstreamServer, proxy_url: str = "") -> Deployment:
    return Deployment(
        pk=7,
        label="d",
        kind="azure_dated",
        endpoint=upstream.url,
        deployment_name="gpt-4o",
        api_version="2024-10-21",
        api_key="sk-test-SECRET-0123456789abcdef",
        proxy_url=proxy_url,
        connect_timeout=2,
        first_token_timeout=3,
        stall_timeout=3,
    )


def test_the_deployments_proxy_wins_over_the_global_one_and_direct_opts_out(
    upstream: UpstreamServer, proxy: ForwardProxy, settings: Any
) -> None:
    settings.LLM_EGRESS_PROXY = ""
    assert deployment_spec(make(upstream)).proxy == ""
    assert deployment_spec(make(upstream, proxy.url)).proxy == proxy.url
    settings.LLM_EGRESS_PROXY = proxy.url
    assert deployment_spec(make(upstream)).proxy == proxy.url  # the global setting
    assert deployment_spec(make(upstream, "http://other-proxy:3128")).proxy == "http://other-proxy:3128"
    assert deployment_spec(make(upstream, "DIRECT")).proxy == ""
    # A live check (the admin's) goes through the global proxy; a "direct" deployment does not.
    assert deployment_check(deployment=make(upstream)).ok
    assert deployment_check(deployment=make(upstream, "direct")).ok
    assert proxy.targets == [f"POST {upstream.url}{COMPLETIONS}"]


def test_a_proxy_that_is_not_a_url_is_refused_with_a_clear_message(upstream: UpstreamServer) -> None:
    with pytest.raises(ValidationError) as refused:
        make(upstream, "proxy.example:3128").clean()
    assert "http://host:port" in str(refused.value.message_dict["proxy_url"])
    make(upstream, "https://user:pass@proxy.example:3128").clean()
    make(upstream, "direct").clean()
