"""Prometheus metrics: the seed's "metrics to track", made real.

Everything is registered once, on the default registry, at import. The fan-out records
per-query latency, errors and in-flight gauges; the service adds request-level metrics.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip

QUERY_LATENCY = Histogram(
    "parallizer_query_seconds",
    "Latency of one backend query (ripgrep run, web search, LLM call), by backend and outcome",
    ["backend", "outcome"],
    buckets=_LATENCY_BUCKETS,
)
QUERY_ERRORS = Counter(
    "parallizer_query_errors_total",
    "Failed backend queries, by backend and kind of failure",
    ["backend", "kind"],
)
QUERIES_IN_FLIGHT = Gauge(
    "parallizer_queries_in_flight",
    "Backend queries running now (holding a slot), by backend",
    ["backend"],
    multiprocess_mode="livesum",  # summed over live workers with --workers N
)
QUERIES_WAITING = Gauge(
    "parallizer_queries_waiting",
    "Backend queries queued for a slot, by backend",
    ["backend"],
    multiprocess_mode="livesum",  # summed over live workers with --workers N
)
CONCURRENCY_LIMIT = Gauge(
    "parallizer_concurrency_limit",
    "Calls a backend may have in flight now (its adaptive limit), by backend",
    ["backend"],
    multiprocess_mode="livesum",  # summed over live workers: the process total
)
HEDGES = Counter(
    "parallizer_hedges_total",
    "Second copies of a slow idempotent query, by backend and whether the copy answered first",
    ["backend", "result"],
)
CACHE_EVENTS = Counter(
    "parallizer_cache_total",
    "Query answers served from a cache or an identical in-flight query, by backend and result",
    ["backend", "result"],
)
FULFILLER_LATENCY = Histogram(
    "parallizer_fulfiller_seconds",
    "Latency of one fulfiller within a request",
    ["fulfiller", "outcome"],
    buckets=_LATENCY_BUCKETS,
)
CARDS = Counter(
    "parallizer_cards_total",
    "Cards produced, by type and fulfiller",
    ["type", "fulfiller"],
)
