"""The `deps` scenario: what the project's dependencies cost a request.

A small project is written to a temporary directory: a pyproject.toml declaring four of the
libraries Parallizer itself runs on (httpx, pydantic, redis, rich), code importing them, and a
plan naming their APIs (real ones, a misspelling, a name an installed version lacks, a package
the project does not have). Its interpreter is this one (`PARALLIZER_PYTHON`), so the packages
are real installs at the versions this environment has.

Two figures, each beside its goal:
* the first index of each package, built one at a time on a cold store (goal: at most 1 s for
  a typical library);
* on a warm index, what the dependency pass adds to a request: the median of whole offline
  Ambiguities requests with the pass minus without it (goal: at most 50 ms), and the pass
  alone.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .. import assembly
from ..config import Settings
from ..document import Document, read
from ..fulfillers.ambiguities import Ambiguities
from ..models import FulfillRequest, GlobalContext
from ..orchestrator import Orchestrator
from ..runtime import Runtime
from .scenarios import BenchConfig

PACKAGES = ("httpx", "pydantic", "redis", "rich")
FIRST_INDEX_GOAL_MS = 1000.0
ADDED_GOAL_MS = 50.0

_PYPROJECT = """[project]
name = "benchproject"
version = "0.1.0"
dependencies = ["httpx", "pydantic", "redis", "rich"]
"""

_CODE = '''"""Quotes from suppliers, cached in redis."""

import httpx
import redis
from pydantic import BaseModel, TypeAdapter
from rich.console import Console


class Quote(BaseModel):
    sku: str
    price: float


QUOTES = TypeAdapter(list[Quote])


class Supplier:
    def __init__(self, url: str) -> None:
        self._client = httpx.Client(base_url=url)
        self._cache = redis.Redis()
        self.console = Console()

    def fetch(self, sku: str) -> Quote:
        response = self._client.get("/quotes", params={"sku": sku})
        response.raise_for_status()
        return Quote.model_validate_json(response.content)
'''

PLAN = """# Fetch quotes concurrently

`Supplier.fetch` moves to an `httpx.AsyncClient` with `httpx.Limits(max_connections=4)` and
`httpx.Timeout(10.0)`; the body is parsed with `QUOTES.validate_json` and
`Quote.model_validate_json`, and each quote is cached with `pipe.setex` in a
`redis.Redis.pipeline`. A `rich.progress.Progress` shows each supplier.

Errors: `response.raise_for_status()`, then retry with `tenacity.retry`. The transport
limit is `httpx.Limit(max_connections=8)` and progress goes through `console.add_column`.
"""


def _project(tmp: str) -> Path:
    root = Path(tmp).resolve()
    (root / "supplier").mkdir(parents=True)
    (root / "pyproject.toml").write_text(_PYPROJECT, encoding="utf-8")
    (root / "supplier" / "__init__.py").write_text(_CODE, encoding="utf-8")
    return root


async def deps(cfg: BenchConfig) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="parallizer-bench-deps-") as tmp:
        root = await asyncio.to_thread(_project, tmp)
        settings = Settings(_env_file=None, allowed_roots=str(root), python=sys.executable)
        async with Runtime(settings, web=None, llm=None) as runtime:
            envs = await runtime.deps.environments(root)
            python = next((e for e in envs if e.ecosystem == "python"), None)
            packages = [p for p in (python.packages if python else ()) if p.name in PACKAGES]
            first: dict[str, float] = {}
            for p in sorted(packages, key=lambda p: p.name):  # cold, one at a time
                built = await runtime.deps.index(p)
                first[p.label] = round(built.build_ms, 1)

            with_deps = assembly.orchestrator(
                runtime, [Ambiguities(runtime.code, runtime.rg, None, runtime.deps)]
            )
            without = assembly.orchestrator(runtime, [Ambiguities(runtime.code, runtime.rg)])

            async def timed(orch: Orchestrator, i: int) -> tuple[float, int]:
                job = orch.prepare(
                    FulfillRequest(
                        user_id=f"deps-{i}",
                        document_text=f"{PLAN}\n<!-- draft {i} -->\n",  # a new document each time
                        cursor_position=(3, 0),
                        global_context=GlobalContext(scope_root=str(root)),
                    )
                )
                t0 = time.perf_counter()
                response = await orch.fulfill(job)
                return (time.perf_counter() - t0) * 1000.0, len(response.cards)

            await timed(with_deps, -1)  # warm: the project's index, its imports, the page cache
            await timed(without, -2)
            reps = max(5, cfg.reps * 4)
            on: list[float] = []
            off: list[float] = []
            cards = 0
            for i in range(reps):  # interleaved, so drift hits both alike
                ms, cards = await timed(with_deps, i)
                on.append(ms)
                off.append((await timed(without, 1000 + i))[0])

            snapshot = await runtime.code.snapshot(root)
            facts = read(Document(PLAN))
            resolutions = snapshot.resolve(facts.uses, facts.introduced, facts.proposed)
            alone: list[float] = []
            for _ in range(reps):
                t0 = time.perf_counter()
                await runtime.deps.resolve(
                    root, snapshot, resolutions, facts.uses, PLAN.split("\n"), facts.introduced,
                    facts.proposed,
                )  # fmt: skip
                alone.append((time.perf_counter() - t0) * 1000.0)
    typical = statistics.median(first.values()) if first else None
    added = statistics.median(on) - statistics.median(off)
    return {
        "name": "deps",
        "packages": first,
        "first_index_ms_median": round(typical, 1) if typical is not None else None,
        "first_index_ms_max": max(first.values()) if first else None,
        "first_index_goal_ms": FIRST_INDEX_GOAL_MS,
        "request_with_ms": round(statistics.median(on), 1),
        "request_without_ms": round(statistics.median(off), 1),
        "added_ms": round(added, 1),
        "pass_alone_ms": round(statistics.median(alone), 1),
        "added_goal_ms": ADDED_GOAL_MS,
        "cards": cards,
    }
