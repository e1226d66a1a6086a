"""Prometheus metrics of every process (daphne, Celery), summed at scrape time.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``make serve``, the Procfile), each process writes its samples to files in
that folder and ``/metrics`` on any daphne process reports the sum over all of them (prometheus-client's
multiprocess mode: counters and histograms add up, gauges of live things add up over live processes). Without it
(embedded mode, one process) the process's own registry is reported.

The apps report through the functions below with plain values, and register gauges read from the database at
scrape time (``register_db_gauge``), so this module imports none of them.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

REPLIES_RUNNING = Gauge("officeai_replies_running", "Replies being generated now", multiprocess_mode="livesum")
WEBSOCKETS = Gauge("officeai_websocket_connections", "Open chat websockets", multiprocess_mode="livesum")
REPLIES = Counter("officeai_replies", "Finished replies", ["model", "channel", "status"])
TTFT = Histogram(
    "officeai_reply_ttft_seconds",
    "Time from the request to the first token",
    ["model", "channel"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60),
)
DURATION = Histogram(
    "officeai_reply_duration_seconds",
    "Time from the request to the end of the reply",
    ["model", "channel"],
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
)
TOKENS = Counter(
    "officeai_tokens_relayed",
    "Completion tokens relayed (reported by the upstream, else estimated)",
    ["model", "channel"],
)
UPSTREAM_ERRORS = Counter("officeai_upstream_errors", "Upstream errors by kind (every attempt)", ["kind"])
FAILOVERS = Counter("officeai_failovers", "Requests moved to a fallback deployment", ["model"])


@dataclass(frozen=True)
class DbGauge:
    name: str
    documentation: str
    labels: Sequence[str]
    read: Callable[[], Iterable[tuple[Sequence[str], float]]]  # (label values, value) pairs


_db_gauges: dict[str, DbGauge] = {}


def register_db_gauge(
    name: str, documentation: str, labels: Sequence[str], read: Callable[[], Iterable[tuple[Sequence[str], float]]]
) -> None:
    """A gauge computed from the database when scraped (one process reads it; the value is not per process)."""
    _db_gauges[name] = DbGauge(name, documentation, tuple(labels), read)


class _DbCollector:
    def collect(self) -> Iterable[Metric]:
        for gauge in _db_gauges.values():
            family = GaugeMetricFamily(gauge.name, gauge.documentation, labels=list(gauge.labels))
            for label_values, value in gauge.read():
                family.add_metric(list(label_values), value)
            yield family


def reply_started() -> None:
    REPLIES_RUNNING.inc()


def reply_finished(
    *,
    model: str,
    channel: str,
    status: str,
    ttft: float | None,
    duration: float | None,
    tokens: int,
    error_kinds: Iterable[str],
    failovers: int,
) -> None:
    REPLIES_RUNNING.dec()
    REPLIES.labels(model, channel, status).inc()
    if ttft is not None:
        TTFT.labels(model, channel).observe(ttft)
    if duration is not None:
        DURATION.labels(model, channel).observe(duration)
    if tokens:
        TOKENS.labels(model, channel).inc(tokens)
    for kind in error_kinds:
        UPSTREAM_ERRORS.labels(kind).inc()
    if failovers:
        FAILOVERS.labels(model).inc(failovers)


def render() -> tuple[bytes, str]:
    """The exposition text of every process (multiprocess mode) or this one, plus the database gauges."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Forward(REGISTRY))
    registry.register(_DbCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Forward:
    """The process registry's samples inside a per-scrape registry (which also holds the database gauges)."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        return self.source.collect()


def on_process_start() -> None:
    if MULTIPROCESS:
        pid = os.getpid()
        atexit.register(lambda: mark_process_dead(pid))  # its live gauges stop counting when it goes
