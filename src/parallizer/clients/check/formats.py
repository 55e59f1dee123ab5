"""The findings of `parallizer check` as text, JSON, SARIF 2.1.0 or GitHub workflow commands.

Positions: findings count 0-based lines and UTF-16 columns (the plan's own coordinates, as
in `metadata.findings`). Text and GitHub annotations are for people: 1-based lines and
1-based columns in characters. SARIF regions are 1-based with `columnKind`
`utf16CodeUnits` (SARIF's default unit). JSON keeps each finding as the HTTP API has it
and adds the 1-based `line` and `column` that the text shows.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from ... import __version__
from ...models import SEVERITY_RANK, Finding, code_points
from .review import PlanReport, blocking

FORMATS = ("text", "json", "sarif", "github")
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
JSON_VERSION = 1

RULES: dict[str, str] = {
    "wrong_name": "A name the code does not define, close to one it does",
    "wrong_owner": "A method or field named on a class that does not have it",
    "arity": "A call with a number of arguments no definition accepts",
    "missing_path": "A file path that does not exist in the scope",
    "missing": "A name nothing in the code defines",
    "ambiguous": "A name defined in several source files",
    "todo": "A decision the plan leaves for later (TBD, TODO)",
    "question": "A question the plan asks and does not answer",
    "either_or": "A choice between two options the plan does not make",
    "and_or": "An and/or the plan leaves to the implementer",
    "maybe": "Something the plan may or may not include",
    "etc": "A list the plan does not finish (etc.)",
    "vague": "An amount the plan does not give as a number",
}
_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}
_CITATION = re.compile(r"^(?P<path>[^\s:=][^:=]*?):(?P<line>\d+)$")


def human_position(text: str, line: int, utf16: int) -> tuple[int, int]:
    """1-based line and 1-based column in characters of a 0-based UTF-16 position."""
    lines = text.split("\n")
    raw = lines[line] if 0 <= line < len(lines) else ""
    return line + 1, code_points(raw, utf16) + 1


def _where(report: PlanReport) -> str:
    """The plan's path for tools that read paths from the repository's top (the scope)."""
    return report.relpath or report.path


def counts(reports: list[PlanReport], include_info: bool) -> Counter[str]:
    return Counter(f.severity for r in reports for f in r.shown(include_info))


def summary_line(reports: list[PlanReport], include_info: bool, fail_on: str) -> str:
    c = counts(reports, include_info)
    n = sum(c.values())
    parts = [
        f"{c[s]} {s if s == 'info' or c[s] == 1 else s + 's'}"
        for s in ("error", "warning", "info")
        if c[s]
    ]
    blocked = sum(len(blocking(r.shown(include_info), fail_on)) for r in reports)
    plans = f"{len(reports)} plan{'s' if len(reports) != 1 else ''}"
    if not n:
        return f"no findings in {plans}"
    verdict = f"; {blocked} at or above {fail_on}" if fail_on != "never" else ""
    return f"{n} finding{'s' if n != 1 else ''} ({', '.join(parts)}) in {plans}{verdict}"


# --- text --------------------------------------------------------------------------------


def text(reports: list[PlanReport], include_info: bool) -> str:
    out = []
    for r in reports:
        for f in r.shown(include_info):
            line, col = human_position(r.text, *f.range[0])
            out.append(f"{r.path}:{line}:{col}: {f.severity} {f.kind}: {f.message}")
    return "\n".join(out) + ("\n" if out else "")


# --- json --------------------------------------------------------------------------------


def as_json(
    reports: list[PlanReport], scope: Path, include_info: bool, fail_on: str, exit_code: int
) -> str:
    plans = []
    for r in reports:
        findings = []
        for f in r.shown(include_info):
            line, col = human_position(r.text, *f.range[0])
            findings.append({**f.model_dump(mode="json"), "line": line, "column": col})
        plans.append({"path": r.path, "findings": findings, "error": r.error})
    c = counts(reports, include_info)
    doc = {
        "version": JSON_VERSION,
        "tool": {"name": "parallizer", "version": __version__},
        "scope": str(scope),
        "fail_on": fail_on,
        "include_info": include_info,
        "plans": plans,
        "summary": {
            "plans": len(reports),
            "findings": sum(c.values()),
            "error": c["error"],
            "warning": c["warning"],
            "info": c["info"],
            "blocking": sum(len(blocking(r.shown(include_info), fail_on)) for r in reports),
        },
        "exit_code": exit_code,
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


# --- sarif -------------------------------------------------------------------------------


def _artifact(report: PlanReport) -> dict[str, Any]:
    if report.relpath is not None:
        return {"uri": report.relpath, "uriBaseId": "SRCROOT"}
    return {"uri": Path(report.path).absolute().as_uri()}


def _region(r: tuple[tuple[int, int], tuple[int, int]]) -> dict[str, int]:
    (l1, c1), (l2, c2) = r
    return {"startLine": l1 + 1, "startColumn": c1 + 1, "endLine": l2 + 1, "endColumn": c2 + 1}


def _related(f: Finding, plan: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in f.citations:
        m = _CITATION.match(c)
        if m is None or m.group("path") == plan or "://" in c:
            continue
        out.append(
            {
                "id": len(out),
                "message": {"text": f"cited: {c}"},
                "physicalLocation": {
                    "artifactLocation": {"uri": m.group("path"), "uriBaseId": "SRCROOT"},
                    "region": {"startLine": max(int(m.group("line")), 1)},
                },
            }
        )
    return out


def sarif(reports: list[PlanReport], scope: Path, include_info: bool) -> str:
    kinds = sorted({f.kind for r in reports for f in r.shown(include_info)})
    index = {k: i for i, k in enumerate(kinds)}
    worst: dict[str, str] = {}
    for r in reports:
        for f in r.shown(include_info):
            if SEVERITY_RANK[f.severity] > SEVERITY_RANK[worst.get(f.kind, "info")]:
                worst[f.kind] = f.severity
            worst.setdefault(f.kind, f.severity)
    rules = [
        {
            "id": k,
            "name": "".join(w.capitalize() for w in k.split("_")),
            "shortDescription": {"text": RULES.get(k, k.replace("_", " "))},
            "defaultConfiguration": {"level": _SARIF_LEVEL[worst.get(k, "warning")]},
        }
        for k in kinds
    ]
    results = []
    for r in reports:
        artifact = _artifact(r)
        for f in r.shown(include_info):
            result: dict[str, Any] = {
                "ruleId": f.kind,
                "ruleIndex": index[f.kind],
                "level": _SARIF_LEVEL[f.severity],
                "message": {"text": f.message},
                "locations": [
                    {"physicalLocation": {"artifactLocation": artifact, "region": _region(f.range)}}
                ],
                "partialFingerprints": {
                    "parallizerFinding/v1": hashlib.sha1(
                        f"{_where(r)}\x00{f.kind}\x00{f.name}".encode()
                    ).hexdigest()
                },
                "properties": {"name": f.name, "confidence": f.confidence},
            }
            if related := _related(f, r.relpath):
                result["relatedLocations"] = related
            if f.fix:
                result["fixes"] = [
                    {
                        "description": {"text": f"Write `{f.fix}` instead of `{f.name}`"},
                        "artifactChanges": [
                            {
                                "artifactLocation": artifact,
                                "replacements": [
                                    {
                                        "deletedRegion": _region(rng),
                                        "insertedContent": {"text": f.fix},
                                    }
                                    for rng in (f.ranges or [f.range])
                                ],
                            }
                        ],
                    }
                ]
            results.append(result)
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "parallizer", "version": __version__, "rules": rules}},
                "originalUriBaseIds": {"SRCROOT": {"uri": scope.as_uri().rstrip("/") + "/"}},
                "columnKind": "utf16CodeUnits",
                "results": results,
            }
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


# --- github ------------------------------------------------------------------------------


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def github(reports: list[PlanReport], include_info: bool) -> str:
    """One workflow command per finding: `::error file=…,line=…,col=…,endLine=…,
    endColumn=…,title=…::message` (warning, notice for the others)."""
    out = []
    for r in reports:
        where = _escape_property(_where(r))
        for f in r.shown(include_info):
            line, col = human_position(r.text, *f.range[0])
            end_line, end_col = human_position(r.text, *f.range[1])
            title = _escape_property(f"parallizer {f.kind}: {f.name}")
            out.append(
                f"::{_GITHUB_LEVEL[f.severity]} file={where},line={line},col={col},"
                f"endLine={end_line},endColumn={end_col},title={title}::{_escape_data(f.message)}"
            )
    return "\n".join(out) + ("\n" if out else "")
