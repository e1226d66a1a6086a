"""How much time llm.client.stream_chat adds to first token and per token, against the bare openai client.

    python -m bench.llm_overhead [--replies 20] [--tokens 200] [--rate 400]

Starts the test upstream (tests/upstream) in-process, then streams the same replies through (a) an
``openai.AsyncAzureOpenAI`` client reading the upstream directly and (b) ``stream_chat``, alternating a/b so drift
hits both alike. Two rounds: paced at ``--rate`` tokens/s (what users see), and unpaced (the upstream sends as
fast as it can, so the per-token numbers are the CPU cost of each path). Reports ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import openai
from openai.types.chat import ChatCompletionMessageParam

from llm.client import ChatParams, DeploymentSpec, ModelSpec, ProviderKind, TextDelta, aclose_clients, stream_chat
from tests.upstream.server import UpstreamServer, stream_tokens

KEY = "bench-key"
DEPLOYMENT = "bench"
API_VERSION = "2024-10-21"
MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Count."},
]


@dataclass
class Sample:
    ttft: float  # seconds from the call to the first text
    per_token: float  # seconds between text chunks, first to last
    total: float  # seconds from the call to the end of the stream
    tokens: int


def _sample(start: float, stamps: list[float], end: float) -> Sample:
    first, last = stamps[0], stamps[-1]
    per_token = (last - first) / (len(stamps) - 1) if len(stamps) > 1 else 0.0
    return Sample(first - start, per_token, end - start, len(stamps))


async def run_direct(client: openai.AsyncAzureOpenAI) -> Sample:
    stamps: list[float] = []
    start = time.perf_counter()
    stream = await client.chat.completions.create(
        model=DEPLOYMENT,
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        max_tokens=4096,
    )
    async with stream:
        async for chunk in stream:
            # The guards any correct reader of Azure needs (empty choices, missing delta) and no more.
            if chunk.choices and chunk.choices[0].delta is not None and chunk.choices[0].delta.content:
                stamps.append(time.perf_counter())
    return _sample(start, stamps, time.perf_counter())


async def run_layer(model: ModelSpec) -> Sample:
    stamps: list[float] = []
    start = time.perf_counter()
    async with contextlib.aclosing(stream_chat(model, MESSAGES, ChatParams(max_output_tokens=4096))) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                stamps.append(time.perf_counter())
    return _sample(start, stamps, time.perf_counter())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


async def measure(
    upstream: UpstreamServer, replies: int, tokens: int, rate: float | None
) -> tuple[list[Sample], list[Sample]]:
    spec = DeploymentSpec(
        id=1,
        label="bench",
        kind=ProviderKind.AZURE_DATED,
        endpoint=upstream.url,
        deployment_name=DEPLOYMENT,
        api_version=API_VERSION,
        api_key=KEY,
    )
    model = ModelSpec(
        label="bench",
        family="gpt-4o",
        version="2024-11-20",
        token_param="max_tokens",  # noqa: S106 - a parameter name, not a secret
        temperature_allowed=True,
        system_role="system",
        streaming=True,
        usage_in_stream=True,
        reasoning_efforts=(),
        context_window=128_000,
        max_output_tokens=16_384,
        deployments=(spec,),
    )
    client = openai.AsyncAzureOpenAI(
        azure_endpoint=upstream.url, azure_deployment=DEPLOYMENT, api_version=API_VERSION, api_key=KEY, max_retries=0
    )
    runners: tuple[Callable[[], Awaitable[Sample]], ...] = (lambda: run_direct(client), lambda: run_layer(model))
    direct: list[Sample] = []
    layer: list[Sample] = []
    try:
        for warm_up in runners:  # client creation and the first connection are not what we measure
            upstream.script(DEPLOYMENT, stream_tokens(5))
            await warm_up()
        for index in range(replies):
            order = (0, 1) if index % 2 == 0 else (1, 0)
            for which in order:
                upstream.script(DEPLOYMENT, stream_tokens(tokens, rate))
                sample = await runners[which]()
                (direct if which == 0 else layer).append(sample)
    finally:
        await client.close()
        await aclose_clients()
    return direct, layer


def report(title: str, direct: list[Sample], layer: list[Sample]) -> None:
    def row(name: str, a: float, b: float, unit: str, scale: float) -> None:
        ratio = b / a if a else float("nan")
        print(f"  {name:<16}{a * scale:>12.3f}{b * scale:>14.3f}{(b - a) * scale:>+12.3f} {unit:<3}{ratio:>8.2f}x")

    print(title)
    print(f"  {'':<16}{'openai direct':>12}{'stream_chat':>14}{'added':>12}    {'ratio':>8}")
    row("TTFT p50", percentile([s.ttft for s in direct], 50), percentile([s.ttft for s in layer], 50), "ms", 1e3)
    row("TTFT p99", percentile([s.ttft for s in direct], 99), percentile([s.ttft for s in layer], 99), "ms", 1e3)
    per_direct = statistics.median(s.per_token for s in direct)
    per_layer = statistics.median(s.per_token for s in layer)
    row("per token p50", per_direct, per_layer, "µs", 1e6)
    total_direct = statistics.median(s.total for s in direct)
    total_layer = statistics.median(s.total for s in layer)
    row("total p50", total_direct, total_layer, "ms", 1e3)
    if any(s.tokens != direct[0].tokens for s in direct + layer):
        print("  note: the two paths did not receive the same number of text chunks")
    print()


async def main_async(args: argparse.Namespace) -> None:
    with UpstreamServer(key=KEY) as upstream:
        upstream.add_deployment(DEPLOYMENT)
        header = f"{args.replies} replies x {args.tokens} tokens, Azure dated wire, local test upstream"
        direct, layer = await measure(upstream, args.replies, args.tokens, args.rate)
        report(f"Paced at {args.rate:g} tokens/s ({header})", direct, layer)
        if not args.no_unpaced:
            direct, layer = await measure(upstream, args.replies, args.tokens, None)
            report(f"Unpaced: upstream as fast as it can, i.e. the CPU cost per chunk ({header})", direct, layer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--replies", type=int, default=20, help="replies per path (default 20)")
    parser.add_argument("--tokens", type=int, default=200, help="tokens per reply (default 200)")
    parser.add_argument("--rate", type=float, default=400, help="paced upstream rate in tokens/s (default 400)")
    parser.add_argument("--no-unpaced", action="store_true", help="skip the unpaced round")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
