"""`parallizer index SCOPE`: build the code index of a scope and say what it holds."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..config import Settings
from ..errors import BackendError
from .common import load_settings_or_fail, resolve_scope
from .root import app, fail


async def _build(settings: Settings, root: Path) -> dict[str, Any]:
    from ..runtime import Runtime

    async with Runtime(settings, web=None, llm=None) as runtime:
        try:
            index = await runtime.code.snapshot(root)
        except BackendError as exc:
            raise fail(f"cannot index {root}: {exc.message}") from exc
        return index.stats() | {"dependencies": await runtime.deps.describe(root, index)}


def _human(stats: dict[str, Any]) -> str:
    skipped = ", ".join(f"{k} {v}" for k, v in stats["skipped"].items())
    lines = [
        f"scope        {stats['root']}",
        f"files        {stats['files']} listed, {stats['parsed_files']} parsed"
        + (
            f" ({stats['parse_errors']} with syntax errors, partly read)"
            if stats["parse_errors"]
            else ""
        )
        + (f"; not parsed: {skipped}" if skipped else ""),
        f"definitions  {stats['definitions']} ({stats['names']} distinct names)",
    ]
    roles: dict[str, list[str]] = {}
    for key, n in stats["roles"].items():
        language, role = key.split("/", 1)
        roles.setdefault(language, []).append(f"{role} {n}")
    for language, n in sorted(stats["languages"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  {language:<11}{n:>9}   {', '.join(roles.get(language, []))}")
    lines.append(
        f"build        {stats['build_ms'] / 1000:.2f} s (listing {stats['list_ms'] / 1000:.2f} s)"
    )
    if stats.get("index_file"):
        how = (
            f"loaded ({stats['loaded']} files, {stats['reparsed']} parsed again)"
            if stats.get("loaded")
            else "built"
        )
        lines.append(f"persisted    {stats['index_file']}: {how}")
    else:
        lines.append("persisted    no (PARALLIZER_INDEX_DIR is empty: memory only)")
    for sample in stats["error_samples"][:5]:
        lines.append(f"  error: {sample}")
    if stats["partial"]:
        lines.append("PARTIAL      " + "; ".join(stats["partial_reasons"]))
    lines += _dependencies(stats.get("dependencies") or {})
    return "\n".join(lines) + "\n"


def _dependencies(deps: dict[str, Any]) -> list[str]:
    """The environment of each ecosystem, its packages (declared or not), and which are
    indexed."""
    envs = deps.get("environments") or []
    if not envs:
        return ["dependencies none found (no manifest, lock file or environment)"]
    lines = []
    for e in envs:
        head = f"dependencies {e['ecosystem']}"
        if e["note"]:
            lines.append(f"{head}: {e['note']}")
        else:
            declared = sum(1 for p in e["packages"] if p["declared"])
            lines.append(
                f"{head} in {e['where'] or e['location']}: {len(e['packages'])} installed, "
                f"{declared} of them declared in {e['manifest'] or 'no manifest'}"
            )
        listed = [f"{p['name']} {p['version']}" + ("" if p["declared"] else " (not declared)")
                  for p in e["packages"]]  # fmt: skip
        for k in range(0, len(listed), 4):
            lines.append("  " + ", ".join(listed[k : k + 4]))
        if e["declared_not_installed"]:
            lines.append("  declared, not installed: " + ", ".join(e["declared_not_installed"]))
    indexed = deps.get("indexed") or []
    done = [
        f"{i['name']} {i['version']} ({i['definitions']} definitions, {i['build_ms'] / 1000:.2f} s)"
        for i in indexed
    ]
    lines.append(
        "indexed      "
        + (", ".join(done) or "no package (the project's code imports none that is installed)")
    )
    return lines


@app.command()
def index(
    scope: Annotated[Path, typer.Argument(help="the code tree to index")],
    as_json: Annotated[
        bool, typer.Option("--json", help="print the index's stats as JSON")
    ] = False,
) -> None:
    """Index SCOPE (definitions by tree-sitter) and print what it holds: files, definitions
    per language and role, parse errors, build time; then its dependencies: the environment
    of each ecosystem (interpreter, node_modules, vendor/, ...), the packages installed with
    their versions, declared or not, and the ones indexed (those the project's code imports)."""
    settings = load_settings_or_fail()
    root = resolve_scope(settings, scope, what="SCOPE")
    stats = asyncio.run(_build(settings, root))
    if as_json:
        sys.stdout.write(json.dumps(stats) + "\n")
    else:
        sys.stdout.write(_human(stats))
