"""/healthz, /readyz and /metrics (ops/): readiness with real dependencies and broken ones, metrics access, and
metrics summed over two daphne processes that served two tenants."""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path
from urllib.request import Request, urlopen

import pytest
from django.test import Client, override_settings

from audit.models import AuditOutbox
from llm.models import ModelVersion
from ops.checks import readiness
from slack.models import SlackEvent, SlackWorkspace
from tenants.models import Tenant, User
from tests.live import DaphneServer
from tests.smoke import smoke
from tests.upstream.server import UpstreamServer


def test_readyz_reports_each_dependency(db: None) -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "channel_layer", "broker"}
    assert all(check["ok"] for check in body["checks"].values())
    redis = bool(os.environ.get("REDIS_URL"))
    assert body["checks"]["channel_layer"]["detail"] == ("redis" if redis else "in-memory (one process)")
    assert (
        ("redis" in body["checks"]["broker"]["detail"].lower())
        if redis
        else "eager" in body["checks"]["broker"]["detail"]
    )


@override_settings(
    CHANNEL_LAYERS={
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}
    },
    CELERY_TASK_ALWAYS_EAGER=False,
    CELERY_BROKER_URL="redis://127.0.0.1:1/0",
)
def test_readyz_is_503_naming_what_is_down(db: None) -> None:
    started = time.monotonic()
    response = Client().get("/readyz")
    assert time.monotonic() - started < 10
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["channel_layer"]["ok"] is False
    assert "Connection" in body["checks"]["channel_layer"]["detail"]
    assert body["checks"]["broker"]["ok"] is False


def test_a_hanging_check_costs_one_timeout() -> None:
    started = time.monotonic()

    def slow() -> str:
        time.sleep(5)
        return "late"

    result = readiness({"slow": slow, "fast": lambda: "fine"}, timeout=0.5)
    assert time.monotonic() - started < 2
    assert result["status"] == "unavailable"
    assert result["checks"]["slow"] == {
        "ok": False,
        "detail": "no answer within 0.5 s",
        "ms": result["checks"]["slow"]["ms"],
    }
    assert result["checks"]["fast"]["ok"] is True


def test_healthz_and_readyz_need_no_session(db: None) -> None:
    assert Client().get("/healthz").json() == {"status": "ok"}
    assert Client().get("/readyz").status_code == 200


@override_settings(METRICS_ALLOWED_IPS=["127.0.0.1", "10.1.0.0/16"], METRICS_TOKEN="s3cret-token")
def test_metrics_answer_only_allowed_addresses_or_the_token(db: None, user_a: User, user_b: User) -> None:
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="10.2.0.1").get("/metrics").status_code == 404
    assert Client(REMOTE_ADDR="10.2.0.1").get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200
    assert Client(REMOTE_ADDR="10.2.0.1").get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    # A signed-in person of either tenant is no exception.
    from tests.conftest import signed_in

    for user in (user_a, user_b):
        client = signed_in(user)
        assert client.get("/metrics", REMOTE_ADDR="10.2.0.1").status_code == 404


def sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[: line.rfind("}") + 1]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def scrape(url: str) -> str:
    with urlopen(Request(f"{url}/metrics"), timeout=10) as response:
        return response.read().decode()


@pytest.mark.django_db(transaction=True)
def test_metrics_are_summed_over_two_daphne_processes(
    tmp_path: Path,
    tenant_a: Tenant,
    tenant_b: Tenant,
    user_a: User,
    user_b: User,
    gpt4o: ModelVersion,
    o3mini: ModelVersion,
    upstream: UpstreamServer,
) -> None:
    # Database gauges: Slack events of both tenants by state, and audit events waiting to be chained.
    for tenant, states in ((tenant_a, ["queued", "failed"]), (tenant_b, ["failed", "done"])):
        workspace = SlackWorkspace.objects.create(tenant=tenant, slug=tenant.slug, team_id=f"T{tenant.pk}")
        for index, state in enumerate(states):
            SlackEvent.objects.create(tenant=tenant, workspace=workspace, event_id=f"E{index}", status=state)
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    redis = os.environ.get("REDIS_URL")
    with DaphneServer(redis_url=redis, extra_env=env) as one, DaphneServer(redis_url=redis, extra_env=env) as two:
        asyncio.run(smoke(one.url, email=user_a.email, wait=30))  # tenant A: gpt-4o
        asyncio.run(smoke(two.url, email=user_b.email, wait=30))  # tenant B: o3-mini
        text = scrape(one.url)  # one process reports both
    assert sample(text, "officeai_replies_total", model=gpt4o.label, channel="web", status="ok") == 1
    assert sample(text, "officeai_replies_total", model=o3mini.label, channel="web", status="ok") == 1
    assert sample(text, "officeai_reply_ttft_seconds_count", model=gpt4o.label, channel="web") == 1
    assert sample(text, "officeai_reply_duration_seconds_count", model=o3mini.label, channel="web") == 1
    assert (sample(text, "officeai_tokens_relayed_total", model=gpt4o.label, channel="web") or 0) > 0
    assert sample(text, "officeai_replies_running") == 0
    assert sample(text, "officeai_slack_events", state="failed") == 2
    assert sample(text, "officeai_slack_events", state="queued") == 1
    assert sample(text, "officeai_slack_events", state="done") == 1
    pending = AuditOutbox.objects.filter(processed_at__isnull=True).count()
    assert sample(text, "officeai_audit_outbox_backlog") == pending
    assert sample(text, "officeai_audit_chain_lag_seconds") is not None
    assert any(tmp_path.iterdir())  # each process wrote its samples there
