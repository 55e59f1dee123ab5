"""`parallizer eval`: how good the cards are on text nobody here wrote (the trees' own docs,
an old release's docs against new code) and on plans with planted mistakes (over real trees and
over projects with real packages installed)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from .root import app, fail


@app.command("eval")
def eval_(
    data: Annotated[
        Path,
        typer.Option(
            "--data", help="the evaluation folder: trees.toml, projects.toml, cases/, plans/, ..."
        ),
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
        list[str] | None, typer.Option("--tree", help="only this tree or project (repeatable)")
    ] = None,
    part: Annotated[
        list[str] | None,
        typer.Option("--part", help="only this part: docs, history, plans or deps (repeatable)"),
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick", help="the small subset marked `quick = true` (trees, a project, a history)"
        ),
    ] = False,
    mode: Annotated[str, typer.Option("--mode", help="offline, llm or both")] = "both",
    max_questions: Annotated[
        int | None,
        typer.Option("--max-questions", help="override PARALLIZER_MAX_QUESTIONS (default 3)"),
    ] = None,
    fetch_only: Annotated[
        bool, typer.Option("--fetch-only", help="fetch and verify the trees, run nothing")
    ] = False,
) -> None:
    """Fetch the pinned trees (cached, sha256-checked), install the dependency projects
    (cached), run every part offline and with the LLM emulator, print the tables, write
    OUT/eval.json and eval.md. Requests the product fails on are a figure (goal 0) and listed;
    the run fails (exit 1) only when every request failed, or (exit 2) on a harness error: a
    fetch, a checksum, an install, inconsistent data."""
    from ..eval import report
    from ..eval.cases import CaseError, load_suite, quick_suite
    from ..eval.fetch import FetchError, default_cache, ensure_projects, ensure_trees
    from ..eval.run import MODES, PARTS, DocRun, PlanRun, docs_jobs, history_jobs, run_suite
    from ..eval.score import check_data
    from ..logs import setup_logging

    modes = MODES if mode == "both" else (mode,)
    if any(m not in MODES for m in modes):
        raise fail("--mode must be offline, llm or both")
    parts = tuple(dict.fromkeys(part)) if part else PARTS
    if any(p not in PARTS for p in parts):
        raise fail(f"--part must be one of {', '.join(PARTS)}")
    if max_questions is not None and not 1 <= max_questions <= 20:
        raise fail("--max-questions must be between 1 and 20")
    if not (data / "trees.toml").is_file():
        raise fail(f"--data {data}: no trees.toml there")
    setup_logging("WARNING", "text", [])
    console = Console(stderr=True, soft_wrap=True)
    cache = cache or default_cache()
    try:
        suite = load_suite(data, tree)
        doc_trees = None
        if quick:
            suite, doc_trees = quick_suite(suite)
        suite = _only_parts(suite, parts, doc_trees)
        trees = ensure_trees(list(suite.trees.values()), cache, console.print)
        projects = ensure_projects(list(suite.projects.values()), cache, console.print)
    except (CaseError, FetchError) as exc:
        raise fail(str(exc)) from exc
    paths = trees | projects
    problems = check_data(suite, paths)
    if problems:
        raise fail("the evaluation data is inconsistent: " + "; ".join(problems))
    if fetch_only:
        for name, path in paths.items():
            console.print(f"{name}: {path}")
        return
    overrides = {} if max_questions is None else {"max_questions": max_questions}
    jobs = docs_jobs(suite, trees, doc_trees) if "docs" in parts else []
    if "history" in parts:
        jobs += history_jobs(suite, trees, expected_only=quick)

    def progress(r: PlanRun) -> None:
        caught = sum(m.named for m in r.score.mistakes)
        console.print(
            f"  {r.mode:7} {r.plan.tree}/{r.plan.id}: {caught}/{len(r.plan.mistakes)} named, "
            f"{r.score.questions} questions, {r.latency_ms:.0f} ms"
            + (f"  ERROR {r.error}" if r.error else "")
        )

    def doc_progress(r: DocRun) -> None:
        s = r.score
        named = (
            f", {sum(f.named for f in s.expected)}/{len(s.expected)} named" if s.expected else ""
        )
        console.print(
            f"  {r.mode:7} {r.part} {r.tree}/{r.doc}: {len(s.against)} claims{named}, "
            f"{r.answer.latency_ms:.0f} ms"
            + (f"  ERROR {r.answer.error}" if r.answer.error else ""),
            markup=False,
            highlight=False,
        )

    results = asyncio.run(
        run_suite(
            suite,
            paths,
            modes,
            parts=parts,
            jobs=jobs,
            progress=progress,
            doc_progress=doc_progress,
            **overrides,
        )
    )
    try:
        written = report.write(out, suite, results)
    except OSError as exc:
        raise fail(f"--out {out}: {exc.strerror}") from exc
    out_console = Console() if sys.stdout.isatty() else Console(width=200)  # a log: no folding
    for t in report.tables(suite, results):
        out_console.print(t)
    for line in report.lines(suite, results):
        out_console.print(line, markup=False, highlight=False)
    for path in written:
        console.print(f"wrote {path}")
    if results.errors:
        console.print(f"{len(results.errors)} requests failed:", markup=False)
        for e in results.errors:
            console.print(f"  {e}", markup=False, highlight=False)
        if len(results.errors) == results.requests:
            console.print("every request failed: the product could not run at all")
            raise typer.Exit(1)


def _only_parts(suite: Any, parts: tuple[str, ...], doc_trees: set[str] | None) -> Any:
    """Only what the parts asked for need be fetched or installed: the trees of the plans and
    docs parts (those in `doc_trees` for docs, when given), the history's trees, the projects
    of the deps part."""
    from dataclasses import replace

    keep: set[str] = set()
    if "plans" in parts:
        keep |= {p.tree for p in suite.plans if p.tree in suite.trees}
    if "docs" in parts:
        keep |= {n for n, t in suite.trees.items() if t.docs} if doc_trees is None else doc_trees
    history = suite.history if "history" in parts else []
    keep |= {t for h in history for t in (h.old, h.new)}
    projects = suite.projects if "deps" in parts else {}
    return replace(
        suite,
        trees={n: t for n, t in suite.trees.items() if n in keep},
        projects=projects,
        plans=[p for p in suite.plans if p.tree in keep or p.tree in projects],
        history=history,
    )
