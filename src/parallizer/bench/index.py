"""The persisted code index (issue 20): how long a build takes beside universal-ctags, what a
restart costs once the index is on disk.

* **index-build**: a cold build of the tree in a new process (its own wall time, its peak
  memory: the main process plus its parser processes), universal-ctags (`/usr/bin/ctags -R`)
  on the same tree when installed, the size of the index file, then a no-change reload in
  a new process. Goals: build ≤ 1× ctags's wall time with peak RSS ≤ ctags's; the reload
  ≤ 0.1× the build.
* **cli-warm**: `parallizer fulfill` on a tree indexed before, in a new process, end to end,
  against the bare start of the CLI (`parallizer --version`) and one `rg` pass. Goals: ≤ the
  bare start + 1.3× one rg pass; the bare start ≤ 0.25 s.
* **warm-restart**: a new runtime (a restarted server) over the persisted index: its first
  card and all of them against one rg pass. Goals: first ≤ 0.25×, every card ≤ 1.3×.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import median
from typing import Any

from ..backends.base import CodeQuery
from ..backends.ripgrep import RipgrepBackend
from ..config import Settings
from ..runtime import Runtime
from .harness import CLI
from .scenarios import BenchConfig, _timed, stdlib_corpus
from .stream import COLD_PLAN, _first_card, cold_request

CTAGS = "/usr/bin/ctags"

_BUILD = """
import asyncio, json, resource, sys, time
from pathlib import Path
from parallizer.backends.base import Partitions
from parallizer.code.knowledge import CodeKnowledge
from parallizer.code.store import IndexStore
from parallizer.config import Settings

async def main():
    workers = Settings(allowed_roots=sys.argv[1]).index_workers
    # as the runtime builds it (`parallizer index`): the file keeps the scope's partition
    store = CodeKnowledge(
        workers=workers, store=IndexStore(Path(sys.argv[2])), partitions=Partitions()
    )
    t = time.perf_counter()
    snap = await store.snapshot(Path(sys.argv[1]))
    wall = time.perf_counter() - t
    await store.aclose()
    return snap.stats() | {"index_s": wall, "workers": workers}

out = asyncio.run(main())
out["self_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out["worker_rss_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps(out))
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARALLIZER_")}
    env["PARALLIZER_ENV_FILE"] = ""
    env["PARALLIZER_LOG_LEVEL"] = "WARNING"
    env.update(extra)
    return env


_MEASURED = """
import os, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(time.perf_counter() - t0, usage.ru_maxrss, file=sys.stderr)
sys.exit(os.waitstatus_to_exitcode(status))
"""
"""Runs a command and says its peak RSS. Linux carries a process's peak RSS across `exec` from
the process it was forked from: a command started by the bench itself would report at least
the bench's own size (a child of a 300 MB Python says 313 MB, its /proc VmHWM 13.6 MB). Started
from this small process instead, it reports its own."""


def _run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in KB of the process, stdout) of one process."""
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURED, *cmd], capture_output=True, env=env, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}")
    wall, rss = proc.stderr.split()[-2:]
    return float(wall), int(rss), proc.stdout


def _build(corpus: Path, index_dir: Path) -> tuple[float, dict[str, Any]]:
    wall, _, out = _run([sys.executable, "-c", _BUILD, str(corpus), str(index_dir)], _env())
    return wall, json.loads(out)


def _ctags(corpus: Path) -> tuple[float, int] | None:
    if not os.access(CTAGS, os.X_OK):
        return None
    with tempfile.TemporaryDirectory(prefix="parallizer-ctags-") as tmp:
        wall, rss, _ = _run([CTAGS, "-R", "-f", str(Path(tmp) / "tags"), str(corpus)])
    return wall, rss


async def _one_pass(corpus: Path, reps: int) -> float:
    rg = RipgrepBackend(max_filesize="2M")
    passes = []
    for _ in range(max(3, reps)):
        secs, _ = await _timed(lambda: rg.search(CodeQuery(pattern="TaskGroup"), corpus))
        passes.append(secs)
    return median(passes)


def _size(index_dir: Path) -> int:
    return sum(p.stat().st_size for p in index_dir.glob("*.pzi"))


def _persisted(corpus: Path, index_dir: Path) -> None:
    """The index of `corpus` on disk (built once per bench run)."""
    if not any(index_dir.glob("*.pzi")):
        _build(corpus, index_dir)


async def index_build(
    cfg: BenchConfig, index_dir: Path, *, corpus: Path | None = None
) -> dict[str, Any]:
    corpus = corpus or cfg.corpus or stdlib_corpus()
    shutil.rmtree(index_dir, ignore_errors=True)
    build_wall, built = await asyncio.to_thread(_build, corpus, index_dir)
    reloads = [await asyncio.to_thread(_build, corpus, index_dir) for _ in range(cfg.reps)]
    reload_wall = median(w for w, _ in reloads)
    reload_s = median(r["index_s"] for _, r in reloads)
    ctags = await asyncio.to_thread(_ctags, corpus)
    rss_mb = (built["self_rss_kb"] + built["workers"] * built["worker_rss_kb"]) / 1024.0
    size = await asyncio.to_thread(_size, index_dir)
    out: dict[str, Any] = {
        "name": "index-build",
        "corpus": str(corpus),
        "files": built["files"],
        "parsed_files": built["parsed_files"],
        "definitions": built["definitions"],
        "skipped": built["skipped"],
        "workers": built["workers"],
        "build_s": round(build_wall, 3),
        "index_s": round(built["index_s"], 3),
        "peak_rss_mb": round(rss_mb, 1),
        "main_rss_mb": round(built["self_rss_kb"] / 1024.0, 1),
        "index_file_mb": round(size / 1e6, 2),
        "reload_s": round(reload_s, 3),
        "reload_process_s": round(reload_wall, 3),
        "reload_reparsed": reloads[0][1]["reparsed"],
        "reload_ratio": round(reload_s / built["index_s"], 3) if built["index_s"] > 0 else None,
        "goal": "build <= 1x ctags (wall), peak RSS <= ctags's; reload <= 0.1x the build",
    }
    if ctags is not None:
        out["ctags_s"] = round(ctags[0], 3)
        out["ctags_rss_mb"] = round(ctags[1] / 1024.0, 1)
        out["ratio_to_ctags"] = round(build_wall / ctags[0], 3) if ctags[0] > 0 else None
        out["rss_ratio_to_ctags"] = round(rss_mb / (ctags[1] / 1024.0), 3)
    return out


async def cli_warm(
    cfg: BenchConfig, index_dir: Path, *, corpus: Path | None = None
) -> dict[str, Any]:
    corpus = corpus or cfg.corpus or stdlib_corpus()
    await asyncio.to_thread(_persisted, corpus, index_dir)
    reps = max(3, cfg.reps)
    bare = median([(await asyncio.to_thread(_run, [*CLI, "--version"], _env()))[0]
                   for _ in range(reps)])  # fmt: skip
    pass_s = await _one_pass(corpus, cfg.reps)
    with tempfile.TemporaryDirectory(prefix="parallizer-plan-") as tmp:
        plan = Path(tmp) / "plan.md"
        plan.write_text(COLD_PLAN, encoding="utf-8")
        env = _env(
            PARALLIZER_INDEX_DIR=str(index_dir),
            PARALLIZER_ALLOWED_ROOTS=os.pathsep.join((str(corpus), tmp)),
        )
        cmd = [*CLI, "fulfill", str(plan), "--scope", str(corpus), "--json"]
        runs = [(await asyncio.to_thread(_run, cmd, env))[0] for _ in range(cfg.reps)]
    fulfill_s = median(runs)
    goal_s = bare + 1.3 * pass_s
    return {
        "name": "cli-warm",
        "corpus": str(corpus),
        "bare_start_s": round(bare, 3),
        "fulfill_s": round(fulfill_s, 3),
        "one_pass_s": round(pass_s, 4),
        "goal_s": round(goal_s, 3),
        "ratio": round(fulfill_s / goal_s, 3) if goal_s > 0 else None,
        "met": fulfill_s <= goal_s and bare <= 0.25,
        "goal": "fulfill <= bare start + 1.3x one rg pass; bare start <= 0.25 s",
    }


async def warm_restart(
    cfg: BenchConfig, index_dir: Path, *, corpus: Path | None = None
) -> dict[str, Any]:
    corpus = corpus or cfg.corpus or stdlib_corpus()
    await asyncio.to_thread(_persisted, corpus, index_dir)
    pass_s = await _one_pass(corpus, cfg.reps)
    settings = Settings.model_validate({"allowed_roots": str(corpus), "index_dir": str(index_dir)})
    firsts, totals = [], []
    for i in range(cfg.reps):
        async with Runtime(settings, web=None, llm=None) as runtime:  # a restarted server
            first, _, total = await _first_card(runtime, cold_request(corpus, f"warm-{i}", i))
        firsts.append(first)
        totals.append(total)
    first_s, all_s = median(firsts), median(totals)
    return {
        "name": "warm-restart",
        "corpus": str(corpus),
        "one_pass_s": round(pass_s, 4),
        "first_card_s": round(first_s, 4),
        "all_cards_s": round(all_s, 4),
        "first_ratio": round(first_s / pass_s, 3) if pass_s > 0 else None,
        "all_ratio": round(all_s / pass_s, 3) if pass_s > 0 else None,
        "met": first_s <= 0.25 * pass_s and all_s <= 1.3 * pass_s,
        "goal": "first card <= 0.25x one rg pass, every card <= 1.3x",
    }


def summary(r: dict[str, Any]) -> str:
    if r["name"] == "index-build":
        ctags = (
            f" vs ctags {r['ctags_s']:.2f} s ({r['ratio_to_ctags']}×), {r['ctags_rss_mb']:.0f} MB"
            if "ctags_s" in r
            else " (ctags not installed)"
        )
        return (
            f"build {r['build_s']:.2f} s, peak RSS {r['peak_rss_mb']:.0f} MB{ctags}; reload "
            f"{r['reload_s']:.2f} s ({r['reload_ratio']}× the build), file {r['index_file_mb']} MB"
        )
    if r["name"] == "cli-warm":
        return (
            f"fulfill {r['fulfill_s']:.2f} s vs goal {r['goal_s']:.2f} s (bare start "
            f"{r['bare_start_s']:.2f} s + 1.3× rg {r['one_pass_s']:.2f} s)"
        )
    return (
        f"first card {r['first_card_s']:.3f} s ({r['first_ratio']}× rg), all "
        f"{r['all_cards_s']:.3f} s ({r['all_ratio']}× rg {r['one_pass_s']:.3f} s)"
    )


def report_lines(scenarios: list[dict[str, Any]]) -> list[str]:
    mine = [s for s in scenarios if s["name"] in ("index-build", "cli-warm", "warm-restart")]
    if not mine:
        return []
    lines = ["", "## The persisted index", "", "| Scenario | Measured | Goal |", "|---|---|---|"]
    for s in mine:
        lines.append(f"| {s['name']} | {summary(s)} | {s['goal']} |")
    return lines
