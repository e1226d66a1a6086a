"""A C=5 smoke of the websocket benchmark (bench/ws_bench.py): five signed-in clients stream through a real daphne
against the test upstream, and each rebuilds its text by the protocol's offset rules. The benchmark itself (ratios,
N up to 200) stays outside the suite."""

from __future__ import annotations

import os

import pytest

from bench.ws_bench import run_smoke

pytestmark = pytest.mark.django_db(transaction=True)


def test_five_clients_through_daphne_get_every_reply_complete() -> None:
    # The configured Redis in CI; the in-memory layer (one process) on the fast path.
    result = run_smoke(throwaway=False, redis_url=os.environ.get("REDIS_URL", ""))
    assert result["ok"], result
    assert result["complete"] == result["clients"] * result["rounds"] == 5
    assert result["bad"] == result["late"] == 0
    assert result["saved_wrong"] == 0
