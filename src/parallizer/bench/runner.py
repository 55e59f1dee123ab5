"""`parallizer bench`: run every scenario with a progress display, then write the reports."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import platform
import re
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..config import Settings
from . import deps as deps_mod
from . import load as load_mod
from . import scenarios as S
from . import stream as first_card
from .harness import (
    configure_emulator,
    emulator_process,
    emulator_stats,
    redis_commands,
    redis_process,
    server_process,
)

FAULT_KINDS = ["500", "429", "hang", "malformed", "drop"]


@dataclass(frozen=True)
class RunConfig:
    latency: float = 0.3
    users: int = 500
    quick: bool = False
    out: Path = Path("bench-out")
    only: tuple[str, ...] = ()
    """Scenario names (or prefixes such as `capacity`) to run; empty: all of them."""

    def wants(self, name: str) -> bool:
        return not self.only or any(name == o or name.startswith(o) for o in self.only)

    @property
    def load_levels(self) -> list[int]:
        return sorted({min(50, self.users), self.users})

    @property
    def bench(self) -> S.BenchConfig:
        return S.BenchConfig(latency=self.latency, reps=1 if self.quick else 3)

    @property
    def remote_timeout(self) -> float:
        """Per remote call in the served scenarios: long enough for a normal answer, short
        enough that an injected hang costs a bounded wait."""
        return max(1.0, 6 * self.latency)


def environment(cfg: RunConfig) -> dict[str, Any]:
    from .. import __version__

    b = cfg.bench
    served = Settings()  # the server's defaults (environment only, never a file)
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "parallizer": __version__,
        "latency_s": cfg.latency,
        "quick": cfg.quick,
        "reps": b.reps,
        "web_max_concurrent": b.web_limit,
        "rg_max_concurrent": b.rg_limit,
        "llm_max_concurrent": served.llm_max_concurrent,
        "web_cache_ttl_s": 0,
        "remote_timeout_s": cfg.remote_timeout,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _project_names() -> list[str]:
    """Public classes and functions of this package: real names for users' plans to mention."""
    import importlib
    import inspect

    names: set[str] = set()
    for mod in (
        "fanout",
        "limits",
        "orchestrator",
        "fulfillers.base",
        "runtime",
        "document",
        "models",
        "backends.ripgrep",
        "backends.http",
        "fulfillers.ambiguities",
        "planner.offline",
    ):
        m = importlib.import_module(f"parallizer.{mod}")
        for n, obj in vars(m).items():
            if (
                not n.startswith("_")
                and (inspect.isclass(obj) or inspect.isfunction(obj))
                and getattr(obj, "__module__", "") == m.__name__
            ):
                names.add(n)
    return sorted(names)


def request_bodies(text: str, repo: Path, plan: Path, users: int) -> list[dict[str, Any]]:
    """One distinct plan per user: the example plan with a sentence of the user's own (naming
    a real identifier of this project) added to one of its sections, the cursor at its end.
    Users therefore share some searches (same repository, same plan) and not others."""
    from ..document import Document

    doc = Document(text)
    sections = [s for s in doc.sections if s.level > 0]
    names = _project_names()
    bodies = []
    for i in range(users):
        sec = sections[i % len(sections)]
        last = max(
            (n for n in range(sec.start, sec.end) if doc.lines[n].strip()), default=sec.start
        )
        sentence = f"User {i} also wants `{names[i % len(names)]}` covered by this change."
        lines = [*doc.lines[: last + 1], "", sentence, *doc.lines[last + 1 :]]
        bodies.append(
            {
                "user_id": f"user-{i}",
                "document_text": "\n".join(lines),
                "cursor_position": [last + 2, len(sentence)],
                "global_context": {"scope_root": str(repo), "plan_path": str(plan)},
            }
        )
    return bodies


def big_plan(text: str, names: list[str], size: int, variant: int) -> str:
    """The example plan grown to `size` bytes with sections of its own kind: each changes
    real names of this project, invents a helper and a module, names a test and leaves a
    decision open (what the reading and the name checks work on). `variant` shifts the names,
    so that plans of different variants share little."""
    parts = [text]
    total = len(text.encode("utf-8"))
    i = 0
    while total < size:
        a, b, c, d = (names[(variant * 31 + i * 7 + k) % len(names)] for k in range(4))
        part = (
            f"\n## Part {i}: {a} and {b}\n\n"
            f"We change `{a}` so that `{b}.run()` calls `{c}Helper{variant}x{i}` in "
            f"`src/parallizer/part_{variant}_{i}.py`; `{d}` stays as it is. TBD: should `{c}` "
            f"move next to `{a}`?\n\n"
            f"- Keep `{b}` and `Settings.timeout_{i}` in mind.\n"
            f"- See `tests/test_part_{i}.py` and `docs/part{i}.md`.\n"
        )
        parts.append(part)
        total += len(part.encode("utf-8"))
        i += 1
    return "".join(parts)


async def big_plan_scenario(
    cfg: RunConfig, *, bigs: int = 4, size: int = 250_000
) -> dict[str, Any]:
    """A small plan (the example, ~2 KB) alone, then sent while `bigs` plans of `size` bytes
    are being served, against a real `parallizer serve` at its default settings (offline: no
    LLM, no web; the scope is this project). Goal: among the big ones within 2 × alone + 0.5 s.
    """
    text, repo = S.example_plan()
    plan = repo / "examples" / "plan.md"
    names = _project_names()
    body = {
        "user_id": "small",
        "document_text": text,
        "cursor_position": [4, 0],
        "global_context": {"scope_root": str(repo), "plan_path": str(plan)},
    }
    big = [
        {**body, "user_id": f"big-{v}", "document_text": big_plan(text, names, size, v)}
        for v in range(bigs)
    ]
    env = {"PARALLIZER_ALLOWED_ROOTS": str(repo), "PARALLIZER_LOG_LEVEL": "WARNING"}
    async with server_process(env, cwd=repo) as (url, pid):
        # warm: the code index, the reader's worker, one big plan through every stage
        await load_mod.load(1, url, pid, [big[0]], request_timeout=120.0)
        result = await load_mod.small_among_big(
            url, body, big, reps=1 if cfg.quick else 3, request_timeout=120.0
        )
    return {"name": "big-plan", **result, "ratio": round(result["among_s"] / result["alone_s"], 2)}


async def _served(
    cfg: RunConfig, step: Callable[[str, Awaitable[dict[str, Any]]], Awaitable[None]]
) -> None:
    text, repo = S.example_plan()
    plan = repo / "examples" / "plan.md"
    bodies = request_bodies(text, repo, plan, max(cfg.load_levels))
    async with (
        emulator_process("perplexity", cfg.latency, require_key="bench-key") as web_url,
        emulator_process("llm", cfg.latency, require_key="bench-key") as llm_url,
    ):
        env = _served_env(cfg, web_url, llm_url, repo)
        timeout = 120.0 + 4 * cfg.remote_timeout
        served = Settings()  # the server's defaults (environment only, never a file)
        slots = {
            "perplexity": served.web_max_concurrent,
            "llm": served.llm_max_concurrent,
            "ripgrep": served.rg_max_concurrent,
        }
        async with server_process(env, cwd=repo) as (url, pid):
            # one request to warm the server (imports, pools) before measuring
            await load_mod.load(1, url, pid, bodies, request_timeout=timeout)
            for users in cfg.load_levels:
                if not cfg.wants(f"load-{users}"):
                    continue
                await step(
                    f"load-{users}",
                    load_mod.load(users, url, pid, bodies, request_timeout=timeout, slots=slots),
                )

            async def set_rate(rate: float) -> None:
                for u in (web_url, llm_url):
                    await configure_emulator(
                        u, fail_rate=rate, faults=FAULT_KINDS, hang_s=cfg.remote_timeout * 3
                    )

            if not cfg.wants("faults"):
                return
            await step(
                "faults",
                load_mod.faults(
                    url,
                    bodies,
                    requests=min(50, cfg.users) if cfg.quick else 100,
                    request_timeout=timeout,
                    set_fail_rate=set_rate,
                    fail_rate=0.05,
                    kinds=FAULT_KINDS,
                ),
            )


def _served_env(cfg: RunConfig, web_url: str, llm_url: str, repo: Path) -> dict[str, str]:
    return {
        "PERPLEXITY_API_KEY": "bench-key",
        "PARALLIZER_PERPLEXITY_URL": web_url,
        "PARALLIZER_LLM_URL": llm_url,
        "PARALLIZER_LLM_MODEL": "emulated-model",
        "PARALLIZER_LLM_API_KEY": "bench-key",
        "PARALLIZER_ALLOWED_ROOTS": str(repo),
        "PARALLIZER_TIMEOUT": str(cfg.remote_timeout),
        "PARALLIZER_LOG_LEVEL": "WARNING",
        # every request does its own remote calls (the faults run must reach the
        # emulators); concurrent identical calls still share one run
        "PARALLIZER_WEB_CACHE_TTL": "0",
    }


CLUSTER_WORKERS = 4


async def load_cluster(cfg: RunConfig, workers: int = CLUSTER_WORKERS) -> dict[str, Any]:
    """The biggest load level against `workers` workers sharing one Redis (feed, superseding,
    web single flight, limits per provider): latency, requests per second, and the Redis
    commands each request cost, to set beside the single-process run of the same load."""
    text, repo = S.example_plan()
    plan = repo / "examples" / "plan.md"
    users = max(cfg.load_levels)
    bodies = request_bodies(text, repo, plan, users)
    async with (
        emulator_process("perplexity", cfg.latency, require_key="bench-key") as web_url,
        emulator_process("llm", cfg.latency, require_key="bench-key") as llm_url,
        redis_process() as redis_url,
    ):
        env = {**_served_env(cfg, web_url, llm_url, repo), "PARALLIZER_REDIS_URL": redis_url}
        timeout = 120.0 + 4 * cfg.remote_timeout
        async with server_process(env, repo, "--workers", str(workers)) as (url, pid):
            # warm every worker (a new connection per request lands on any of them); quick:
            # one request each, which warms most of them (its figures are not compared)
            warm = workers if cfg.quick else 4 * workers
            await load_mod.load(warm, url, pid, bodies, request_timeout=timeout)
            before = await redis_commands(redis_url) or 0
            result = await load_mod.load(users, url, pid, bodies, request_timeout=timeout)
            after = await redis_commands(redis_url) or before
    result.update(
        name=f"load-{users}-redis-{workers}w",
        workers=workers,
        redis_commands_per_request=round((after - before) / users, 1),
    )
    return result


async def _limit_sampler(url: str, series: dict[str, list[list[float]]], t0: float) -> None:
    """Poll the server's /metrics for each backend's adaptive limit (the keys of `series`)
    into `series` until cancelled."""
    pattern = re.compile(r'^parallizer_concurrency_limit\{backend="([^"]+)"\} ([0-9.e+]+)$', re.M)
    async with aiohttp.ClientSession() as s:
        while True:
            try:
                async with s.get(f"{url}/metrics") as r:
                    text = await r.text()
                for backend, value in pattern.findall(text):
                    steps = series.get(backend)
                    if steps is not None and (not steps or steps[-1][1] != float(value)):
                        steps.append([round(time.perf_counter() - t0, 3), float(value)])
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)


async def capacity_llm(
    cfg: RunConfig, *, users: int = 50, capacity: int = 256, latency: float = 1.0
) -> dict[str, Any]:
    """One request with every fulfiller alone, then `users` distinct requests at once, against
    a real `parallizer serve` (emulators in their own processes); the LLM at `latency` with
    room for `capacity` calls at once (429 beyond); the web emulator has no capacity of its own.
    Every limit at its default settings. p99 of the crowd against the lone request, LLM calls
    per request, 429s, the LLM and web limits over time (sampled from /metrics)."""
    text, repo = S.example_plan()
    plan = repo / "examples" / "plan.md"
    bodies = request_bodies(text, repo, plan, users + 2)
    async with (
        emulator_process("perplexity", latency, require_key="bench-key") as web_url,
        emulator_process(
            "llm", latency, require_key="bench-key", capacity=capacity, retry_after=latency
        ) as llm_url,
    ):
        env = {
            **_served_env(cfg, web_url, llm_url, repo),
            "PARALLIZER_TIMEOUT": str(max(30.0, 10 * latency)),
        }
        timeout = 120.0 + 40 * latency
        async with server_process(env, cwd=repo) as (url, pid):
            await load_mod.load(1, url, pid, bodies[-1:], request_timeout=timeout)  # warm
            await configure_emulator(llm_url)
            alone = await load_mod.load(1, url, pid, bodies[:1], request_timeout=timeout)
            alone_stats = await emulator_stats(llm_url)
            await configure_emulator(llm_url)
            await configure_emulator(web_url)
            series: dict[str, list[list[float]]] = {"llm": [], "perplexity": []}
            t0 = time.perf_counter()
            sampler = asyncio.create_task(_limit_sampler(url, series, t0))
            try:
                crowd = await load_mod.load(
                    users, url, pid, bodies[1 : users + 1], request_timeout=timeout
                )
            finally:
                sampler.cancel()
            stats = await emulator_stats(llm_url)
            web_stats = await emulator_stats(web_url)
    for steps in series.values():
        if steps:
            steps.append([round(crowd["wall_s"], 3), steps[-1][1]])
    alone_s = alone["p50_ms"] / 1000.0
    p99_s = crowd["p99_ms"] / 1000.0
    return {
        "name": "capacity-llm",
        "users": users,
        "capacity": capacity,
        "latency_s": latency,
        "alone_s": round(alone_s, 3),
        "p50_s": round(crowd["p50_ms"] / 1000.0, 3),
        "p99_s": round(p99_s, 3),
        "ratio": round(p99_s / alone_s, 3) if alone_s > 0 else None,
        "success_rate": crowd["success_rate"],
        "llm_calls_alone": alone_stats["total"],
        "llm_calls_per_request": round(stats["total"] / users, 2),
        "rate_limited": stats["rejected"],
        "peak_in_flight": stats["peak"],
        "web_peak_in_flight": web_stats["peak"],
        "server_cpu_s": crowd["server_cpu_s"],
        "crowd_wall_s": crowd["wall_s"],
        "backends": crowd["backends"],
        "limit_series": series["llm"],
        "web_limit_series": series["perplexity"],
    }


async def run(
    cfg: RunConfig, console: Console | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    console = console or Console(stderr=True)
    b = cfg.bench
    results: list[dict[str, Any]] = []
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:

        async def step(name: str, work: Awaitable[dict[str, Any]]) -> None:
            task = progress.add_task(f"[bold]{name}[/bold]", total=1)
            res = await work
            results.append(res)
            progress.update(task, completed=1, description=f"[bold]{name}[/bold]  {summary(res)}")

        for n in (3, 5, 10):
            if cfg.wants(f"web-{n}"):
                await step(f"web-{n}", S.web(n, b))
        for n in (3, 5):
            if cfg.wants(f"rg-{n}"):
                await step(f"rg-{n}", S.rg(n, b))
        if cfg.wants("fulfill"):
            await step("fulfill", S.fulfill(b))
        if cfg.wants("offline-std"):
            # quick: one package of the standard library (the whole one takes seconds to index)
            await step(
                "offline-std",
                S.offline(b, corpus=S.stdlib_corpus() / "asyncio" if cfg.quick else None),
            )
        if cfg.wants("deps"):
            await step("deps", deps_mod.deps(b))
        if cfg.wants("capacity-web"):
            if cfg.quick:  # the same shape, small: 100 searches through room for 8
                work = S.capacity_web(b, users=20, capacity=8, latency=cfg.latency,
                                      retry_after=cfg.latency)  # fmt: skip
            else:
                work = S.capacity_web(b)
            await step("capacity-web", work)
        if cfg.wants("capacity-llm"):
            if cfg.quick:
                work = capacity_llm(cfg, users=5, capacity=8, latency=cfg.latency)
            else:
                work = capacity_llm(cfg)
            await step("capacity-llm", work)
        if cfg.wants("big-plan"):
            # quick: the same shape, smaller: two big plans of 60 KB (still 25 × the small one)
            work = (
                big_plan_scenario(cfg, bigs=2, size=60_000) if cfg.quick else big_plan_scenario(cfg)
            )
            await step("big-plan", work)
        if cfg.wants("cold-scope"):
            # quick: one package of the standard library
            corpus = S.stdlib_corpus() / "asyncio" if cfg.quick else None
            await step("cold-scope", first_card.cold_scope(b, corpus=corpus))
        if any(cfg.wants(n) for n in ("index-build", "cli-warm", "warm-restart")):
            await index_scenarios(cfg, step)
        if cfg.wants("llm-first-question"):
            # quick: the emulated latency of the run (the shape, not the 6 s of a slow LLM)
            work = first_card.llm_first_question(b, latency=cfg.latency if cfg.quick else 6.0)
            await step("llm-first-question", work)
        if any(cfg.wants(n) for n in ("lsp-open", "lsp-edit", "check-20")):
            await lsp_scenarios(cfg, step)
        if any(cfg.wants(n) for n in ("load", "faults")):
            await _served(cfg, step)
        if cfg.wants("load-cluster"):
            if shutil.which("redis-server") is None:
                console.print("[yellow]load-cluster skipped: redis-server is not installed")
            else:
                workers = 2 if cfg.quick else CLUSTER_WORKERS
                await step(
                    f"load-{max(cfg.load_levels)}-redis-{workers}w", load_cluster(cfg, workers)
                )
    return environment(cfg), results


async def index_scenarios(
    cfg: RunConfig, step: Callable[[str, Awaitable[dict[str, Any]]], Awaitable[None]]
) -> None:
    """index-build, cli-warm, warm-restart (bench/index.py) over one index directory of the
    run's own; quick: on one package of the standard library."""
    import tempfile

    from . import index as I

    corpus = S.stdlib_corpus() / "asyncio" if cfg.quick else None
    b = cfg.bench
    with tempfile.TemporaryDirectory(prefix="parallizer-bench-index-") as tmp:
        index_dir = Path(tmp)
        if cfg.wants("index-build"):
            await step("index-build", I.index_build(b, index_dir, corpus=corpus))
        if cfg.wants("cli-warm"):
            await step("cli-warm", I.cli_warm(b, index_dir, corpus=corpus))
        if cfg.wants("warm-restart"):
            await step("warm-restart", I.warm_restart(b, index_dir, corpus=corpus))


async def lsp_scenarios(
    cfg: RunConfig, step: Callable[[str, Awaitable[dict[str, Any]]], Awaitable[None]]
) -> None:
    """lsp-open, lsp-edit (one server process) and check-20 (bench/lsp.py); quick: on one
    package of the standard library."""
    from . import lsp as L

    corpus = S.stdlib_corpus() / "asyncio" if cfg.quick else None
    b = cfg.bench
    if cfg.wants("lsp-open") or cfg.wants("lsp-edit"):
        for r in await L.lsp(b, corpus=corpus):
            if cfg.wants(r["name"]):
                await step(r["name"], _ready(r))
    if cfg.wants("check-20"):
        await step("check-20", L.check(b, corpus=corpus))


async def _ready(r: dict[str, Any]) -> dict[str, Any]:
    return r


def summary(r: dict[str, Any]) -> str:
    if r["name"] in ("cold-scope", "llm-first-question"):
        return first_card.summary(r)
    if r["name"] in ("index-build", "cli-warm", "warm-restart"):
        from .index import summary as index_summary

        return index_summary(r)
    if r["name"] in ("lsp-open", "lsp-edit") or r["name"].startswith("check-"):
        from .lsp import summary as lsp_summary

        return lsp_summary(r)
    if "serial_s" in r:
        return (
            f"serial {r['serial_s']:.3f} s → parallel {r['parallel_s']:.3f} s "
            f"({r['speedup']}×, ideal {r['ideal_s']:.3f} s, efficiency {r['efficiency']})"
        )
    if r["name"].startswith("load-"):
        redis = (
            f", {r['redis_commands_per_request']} Redis commands a request"
            if "redis_commands_per_request" in r
            else ""
        )
        return (
            f"p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, success {r['success_rate']:.1%}, "
            f"{r['rps']} req/s, peak RSS {r['peak_rss_mb']:.0f} MB{redis}"
        )
    if r["name"] == "capacity-web":
        return (
            f"makespan {r['makespan_s']:.2f} s vs ideal {r['ideal_s']:.2f} s ({r['ratio']}×), "
            f"429s {r['rate_limited_share']:.1%} of calls, failed {r['failed_queries']}"
        )
    if r["name"] == "capacity-llm":
        return (
            f"alone {r['alone_s']:.2f} s, {r['users']} at once p99 {r['p99_s']:.2f} s "
            f"({r['ratio']}×), {r['llm_calls_per_request']} LLM calls/request, "
            f"429s {r['rate_limited']}"
        )
    if r["name"] == "big-plan":
        return (
            f"small plan alone {r['alone_s']:.2f} s, during {r['bigs']} big ones "
            f"{r['among_s']:.2f} s (goal ≤ {r['goal_s']:.2f} s); big ones {r['big_s']:.2f} s"
        )
    if r["name"] == "offline-std":
        return (
            f"whole offline request {r['request_s']:.3f} s vs one rg pass {r['one_pass_s']:.3f} s "
            f"({r['ratio']}×), {r['rg_runs_per_request']} rg processes/request"
        )
    if r["name"] == "deps":
        return (
            f"first index of a package: median {r['first_index_ms_median']} ms, max "
            f"{r['first_index_ms_max']} ms; a warm request +{r['added_ms']} ms "
            f"(the pass alone {r['pass_alone_ms']} ms)"
        )
    if r["name"] == "faults":
        return (
            f"answered {r['answered_rate']:.1%}, queries ok {r['query_success_rate']:.1%}, "
            f"cards delivered {r['cards_delivered_rate']:.1%}"
        )
    return ""


def write_reports(out: Path, env: dict[str, Any], scenarios: list[dict[str, Any]]) -> list[Path]:
    from .report import write_capacity_png, write_json, write_md, write_png

    out.mkdir(parents=True, exist_ok=True)
    paths = [write_json(out, env, scenarios), write_md(out, env, scenarios)]
    png = write_png(out, env, scenarios)
    if png:
        paths.append(png)
    cap_png = write_capacity_png(out, scenarios)
    if cap_png:
        paths.append(cap_png)
    return paths
