"""Findings and plan positions as the Language Server Protocol writes them.

A finding's ranges are already the plan's own coordinates in UTF-16 code units (what LSP
counts by default; the server never negotiates another encoding), so they map one to one.
"""

from __future__ import annotations

import re
from pathlib import Path

from lsprotocol import types

from ...models import Finding, code_points, utf16_column

SOURCE = "parallizer"

_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
}
_CITATION = re.compile(r"^(?P<path>[^\s:=][^:=]*?):(?P<line>\d+)$")

# kinds whose name can be declared new in the plan: "`X` (new)" makes the reader take X as
# introduced, which clears these (a new file, a new name, a new method on a class)
NEW_KINDS = frozenset({"wrong_name", "missing", "missing_path", "wrong_owner"})


def lsp_range(r: tuple[tuple[int, int], tuple[int, int]]) -> types.Range:
    (l1, c1), (l2, c2) = r
    return types.Range(types.Position(l1, c1), types.Position(l2, c2))


def overlaps(a: types.Range, b: types.Range) -> bool:
    """Do two ranges touch (a cursor on either end of a range counts)?"""
    a0, a1 = (a.start.line, a.start.character), (a.end.line, a.end.character)
    b0, b1 = (b.start.line, b.start.character), (b.end.line, b.end.character)
    return a0 <= b1 and b0 <= a1


def citation_location(scope: Path | None, citation: str, plan: str | None) -> types.Location | None:
    """`path:line` of the code as a Location; the plan's own lines, URLs and citations inside
    a dependency (`pkg==1.2:path:line`) have none."""
    if scope is None or "://" in citation:
        return None
    m = _CITATION.match(citation)
    if m is None or m.group("path") == plan:
        return None
    line = max(int(m.group("line")) - 1, 0)
    target = (scope / m.group("path")).as_uri()
    return types.Location(target, types.Range(types.Position(line, 0), types.Position(line, 0)))


def diagnostics(
    findings: list[Finding], scope: Path | None, plan: str | None
) -> list[tuple[types.Diagnostic, Finding]]:
    """One diagnostic at every place the plan writes a finding's name (its `ranges`), so each
    use is marked where the writer reads it; the code it cites as related information."""
    out = []
    for f in findings:
        related = [
            types.DiagnosticRelatedInformation(loc, f"cited: {c}")
            for c in f.citations
            if (loc := citation_location(scope, c, plan)) is not None
        ]
        for r in f.ranges or [f.range]:
            d = types.Diagnostic(
                range=lsp_range(r),
                message=f.message,
                severity=_SEVERITY[f.severity],
                source=SOURCE,
                code=f.kind,
                related_information=related or None,
                data={"name": f.name, "kind": f.kind, "fix": f.fix},
            )
            out.append((d, f))
    return out


def too_large(size: int, limit: int) -> types.Diagnostic:
    return types.Diagnostic(
        range=types.Range(types.Position(0, 0), types.Position(0, 0)),
        message=(
            f"This plan is {size} bytes, over the limit of {limit} bytes "
            "(PARALLIZER_MAX_DOCUMENT_BYTES): it is not reviewed."
        ),
        severity=types.DiagnosticSeverity.Warning,
        source=SOURCE,
        code="too_large",
    )


def not_reviewed(reason: str) -> types.Diagnostic:
    return types.Diagnostic(
        range=types.Range(types.Position(0, 0), types.Position(0, 0)),
        message=f"This plan is not reviewed: {reason}",
        severity=types.DiagnosticSeverity.Warning,
        source=SOURCE,
        code="not_reviewed",
    )


def mark_new_edit(line_text: str, rng: types.Range, name: str) -> types.TextEdit:
    """The edit that says in the plan that `name` is new: ` (new)` after its closing
    backtick (`` `X` `` → `` `X` (new) ``), or the bare word put in backticks first."""
    line = rng.start.line
    start = code_points(line_text, rng.start.character)
    end = code_points(line_text, rng.end.character)
    opened = line_text.rfind("`", 0, start + 1)
    close = line_text.find("`", end)
    coded = opened >= 0 and close >= 0 and "`" not in line_text[opened + 1 : start]
    if coded:
        at = utf16_column(line_text, close + 1)
        pos = types.Position(line, at)
        return types.TextEdit(types.Range(pos, pos), " (new)")
    return types.TextEdit(rng, f"`{name}` (new)")


def quick_fixes(
    uri: str, line_text: str, diagnostic: types.Diagnostic, finding: Finding
) -> list[types.CodeAction]:
    """Replace the wrong name or path with the finding's fix; or say in the plan it is new."""
    actions = []
    if finding.fix:
        actions.append(
            types.CodeAction(
                title=f"Replace `{finding.name}` with `{finding.fix}`",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[diagnostic],
                is_preferred=True,
                edit=types.WorkspaceEdit(
                    changes={uri: [types.TextEdit(diagnostic.range, finding.fix)]}
                ),
            )
        )
    if finding.kind in NEW_KINDS:
        edit = mark_new_edit(line_text, diagnostic.range, finding.name)
        actions.append(
            types.CodeAction(
                title=f"Mark `{finding.name}` as new in the plan",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[diagnostic],
                edit=types.WorkspaceEdit(changes={uri: [edit]}),
            )
        )
    return actions
