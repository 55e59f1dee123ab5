"""`parallizer bench`: the seed's table reproduced on this machine, against loopback emulators."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .common import load_settings_or_fail
from .root import app, fail


@app.command()
def bench(
    latency: Annotated[
        float | None,
        typer.Option(
            "--latency", help="seconds per emulated remote call (default 0.3; 0.05 with --quick)"
        ),
    ] = None,
    users: Annotated[
        int | None,
        typer.Option(
            "--users",
            help="largest load level; load runs at 50 and N users (default 500; 50 with --quick)",
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="directory for bench.json, bench.md, bench.png")
    ] = Path("bench-out"),
    only: Annotated[
        str | None,
        typer.Option(
            "--only",
            help="comma-separated scenarios or prefixes to run (web, rg-5, fulfill, "
            "offline-std, deps, capacity, capacity-web, capacity-llm, big-plan, cold-scope, "
            "llm-first-question, index-build, cli-warm, warm-restart, load, faults, lsp-open, "
            "lsp-edit, check-20); default: all",
        ),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="one repetition, small latency and load: under a minute")
    ] = False,
) -> None:
    """Serial versus parallel for web-3/5/10, rg-3/5 and a whole fulfill; offline-std (a whole
    offline request on the standard library against one rg pass); deps (a package's first
    index, and what the dependency pass adds to a warm request); capacity-web and
    capacity-llm (providers with a capacity: adaptive limits); big-plan (a small plan among big
    ones); index-build (beside universal-ctags), cli-warm and warm-restart (the persisted index);
    load-50/N users over HTTP; 5% faults. Writes OUT/bench.json, OUT/bench.md and
    OUT/bench.png."""
    from ..bench.runner import RunConfig, run, write_reports

    load_settings_or_fail(log_level="WARNING")
    latency = (0.05 if quick else 0.3) if latency is None else latency
    users = (50 if quick else 500) if users is None else users
    if not 0 < latency <= 30:
        raise fail("--latency must be between 0 and 30 seconds")
    if not 1 <= users <= 5000:
        raise fail("--users must be between 1 and 5000")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fail(f"--out {out}: {exc.strerror}") from exc
    names = tuple(n.strip() for n in (only or "").split(",") if n.strip())
    known = (
        "web", "rg", "fulfill", "offline", "deps", "capacity", "big-plan", "cold-scope",
        "llm-first-question", "index-build", "cli-warm", "warm-restart", "load", "faults", "lsp",
        "check",
    )  # fmt: skip
    if bad := [n for n in names if not n.startswith(known)]:
        raise fail(f"--only: unknown scenario {bad[0]!r} (known: {', '.join(known)})")
    cfg = RunConfig(latency=latency, users=users, quick=quick, out=out, only=names)
    console = Console(stderr=True)
    env, scenarios = asyncio.run(run(cfg, console))
    for path in write_reports(out, env, scenarios):
        console.print(f"wrote {path}")
    Console().print((out / "bench.md").read_text(), markup=False, highlight=False)
