"""Benchmark scenarios. Each returns one JSON-ready dict of raw numbers (seconds as `*_s`,
milliseconds as `*_ms`), named as in SPEC.md.

Everything remote is a loopback emulator (`parallizer.emulators`), so the figures measure
Parallizer's own overhead and concurrency, not the internet.
"""

from __future__ import annotations

import asyncio
import math
import os
import sysconfig
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from .. import assembly
from ..backends.base import CodeQuery
from ..backends.perplexity import PerplexityBackend
from ..backends.ripgrep import RipgrepBackend
from ..config import Settings
from ..emulators import running
from ..fanout import Call, fan_out
from ..fulfillers.web_context import web_call
from ..models import FulfillRequest, FulfillResponse, GlobalContext
from ..runtime import Runtime
from .stats import median, waves_lower_bound

WEB_QUERIES = [
    "asyncio TaskGroup cancellation semantics",
    "ripgrep json output format",
    "aiohttp connection pool limits",
    "prometheus histogram buckets latency",
    "server-sent events reconnection",
    "token bucket rate limiting",
    "structured concurrency python",
    "openai structured outputs json schema",
    "perplexity sonar api citations",
    "uvicorn graceful shutdown",
]

# Names a plan about async Python would mention (CodeSearch looks each up as a whole word).
RG_NAMES = [
    "TaskGroup", "ThreadPoolExecutor", "BoundedSemaphore", "run_coroutine_threadsafe",
    "get_running_loop",
]  # fmt: skip

# Code-search queries a plan about async Python would plan; run over the stdlib.
RG_QUERIES = [
    CodeQuery(pattern="TaskGroup", mode="word"),
    CodeQuery(pattern="def __init__", mode="literal"),
    CodeQuery(pattern=r"class \w+Error\(", mode="regex"),
    CodeQuery(pattern="json.loads", mode="literal"),
    CodeQuery(pattern="ThreadPoolExecutor", mode="word"),
]


@dataclass(frozen=True)
class BenchConfig:
    latency: float = 0.3
    reps: int = 3
    web_limit: int = 10
    rg_limit: int = 4
    corpus: Path | None = None


def stdlib_corpus() -> Path:
    """The running interpreter's standard library (a large, real, always present tree)."""
    return Path(sysconfig.get_paths()["stdlib"])


async def _timed(coro_factory: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    value = await coro_factory()
    return time.perf_counter() - t0, value


# --- web-N -------------------------------------------------------------------------------------


async def web(n: int, cfg: BenchConfig) -> dict[str, Any]:
    """N web queries through the real Perplexity client against the emulator: serial
    (fan-out limit 1, the seed's "before") versus parallel."""
    queries = [
        WEB_QUERIES[i % len(WEB_QUERIES)] + ("" if i < len(WEB_QUERIES) else f" {i}")
        for i in range(n)
    ]
    async with running("perplexity", latency=cfg.latency, api_key="bench-key") as emu:
        backend = PerplexityBackend(
            api_key="bench-key", base_url=emu.url, timeout=30, max_concurrent=cfg.web_limit
        )
        try:

            async def once(limit: int | None) -> tuple[float, int]:
                calls = [web_call(backend, q) for q in queries]
                secs, outs = await _timed(lambda: fan_out(calls, limit=limit))
                return secs, sum(o.ok for o in outs)

            await once(None)  # warm the connection pool
            serial, parallel, ok = [], [], []
            for _ in range(cfg.reps):
                s, _ = await once(1)
                serial.append(s)
                emu.reset()
                p, k = await once(None)
                parallel.append(p)
                ok.append(k)
            peak = emu.stats.peak
        finally:
            await backend.aclose()
    return _compare(
        f"web-{n}",
        median(serial),
        median(parallel),
        ideal=math.ceil(n / cfg.web_limit) * cfg.latency,
        queries=n,
        limit=cfg.web_limit,
        latency_s=cfg.latency,
        peak_in_flight=peak,
        ok_queries=min(ok),
    )


# --- rg-N --------------------------------------------------------------------------------------


async def rg(n: int, cfg: BenchConfig) -> dict[str, Any]:
    """N ripgrep queries over a large real tree: CPU-bound work on this machine's cores, so
    the ideal is bounded by both the slowest query and total work / usable cores."""
    corpus = cfg.corpus or stdlib_corpus()
    backend = RipgrepBackend(max_concurrent=cfg.rg_limit, timeout=60)
    queries = [
        q.model_copy(update={"max_results": 200, "globs": ("!site-packages",)})
        for q in RG_QUERIES[:n]
    ]

    names = [CodeQuery(pattern=p, globs=("!site-packages",)) for p in RG_NAMES[:n]]

    def calls(qs: list[CodeQuery] = queries) -> list[Call[Any]]:
        return [
            Call(
                label=q.pattern,
                backend="ripgrep",
                run=partial(backend.search, q, corpus),  # holds its own rg slots
                timeout=60,
            )
            for q in qs
        ]

    await fan_out(calls())  # warm the page cache: measure search, not the disk
    serial, parallel, own, one, many = [], [], [], [], []
    for _ in range(cfg.reps):
        o, _ = await _timed(lambda: fan_out(calls(names[:1])))
        one.append(o)
        m, _ = await _timed(lambda: fan_out(calls(names)))
        many.append(m)
        s, outs = await _timed(lambda: fan_out(calls(), limit=1))
        serial.append(s)
        own.append([o.ms / 1000.0 for o in outs])
        before = backend.searches_run
        p, _ = await _timed(lambda: fan_out(calls()))
        parallel.append(p)
        rg_runs = backend.searches_run - before
    per_query = [median([r[i] for r in own]) for i in range(len(queries))]
    cores = min(os.cpu_count() or 1, cfg.rg_limit, n)
    ideal = max(max(per_query), sum(per_query) / cores)
    return _compare(
        f"rg-{n}",
        median(serial),
        median(parallel),
        ideal=ideal,
        queries=n,
        limit=cfg.rg_limit,
        corpus=str(corpus),
        cpu_bound=True,
        query_s={q.pattern: round(t, 4) for q, t in zip(queries, per_query, strict=True)},
        names=RG_NAMES[:n],
        one_name_s=round(median(one), 4),
        names_s=round(median(many), 4),
        names_ratio=round(median(many) / median(one), 2) if median(one) > 0 else None,
        rg_runs=rg_runs,
    )


# --- offline-std ------------------------------------------------------------------------------

OFFLINE_PLAN = """# Plan: bounded concurrency for the downloader

We fan out downloads with `asyncio.TaskGroup` and cap them with a `BoundedSemaphore`.
Blocking parsers run in a `ThreadPoolExecutor` via `loop.run_in_executor()`; results come
back through `asyncio.Queue`. Cancellation uses `asyncio.timeout()` and
`TaskGroup.cancel_all()`.

## Open questions
- Should the retry wrapper live in `concurrent/futures/retry.py` or beside `asyncio/tasks.py`?
- TBD: how many workers does `ThreadPoolExecutor` get by default?
"""


async def offline(cfg: BenchConfig, *, corpus: Path | None = None) -> dict[str, Any]:
    """A whole request with every offline fulfiller (no LLM, no web) on the standard
    library, its code index built beforehand, against one rg pass over the same tree (one
    name, as CodeSearch looks it up). Goal: the request within 1.3 x the pass."""
    corpus = corpus or cfg.corpus or stdlib_corpus()
    settings = Settings(_env_file=None, allowed_roots=str(corpus))
    rg = RipgrepBackend(
        max_concurrent=settings.rg_max_concurrent,
        timeout=settings.rg_timeout,
        max_filesize=settings.rg_max_filesize,
    )
    async with Runtime(settings, rg=rg, web=None, llm=None) as runtime:
        orchestrator = assembly.orchestrator(runtime)

        async def request(i: int) -> tuple[float, FulfillResponse]:
            body = FulfillRequest(
                user_id=f"offline-{i}",
                document_text=f"{OFFLINE_PLAN}\n<!-- draft {i} -->\n",  # a new document each time
                cursor_position=(4, 10),
                global_context=GlobalContext(scope_root=str(corpus)),
            )
            return await _timed(lambda: orchestrator.fulfill(orchestrator.prepare(body)))

        index_s, _ = await request(-1)  # builds the code index, warms the page cache
        rg_before = rg.searches_run
        requests: list[float] = []
        response: FulfillResponse | None = None
        for i in range(max(3, cfg.reps * 2)):
            secs, response = await request(i)
            requests.append(secs)
        rg_runs = (rg.searches_run - rg_before) / len(requests)
        one_name = CodeQuery(pattern="TaskGroup")
        passes = []
        for _ in range(max(3, cfg.reps * 2)):
            secs, _ = await _timed(lambda: rg.search(one_name, corpus))
            passes.append(secs)
    assert response is not None
    request_s, pass_s = median(requests), median(passes)
    return {
        "name": "offline-std",
        "corpus": str(corpus),
        "index_build_s": round(index_s, 3),
        "request_s": round(request_s, 4),
        "one_pass_s": round(pass_s, 4),
        "ratio": round(request_s / pass_s, 2) if pass_s > 0 else None,
        "rg_runs_per_request": round(rg_runs, 2),
        "cards": len(response.cards),
    }


# --- fulfill -----------------------------------------------------------------------------------


def example_plan() -> tuple[str, Path]:
    """The bundled example plan and the code tree it talks about (this project's sources)."""
    pkg = Path(__file__).resolve().parents[1]  # src/parallizer
    repo = pkg.parents[1]
    plan = repo / "examples" / "plan.md"
    if not plan.is_file():
        raise FileNotFoundError(f"{plan} not found: run the benchmark from a source checkout")
    return plan.read_text(encoding="utf-8"), repo


async def fulfill(cfg: BenchConfig) -> dict[str, Any]:
    """One request with every fulfiller (LLM and web emulated at the scaled latency),
    serial versus parallel, against the critical-path lower bound of the parallel run."""
    text, scope = example_plan()
    lines = text.split("\n")
    request = FulfillRequest(
        user_id="bench",
        document_text=text,
        cursor_position=(len(lines) // 2, 0),
        global_context=GlobalContext(scope_root=str(scope)),
    )
    async with (
        running("perplexity", latency=cfg.latency, api_key="bench-key") as web_emu,
        running("llm", latency=cfg.latency, api_key="bench-key") as llm_emu,
    ):
        settings = Settings(
            allowed_roots=str(scope),
            perplexity_api_key="bench-key",
            perplexity_url=web_emu.url,
            llm_url=llm_emu.url,
            llm_model="emulated-model",
            llm_api_key="bench-key",
            web_max_concurrent=cfg.web_limit,
            rg_max_concurrent=cfg.rg_limit,
            web_cache_ttl=0,  # repetitions must search again, not hit the cache
        )
        async with Runtime(settings) as runtime:
            orch = assembly.orchestrator(runtime)
            await orch.fulfill(orch.prepare(request))  # warm pools and caches
            serial, parallel, bounds, cards = [], [], [], 0
            for _ in range(cfg.reps):
                s, _ = await _timed(lambda: orch.fulfill(orch.prepare(request, serial=True)))
                serial.append(s)
                p, resp = await _timed(lambda: orch.fulfill(orch.prepare(request)))
                parallel.append(p)
                bounds.append(critical_path_s(resp))
                cards = len(resp.cards)
            names = list(resp.timings.fulfillers) if resp.timings else []
            queries = (
                sum(len(t.queries) for t in resp.timings.fulfillers.values()) if resp.timings else 0
            )
    return _compare(
        "fulfill",
        median(serial),
        median(parallel),
        ideal=median(bounds),
        fulfillers=names,
        queries=queries,
        cards=cards,
        latency_s=cfg.latency,
    )


def critical_path_s(resp: FulfillResponse) -> float:
    """Least time the request could take with unlimited parallelism: the slowest fulfiller's
    chain of dependent query waves (see `waves_lower_bound`)."""
    if not resp.timings:
        return 0.0
    best = 0.0
    for t in resp.timings.fulfillers.values():
        # group by when a query was *asked* (start minus time queued for a slot); a shared
        # query (another fulfiller's run, joined) is still a link of this chain: its `ms` is
        # what this fulfiller waited for it, no more than the run itself
        asked = [
            (q.start_ms - (q.queued_ms or 0.0), (q.queued_ms or 0.0) + q.ms, q.ms)
            for q in t.queries
        ]
        best = max(best, waves_lower_bound(asked))
    return best / 1000.0


def _compare(
    name: str, serial: float, parallel: float, *, ideal: float, **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "serial_s": round(serial, 4),
        "parallel_s": round(parallel, 4),
        "ideal_s": round(ideal, 4),
        "speedup": round(serial / parallel, 2) if parallel > 0 else None,
        "efficiency": round(min(ideal / parallel, 1.0), 3) if parallel > 0 else None,
        **extra,
    }


# --- capacity-web, capacity-llm ---------------------------------------------------------------


def _limit_series(limiter: Any, t0: float, t_end: float) -> list[list[float]]:
    """The adaptive limit over time as [seconds since t0, limit] steps, up to t_end."""
    hist = list(getattr(limiter, "history", []))
    before = [lim for t, lim in hist if t <= t0]
    series = [[0.0, float(before[-1] if before else limiter.limit)]]
    series += [[round(t - t0, 3), float(lim)] for t, lim in hist if t0 < t <= t_end]
    series.append([round(t_end - t0, 3), float(limiter.limit)])
    return series


async def capacity_web(
    cfg: BenchConfig, *, users: int = 60, per_user: int = 5, capacity: int = 24,
    latency: float = 0.5, retry_after: float = 0.5,
) -> dict[str, Any]:  # fmt: skip
    """`users` requests of `per_user` web searches each, all at once, against a provider that
    serves `capacity` at once (429 with Retry-After beyond): makespan against the ideal
    ⌈searches ÷ capacity⌉ × latency. The adaptive limit runs at its default settings (start
    and ceiling): finding the provider's capacity is its job, not the user's."""
    defaults = Settings(_env_file=None)
    async with running(
        "perplexity", latency=latency, api_key="bench-key", capacity=capacity,
        retry_after=retry_after,
    ) as emu:  # fmt: skip
        backend = PerplexityBackend(
            api_key="bench-key",
            base_url=emu.url,
            timeout=30,
            max_concurrent=defaults.web_max_concurrent,
            start_concurrent=defaults.web_start_concurrent,
        )
        try:
            t0 = time.monotonic()
            per_request = await asyncio.gather(
                *(
                    fan_out([web_call(backend, f"user {u} topic {i} capacity")
                             for i in range(per_user)])
                    for u in range(users)
                )
            )  # fmt: skip
            makespan = time.monotonic() - t0
        finally:
            await backend.aclose()
    searches = users * per_user
    outs = [o for req in per_request for o in req]
    ideal = math.ceil(searches / capacity) * latency
    calls = emu.stats.total
    return {
        "name": "capacity-web",
        "users": users,
        "searches": searches,
        "capacity": capacity,
        "latency_s": latency,
        "retry_after_s": retry_after,
        "makespan_s": round(makespan, 3),
        "ideal_s": round(ideal, 3),
        "ratio": round(makespan / ideal, 3),
        "calls": calls,
        "rate_limited": emu.stats.rejected,
        "rate_limited_share": round(emu.stats.rejected / calls, 4) if calls else 0.0,
        "failed_queries": sum(not o.ok for o in outs),
        "failed_share": round(sum(not o.ok for o in outs) / len(outs), 4),
        "peak_in_flight": emu.stats.peak,
        "limit_start": defaults.web_start_concurrent,
        "limit_ceiling": defaults.web_max_concurrent,
        "limit_final": backend.limiter.limit,
        "limit_series": _limit_series(backend.limiter, t0, t0 + makespan),
    }
