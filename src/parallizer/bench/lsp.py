"""Benchmark scenarios of the Language Server and the `check` gate, each beside one `rg`
pass over the same tree (how long the simplest look at the tree takes on this machine):

* `lsp-open`: `parallizer lsp` (a real process, over stdio, pygls's client) on a warm index:
  from didOpen of a new plan to its diagnostics. Goal: 0.5 s.
* `lsp-edit`: from didChange to the diagnostics of that version (the debounce included).
  Goal: 0.3 s.
* `check-20`: `parallizer check` (a real process each time) on 20 plans against one plan,
  index build included in both. Goal: within 2x.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from ..backends.base import CodeQuery
from ..backends.ripgrep import RipgrepBackend
from .scenarios import OFFLINE_PLAN, BenchConfig, stdlib_corpus
from .stats import median

PARALLIZER = str(Path(sys.executable).with_name("parallizer"))
OPEN_GOAL_S = 0.5
EDIT_GOAL_S = 0.3
CHECK_GOAL_RATIO = 2.0
INDEX_WAIT_S = 300.0


def _env(corpus: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARALLIZER_", "PERPLEXITY_"))}
    env.update(PARALLIZER_ALLOWED_ROOTS=str(corpus), PARALLIZER_ENV_FILE="",
               PARALLIZER_LOG_LEVEL="WARNING")  # fmt: skip
    return env


async def one_rg_pass(corpus: Path, reps: int) -> float:
    """The median of one rg search for one name over the tree (as CodeSearch looks one up)."""
    rg = RipgrepBackend(timeout=60)
    query = CodeQuery(pattern="TaskGroup")
    await rg.search(query, corpus)  # warm the page cache
    times = []
    for _ in range(max(3, reps)):
        t0 = time.perf_counter()
        await rg.search(query, corpus)
        times.append(time.perf_counter() - t0)
    return median(times)


class _Client(LanguageClient):
    """pygls's client, waiting for the diagnostics of a given document version."""

    def __init__(self) -> None:
        super().__init__("parallizer-bench", "1")
        self.seen: dict[tuple[str, int | None], float] = {}
        self.changed = asyncio.Event()

        @self.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def published(params: types.PublishDiagnosticsParams) -> None:
            self.seen.setdefault((params.uri, params.version), time.perf_counter())
            self.changed.set()

        @self.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def progress_create(params: types.WorkDoneProgressCreateParams) -> None:
            return None

        @self.feature(types.PROGRESS)
        def progress(params: types.ProgressParams) -> None:
            return None

        @self.feature(types.CLIENT_REGISTER_CAPABILITY)
        def register(params: types.RegistrationParams) -> None:
            return None

    async def published_at(self, uri: str, version: int, within: float) -> float:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while (uri, version) not in self.seen:
            self.changed.clear()
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"no diagnostics for {uri} v{version} in {within:g} s")
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                pass
        return self.seen[(uri, version)]


def _open(client: _Client, uri: str, text: str) -> float:
    t0 = time.perf_counter()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "markdown", 1, text))
    )
    return t0


def _change(client: _Client, uri: str, version: int, text: str) -> float:
    t0 = time.perf_counter()
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )
    return t0


async def lsp(cfg: BenchConfig, *, corpus: Path | None = None) -> list[dict[str, Any]]:
    """lsp-open and lsp-edit over one server process on `corpus` (default: the stdlib)."""
    corpus = (corpus or cfg.corpus or stdlib_corpus()).resolve()
    client = _Client()
    await client.start_io(PARALLIZER, "lsp", env=_env(corpus))
    opens: list[float] = []
    edits: list[float] = []
    try:
        await client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(
                    window=types.WindowClientCapabilities(work_done_progress=True)
                ),
                root_uri=corpus.as_uri(),
                workspace_folders=[types.WorkspaceFolder(corpus.as_uri(), corpus.name)],
            )
        )
        client.initialized(types.InitializedParams())
        plans = Path(tempfile.mkdtemp(prefix="parallizer-bench-lsp-"))  # outside the scope
        t_index = time.perf_counter()
        warm = (plans / "warm.md").as_uri()
        _open(client, warm, OFFLINE_PLAN)
        await client.published_at(warm, 1, INDEX_WAIT_S)  # the index, built and warm
        index_s = time.perf_counter() - t_index
        for i in range(max(3, cfg.reps * 2)):
            uri = (plans / f"plan-{i}.md").as_uri()
            text = f"{OFFLINE_PLAN}\n<!-- draft {i} -->\n"
            t0 = _open(client, uri, text)
            opens.append(await client.published_at(uri, 1, 60) - t0)
            t1 = _change(client, uri, 2, text.replace("BoundedSemaphore", "BoundedSemaphor"))
            edits.append(await client.published_at(uri, 2, 60) - t1)
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        await client.stop()
    one_pass = await one_rg_pass(corpus, cfg.reps)
    return [
        _against("lsp-open", median(opens), one_pass, OPEN_GOAL_S, corpus,
                 index_build_s=round(index_s, 3), runs=len(opens)),
        _against("lsp-edit", median(edits), one_pass, EDIT_GOAL_S, corpus, runs=len(edits)),
    ]  # fmt: skip


def _against(
    name: str, secs: float, one_pass: float, goal: float, corpus: Path, **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "corpus": str(corpus),
        "seconds": round(secs, 4),
        "goal_s": goal,
        "met": secs <= goal,
        "one_pass_s": round(one_pass, 4),
        "ratio_to_rg": round(secs / one_pass, 2) if one_pass > 0 else None,
        **extra,
    }


async def _check_run(corpus: Path, plans: list[Path]) -> float:
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        PARALLIZER, "check", "--scope", str(corpus), "--fail-on", "never",
        *map(str, plans),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=_env(corpus),
    )  # fmt: skip
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"parallizer check failed ({proc.returncode}): {err.decode()[-300:]}")
    return time.perf_counter() - t0


async def check(cfg: BenchConfig, *, corpus: Path | None = None, n: int = 20) -> dict[str, Any]:
    """`check` on n plans against one plan: each a fresh process (its index built in it)."""
    corpus = (corpus or cfg.corpus or stdlib_corpus()).resolve()
    folder = Path(tempfile.mkdtemp(prefix="parallizer-bench-check-"))
    plans = []
    for i in range(n):
        p = folder / f"plan-{i}.md"
        p.write_text(f"{OFFLINE_PLAN}\nWe also call `Helper{i}.run()`.\n", encoding="utf-8")
        plans.append(p)
    await _check_run(corpus, plans[:1])  # the page cache warm for both
    ones, manys = [], []
    for _ in range(max(1, cfg.reps)):
        ones.append(await _check_run(corpus, plans[:1]))
        manys.append(await _check_run(corpus, plans))
    one, many = median(ones), median(manys)
    one_pass = await one_rg_pass(corpus, cfg.reps)
    return {
        "name": f"check-{n}",
        "corpus": str(corpus),
        "plans": n,
        "one_plan_s": round(one, 3),
        "plans_s": round(many, 3),
        "ratio": round(many / one, 2) if one > 0 else None,
        "goal_ratio": CHECK_GOAL_RATIO,
        "met": many <= CHECK_GOAL_RATIO * one,
        "one_pass_s": round(one_pass, 4),
    }


def summary(r: dict[str, Any]) -> str:
    """The progress line of one of these scenarios."""
    if r["name"].startswith("check-"):
        return (
            f"{r['plans']} plans {r['plans_s']:.2f} s vs one plan {r['one_plan_s']:.2f} s "
            f"({r['ratio']}×, goal ≤ {r['goal_ratio']:g}×), one rg pass {r['one_pass_s']:.3f} s"
        )
    return (
        f"{r['seconds']:.3f} s (goal ≤ {r['goal_s']:g} s), one rg pass {r['one_pass_s']:.3f} s "
        f"({r['ratio_to_rg']}×)"
    )


def report_lines(scenarios: list[dict[str, Any]]) -> list[str]:
    """bench.md's section for these scenarios (nothing when none ran)."""
    mine = [
        s
        for s in scenarios
        if s["name"] in ("lsp-open", "lsp-edit") or s["name"].startswith("check-")
    ]
    if not mine:
        return []
    lines = [
        "",
        "## The Language Server and `check`, against one rg pass",
        "",
        "`lsp-open`: didOpen of a new plan to its diagnostics, index warm (goal ≤ 0.5 s); "
        "`lsp-edit`: didChange to the diagnostics of that version, the 0.1 s debounce "
        "included (goal ≤ 0.3 s); `check-N`: N plans against one, a fresh process each "
        "(index build included; goal ≤ 2×).",
        "",
        "| Scenario | Time | Goal | One rg pass | Met |",
        "|---|---|---|---|---|",
    ]
    for s in mine:
        if s["name"].startswith("check-"):
            lines.append(
                f"| {s['name']} | {s['plans_s']:.2f} s ({s['ratio']}× one plan: "
                f"{s['one_plan_s']:.2f} s) | ≤ {s['goal_ratio']:g}× | {s['one_pass_s']:.3f} s | "
                f"{'yes' if s['met'] else 'no'} |"
            )
        else:
            lines.append(
                f"| {s['name']} | {s['seconds']:.3f} s | ≤ {s['goal_s']:g} s | "
                f"{s['one_pass_s']:.3f} s | {'yes' if s['met'] else 'no'} |"
            )
    return lines
