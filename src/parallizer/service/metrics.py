"""Request-level metrics of the HTTP service, and the `/metrics` exposition.

The per-query ones (latency by backend, errors by backend and kind, queries in flight,
cards by type) live in `parallizer.metrics` and are recorded by the fan-out and the
orchestrator. With `--workers N` (N > 1) `parallizer serve` sets `PROMETHEUS_MULTIPROC_DIR`
before the workers start, so every worker writes its samples there and `/metrics`, answered
by any worker, aggregates all of them (gauges of live processes are summed).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from .. import metrics as core

REQUEST_LATENCY = Histogram(
    "parallizer_http_request_seconds",
    "Latency of HTTP requests (to the last byte, streams included), by method, endpoint and status",
    ["method", "endpoint", "status"],
    buckets=core._LATENCY_BUCKETS,
)
REQUESTS_IN_FLIGHT = Gauge(
    "parallizer_http_requests_in_flight",
    "HTTP requests being answered now, by endpoint",
    ["endpoint"],
    multiprocess_mode="livesum",
)
RUNS_IN_FLIGHT = Gauge(
    "parallizer_runs_in_flight",
    "Fulfill runs (the work behind a request) going on now, by mode: sync, background, stream",
    ["mode"],
    multiprocess_mode="livesum",
)
RUNS_ENDED = Counter(
    "parallizer_runs_total",
    "Fulfill runs ended, by mode and how: done, superseded, deleted, disconnected, shutdown, error",
    ["mode", "end"],
)
FEED_EVENTS = Counter(
    "parallizer_feed_total",
    "Per-user feed events: hit/miss (a read found a feed or not), added, duplicates (dropped), "
    "replaced (by a newer near duplicate), evicted (over the per-type cap), stale (results of "
    "a superseded request refused), cleared",
    ["event"],
)
FEED_USERS = Gauge(
    "parallizer_feed_users",
    "Users with a feed held in this process",
    multiprocess_mode="livesum",
)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition() -> tuple[bytes, str]:
    """The Prometheus text of every metric (all workers' when in multiprocess mode)."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def process_exiting() -> None:
    """Drop this process's live gauges from the shared directory (multiprocess mode only)."""
    path = multiprocess_dir()
    if path and os.path.isdir(path):
        multiprocess.mark_process_dead(os.getpid(), path)
