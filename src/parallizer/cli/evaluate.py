"""`parallizer eval`: planted mistakes in plans over real trees; how many the cards catch."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from . import app, fail


@app.command("eval")
def eval_(
    data: Annotated[
        Path, typer.Option("--data", help="the evaluation folder: trees.toml, cases/, plans/")
    ] = Path("eval"),
    out: Annotated[Path, typer.Option("--out", help="directory for eval.json and eval.md")] = Path(
        "eval-out"
    ),
    cache: Annotated[
        Path | None,
        typer.Option(
            "--cache",
            help="where trees are fetched (default $PARALLIZER_EVAL_CACHE or ~/.cache/parallizer-eval)",
        ),
    ] = None,
    tree: Annotated[
        list[str] | None, typer.Option("--tree", help="only this tree (repeatable)")
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="offline, llm or both")] = "both",
    max_questions: Annotated[
        int | None,
        typer.Option("--max-questions", help="override PARALLIZER_MAX_QUESTIONS (default 3)"),
    ] = None,
    fetch_only: Annotated[
        bool, typer.Option("--fetch-only", help="fetch and verify the trees, run nothing")
    ] = False,
) -> None:
    """Fetch the pinned trees (cached, sha256-checked), run every plan at the end-of-plan
    cursor offline and with the LLM emulator, print the table, write OUT/eval.json and eval.md."""
    from ..eval import report
    from ..eval.cases import CaseError, load_suite
    from ..eval.fetch import FetchError, default_cache, ensure_trees
    from ..eval.run import MODES, PlanRun, run_suite
    from ..eval.score import check_data
    from ..logs import setup_logging

    modes = MODES if mode == "both" else (mode,)
    if any(m not in MODES for m in modes):
        raise fail("--mode must be offline, llm or both")
    if max_questions is not None and not 1 <= max_questions <= 20:
        raise fail("--max-questions must be between 1 and 20")
    if not (data / "trees.toml").is_file():
        raise fail(f"--data {data}: no trees.toml there")
    setup_logging("WARNING", "text", [])
    console = Console(stderr=True)
    try:
        suite = load_suite(data, tree)
        trees = ensure_trees(list(suite.trees.values()), cache or default_cache(), console.print)
    except (CaseError, FetchError) as exc:
        raise fail(str(exc)) from exc
    problems = check_data(suite.plans, trees)
    if problems:
        raise fail("the evaluation data is inconsistent: " + "; ".join(problems))
    if fetch_only:
        for name, path in trees.items():
            console.print(f"{name}: {path}")
        return
    overrides = {} if max_questions is None else {"max_questions": max_questions}

    def progress(r: PlanRun) -> None:
        caught = sum(m.named for m in r.score.mistakes)
        console.print(
            f"  {r.mode:7} {r.plan.tree}/{r.plan.id}: {caught}/{len(r.plan.mistakes)} named, "
            f"{r.score.questions} questions, {r.latency_ms:.0f} ms"
            + (f"  ERROR {r.error}" if r.error else "")
        )

    runs = asyncio.run(run_suite(suite, trees, modes, progress=progress, **overrides))
    try:
        written = report.write(out, suite, runs)
    except OSError as exc:
        raise fail(f"--out {out}: {exc.strerror}") from exc
    all_rows = report.rows(suite, runs)
    out_console = Console() if sys.stdout.isatty() else Console(width=200)  # a log: no folding
    out_console.print(report.table(all_rows))
    out_console.print(report.kinds_line(all_rows), markup=False, highlight=False)
    for path in written:
        console.print(f"wrote {path}")
