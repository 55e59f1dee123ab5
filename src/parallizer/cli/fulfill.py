"""`parallizer fulfill FILE`: one request from the command line, printed for people or as JSON."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from ..config import Settings
from ..errors import BadInput
from ..models import FulfillRequest, FulfillResponse, GlobalContext, utf16_column
from .common import load_settings_or_fail, resolve_scope
from .root import app, fail


def read_document(path: Path, limit: int) -> str:
    """The plan's text, or a one-line reason why it cannot be used."""
    try:
        if not path.exists():
            raise fail(f"{path}: no such file")
        if not path.is_file():
            raise fail(f"{path}: not a regular file")
        size = path.stat().st_size
        if size > limit:
            raise fail(f"{path}: {size} bytes is over the document limit of {limit} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise fail(f"{path}: cannot read ({exc.strerror})") from exc
    if b"\x00" in data:
        raise fail(f"{path}: binary file, expected a text plan")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(f"{path}: not UTF-8 text, expected a text plan") from exc


def parse_cursor(raw: str | None, text: str) -> tuple[int, int]:
    """LINE:COL, 0-based like the HTTP API's cursor_position; default: end of the document."""
    lines = text.split("\n")
    if raw is None:
        return len(lines) - 1, len(lines[-1])
    parts = raw.split(":")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise fail(f"--cursor {raw!r}: expected LINE:COL, two 0-based numbers")
    line, col = int(parts[0]), int(parts[1])
    if line >= len(lines):
        raise fail(
            f"--cursor {raw}: line {line} is past the end of the document ({len(lines)} lines, 0-based)"
        )
    if col > len(lines[line]):
        raise fail(
            f"--cursor {raw}: column {col} is past the end of line {line} ({len(lines[line])} characters)"
        )
    return line, col


def build_request(
    settings: Settings, file: Path, scope: Path | None, cursor: str | None, only: str | None
) -> FulfillRequest:
    text = read_document(file, settings.max_document_bytes)
    roots = settings.allowed_root_paths
    scope_root = resolve_scope(settings, scope)
    plan_abs = file.absolute().resolve()  # read_document has checked it exists
    # the plan is only cited, never searched: it may live outside the allowed roots
    plan_path = str(plan_abs) if any(plan_abs.is_relative_to(r) for r in roots) else None
    names = [n.strip() for n in only.split(",") if n.strip()] if only is not None else None
    if names is not None and not names:
        raise fail("--only needs at least one fulfiller name")
    line, col = parse_cursor(cursor, text)
    try:
        return FulfillRequest(
            user_id="cli",
            document_text=text,
            # --cursor counts characters; the request counts UTF-16 units as editors do
            cursor_position=(line, utf16_column(text.split("\n")[line], col)),
            global_context=GlobalContext(scope_root=str(scope_root), plan_path=plan_path),
            fulfillers=names,
        )
    except ValidationError as exc:
        raise fail(exc.errors()[0]["msg"]) from exc


async def _run(settings: Settings, request: FulfillRequest, serial: bool) -> FulfillResponse:
    from .. import assembly
    from ..runtime import Runtime

    async with Runtime(settings) as runtime:
        orch = assembly.orchestrator(runtime)
        try:  # paths and the plan's parse touch the disk and the CPU: off the event loop
            job = await asyncio.to_thread(orch.prepare, request, serial=serial)
        except BadInput as exc:
            raise fail(str(exc)) from exc
        response = await orch.fulfill(job)
    # the CLI has no feed: its answer is this request's cards, all of them new
    response.cards = [c.marked(new=True) for c in response.cards]
    return response


@app.command()
def fulfill(
    file: Annotated[Path, typer.Argument(help="the plan (Markdown or text)")],
    scope: Annotated[
        Path | None, typer.Option("--scope", help="code tree to search (default: cwd)")
    ] = None,
    cursor: Annotated[
        str | None,
        typer.Option(
            "--cursor", help="LINE:COL, 0-based as in the HTTP API (default: end of file)"
        ),
    ] = None,
    only: Annotated[
        str | None, typer.Option("--only", help="comma-separated fulfiller names")
    ] = None,
    serial: Annotated[bool, typer.Option("--serial", help="run queries one after another")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the POST /fulfill response body")
    ] = False,
) -> None:
    """Fulfill FILE once: print cards by type, then per-fulfiller and per-query timings."""
    settings = load_settings_or_fail()
    request = build_request(settings, file, scope, cursor, only)
    response = asyncio.run(_run(settings, request, serial))
    if as_json:
        sys.stdout.write(json.dumps(response.to_wire(), ensure_ascii=False) + "\n")
        return
    from .render import render_response

    render_response(response, serial=serial)
