"""`parallizer check PLAN...`: the plan gate for CI, pre-commit and coding agents.

Exit 0 when nothing blocks, 1 when a finding at or above `--fail-on` remains, 2 on bad usage
or bad input (one line on stderr)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..config import Settings, project_root
from ..errors import BadInput
from .common import load_settings_or_fail, resolve_scope
from .fulfill import read_document
from .root import app, fail

FAIL_ON = ("error", "warning", "never")
HOOKS = ("claude",)


async def _review(
    settings: Settings, scope: Path, plans: list[tuple[str, str, Path | None]]
) -> list:
    from .. import assembly
    from ..clients.check import review_plans
    from ..runtime import Runtime

    async with Runtime(settings, web=None, llm=None) as runtime:
        try:
            return await review_plans(assembly.orchestrator(runtime), scope, plans)
        except BadInput as exc:
            raise fail(str(exc)) from exc


def _inside(settings: Settings, path: Path) -> Path | None:
    resolved = path.absolute().resolve()
    roots = settings.allowed_root_paths
    return resolved if any(resolved.is_relative_to(r) for r in roots) else None


def _hook(settings: Settings, kind: str, scope: Path | None, fail_on: str) -> int:
    from ..clients.check import blocking, hook

    raw = sys.stdin.read()
    try:
        call = hook.parse(raw)
    except ValueError as exc:
        raise fail(f"--hook {kind}: stdin is not the hook's JSON ({exc})") from exc
    if call is None:
        return 0  # not a plan approval: not ours to judge
    base = scope if scope is not None else Path(call.cwd) if call.cwd else None
    scope_dir = resolve_scope(settings, project_root(base) if base is not None else None)
    if len(call.plan.encode("utf-8", "surrogatepass")) > settings.max_document_bytes:
        raise fail(f"the plan is over the document limit of {settings.max_document_bytes} bytes")
    [report] = asyncio.run(_review(settings, scope_dir, [("plan", call.plan, None)]))
    if report.error:
        raise fail(f"the plan could not be checked: {report.error}")
    shown = report.shown(include_info=False)
    stop = blocking(shown, fail_on)
    out = hook.answer(report.text, stop, [f for f in shown if f not in stop])
    if out is not None:
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    return 0


@app.command()
def check(
    plan: Annotated[
        list[Path] | None,
        typer.Argument(help="the plans to check (Markdown)", show_default=False, metavar="PLAN..."),
    ] = None,
    scope: Annotated[
        Path | None,
        typer.Option(
            "--scope",
            help="code tree the plans are about (default: the git top level of the first plan, else its directory)",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json, sarif or github")] = "text",
    fail_on: Annotated[
        str,
        typer.Option("--fail-on", help="exit 1 on a finding at or above: error, warning, never"),
    ] = "error",
    show_all: Annotated[
        bool, typer.Option("--all", help="show info findings too (open decisions, unsure claims)")
    ] = False,
    hook_kind: Annotated[
        str | None,
        typer.Option(
            "--hook", help="answer a coding agent's plan-approval hook read from stdin: claude"
        ),
    ] = None,
) -> None:
    """Check plans against the code: exit 0 when nothing blocks, 1 when a finding at or above
    --fail-on remains, 2 on bad usage or input."""
    from ..clients.check import blocking, formats

    if fmt not in formats.FORMATS:
        raise fail(f"--format {fmt!r}: expected one of {', '.join(formats.FORMATS)}")
    if fail_on not in FAIL_ON:
        raise fail(f"--fail-on {fail_on!r}: expected one of {', '.join(FAIL_ON)}")
    # the findings are the output: the request's story only when asked for
    quiet = "PARALLIZER_LOG_LEVEL" not in os.environ
    settings = load_settings_or_fail(**({"log_level": "WARNING"} if quiet else {}))
    if hook_kind is not None:
        if hook_kind not in HOOKS:
            raise fail(f"--hook {hook_kind!r}: expected one of {', '.join(HOOKS)}")
        if plan:
            raise fail("--hook reads the plan from the hook's input on stdin: give no PLAN")
        raise typer.Exit(_hook(settings, hook_kind, scope, fail_on))
    if not plan:
        raise fail("give at least one PLAN to check")
    texts = [
        (str(p), read_document(p, settings.max_document_bytes), _inside(settings, p)) for p in plan
    ]
    scope_dir = resolve_scope(settings, scope if scope is not None else project_root(plan[0]))
    reports = asyncio.run(_review(settings, scope_dir, texts))
    failed = [r for r in reports if r.error]
    if failed:
        raise fail(f"{failed[0].path}: could not be checked: {failed[0].error}")
    stop = sum(len(blocking(r.shown(show_all), fail_on)) for r in reports)
    code = 1 if stop else 0
    if fmt == "text":
        sys.stdout.write(formats.text(reports, show_all))
        print(formats.summary_line(reports, show_all, fail_on), file=sys.stderr)
    elif fmt == "json":
        sys.stdout.write(formats.as_json(reports, scope_dir, show_all, fail_on, code))
    elif fmt == "sarif":
        sys.stdout.write(formats.sarif(reports, scope_dir, show_all))
    else:
        sys.stdout.write(formats.github(reports, show_all))
    sys.stdout.flush()
    raise typer.Exit(code)
