"""How fast the Slack events endpoint acknowledges while the model is slow, against a trivial view.

    python -m bench.slack_ack_bench [--requests 60] [--model-seconds 3] [--no-worker]

Starts the test upstream (each answer takes ``--model-seconds``), the fake Slack Web API, a real daphne server and
a Celery worker (subprocesses, on a throwaway PostgreSQL database and Redis), then sends signed ``app_mention``
events to ``/slack/events`` and plain GETs to ``/healthz``, alternating, one at a time. The worker answers the
events meanwhile (placeholder, updates, final text), so the acks are measured under real background work.
Reports p50/p99 of both and their ratio; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from urllib.request import Request, urlopen

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/5")  # a Redis database of its own: no stray workers

from bench._django import percentile, setup_django, throwaway_database


def timed(request: Request | str) -> float:
    start = time.perf_counter()
    with urlopen(request, timeout=30) as response:  # noqa: S310 - local server
        response.read()
        assert response.status == 200, response.status
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--model-seconds", type=float, default=3.0)
    parser.add_argument("--no-worker", action="store_true", help="do not run a Celery worker (acks only)")
    args = parser.parse_args()
    setup_django()

    from llm.models import Deployment, ModelVersion, ModelVersionAccess, ModelVersionDeployment, ProviderKind
    from slack.models import SlackEvent, SlackWorkspace
    from slack.signature import signature_make
    from tenants.services import tenant_create
    from tests.live import DaphneServer
    from tests.slack.fake_slack import FakeSlack
    from tests.upstream.server import UpstreamServer, stream_tokens

    secret, token = "bench-signing-secret", "xoxb-bench"
    tokens = 30
    with throwaway_database(), UpstreamServer(key="bench-key") as upstream, FakeSlack() as slack:
        upstream.add_deployment("gpt-4o", key="bench-key")
        for _ in range(args.requests + 5):
            upstream.script("gpt-4o", stream_tokens(tokens, rate=tokens / args.model_seconds))
        slack.add_bot(token=token, team_id="TBENCH", user_id="UBOT", bot_id="BBOT", name="officeai")
        slack.add_user("UPERSON", name="person", email="person@bench.example")
        tenant = tenant_create(name="Bench", slug="bench", domains=["bench.example"])
        deployment = Deployment.objects.create(
            label="bench",
            kind=ProviderKind.AZURE_DATED,
            endpoint=upstream.url,
            deployment_name="gpt-4o",
            api_version="2024-10-21",
            api_key="bench-key",
            first_token_timeout=30,
            stall_timeout=30,
        )
        version = ModelVersion.objects.create(display_name="GPT-4o", family="gpt-4o", version="2024-11-20")
        ModelVersionDeployment.objects.create(model_version=version, deployment=deployment)
        ModelVersionAccess.objects.create(model_version=version, tenant=tenant, is_default=True)
        workspace = SlackWorkspace.objects.create(
            tenant=tenant,
            slug="bench",
            team_id="TBENCH",
            app_id="ABENCH",
            signing_secret=secret,
            bot_token=token,
            bot_user_id="UBOT",
            bot_id="BBOT",
            bot_name="officeai",
        )

        env = {"SLACK_API_BASE_URL": slack.url}
        with DaphneServer(redis_url=os.environ["REDIS_URL"], extra_env=env) as server:
            worker = None
            if not args.no_worker:
                worker = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "config",
                        "worker",
                        "-P",
                        "threads",
                        "-c",
                        "8",
                        "-l",
                        "WARNING",
                    ],
                    env=server.env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(3)  # let it connect before the first event
            try:
                acks, health = [], []
                for i in range(args.requests):
                    message = slack.add_message("C1", user="UPERSON", text=f"<@UBOT> question {i}")
                    body = json.dumps(
                        {
                            "team_id": workspace.team_id,
                            "api_app_id": workspace.app_id,
                            "type": "event_callback",
                            "event_id": f"Ev{uuid.uuid4().hex[:12]}",
                            "event_time": int(time.time()),
                            "event": {**message, "type": "app_mention", "channel": "C1"},
                        }
                    ).encode()
                    ts = str(int(time.time()))
                    request = Request(  # noqa: S310 - local server
                        f"{server.url}/slack/events?workspace=bench",
                        data=body,
                        headers={
                            "Content-Type": "application/json",
                            "X-Slack-Request-Timestamp": ts,
                            "X-Slack-Signature": signature_make(signing_secret=secret, body=body, timestamp=ts),
                        },
                    )
                    acks.append(timed(request))
                    health.append(timed(f"{server.url}/healthz"))
                if worker is not None:
                    deadline = time.monotonic() + args.model_seconds * 4 + 20
                    while time.monotonic() < deadline:
                        if SlackEvent.objects.exclude(status__in=["queued", "processing"]).count() >= args.requests:
                            break
                        time.sleep(0.5)
            finally:
                if worker is not None:
                    worker.terminate()
                    worker.wait(15)

        answered = SlackEvent.objects.filter(status="done").count()
        ms = 1000
        print(f"Slack ack benchmark: {args.requests} signed events, model answers in ~{args.model_seconds:.1f} s")
        print(f"  {'':<22}{'p50 ms':>10}{'p99 ms':>10}")
        print(f"  {'/slack/events (ack)':<22}{percentile(acks, 50) * ms:>10.1f}{percentile(acks, 99) * ms:>10.1f}")
        print(f"  {'/healthz':<22}{percentile(health, 50) * ms:>10.1f}{percentile(health, 99) * ms:>10.1f}")
        print(
            f"  ratio events/healthz   p50 {percentile(acks, 50) / percentile(health, 50):.2f}x"
            f"   p99 {percentile(acks, 99) / percentile(health, 99):.2f}x"
        )
        print(f"  Slack's limit is 3000 ms; events answered by the worker meanwhile: {answered}/{args.requests}")
        calls, updates = len(upstream.requests_to("gpt-4o")), len(slack.calls_to("chat.update"))
        print(f"  model calls: {calls}, chat.update calls: {updates}")


if __name__ == "__main__":
    main()
