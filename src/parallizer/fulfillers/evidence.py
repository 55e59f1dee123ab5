"""What a planned code search found, read the same way by every fulfiller that uses it."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import codefacts
from ..backends.base import CodeMatch, CodeSearchResult
from ..context import FulfillerContext
from ..document import Document
from ..fanout import Outcome
from ..planner import OpenSpot, Plan, PlannedQuery, plan_for


def planned(ctx: FulfillerContext) -> Plan:
    """The request's plan: the same object (and queries) for every fulfiller that asks."""
    return plan_for(ctx.document, ctx.settings.max_queries, exclude=ctx.job.plan_relpath)


def _source_first(matches: list[CodeMatch]) -> list[CodeMatch]:
    """Stable: source code first, then configuration files, then tests/fixtures/examples."""
    return sorted(
        matches, key=lambda m: (codefacts.is_test_path(m.path), codefacts.is_config_path(m.path))
    )


@dataclass
class Found:
    """One planned query's outcome: failed (never read as "nothing matches"), or its matches
    split into definitions of the term's name and mere mentions, source before tests."""

    planned: PlannedQuery
    ok: bool
    error: str | None = None
    matches: list[CodeMatch] = field(default_factory=list)
    truncated: bool = False
    definitions: list[CodeMatch] = field(default_factory=list)
    mentions: list[CodeMatch] = field(default_factory=list)

    @classmethod
    def read(cls, pq: PlannedQuery, outcome: Outcome[CodeSearchResult]) -> Found:
        if not outcome.ok or outcome.value is None:
            return cls(planned=pq, ok=False, error=outcome.error or "failed")
        matches = outcome.value.matches
        definable = pq.term.kind in ("identifier", "call")  # a dotted match is a use
        defs = [m for m in matches if definable and codefacts.defines(m.path, m.text, pq.term.name)]
        return cls(
            planned=pq,
            ok=True,
            matches=matches,
            truncated=outcome.value.truncated,
            definitions=_source_first(defs),
            mentions=_source_first([m for m in matches if m not in defs]),
        )

    @property
    def empty(self) -> bool:
        """Searched successfully and nothing (outside the plan itself) matched."""
        return self.ok and not self.matches

    def best(self) -> CodeMatch | None:
        """Where to point a reader: a definition, else the first mention (source first)."""
        return (self.definitions or self.mentions or [None])[0]

    def main_definitions(self) -> list[CodeMatch]:
        """Definitions outside tests if there are any, else all of them."""
        source = [m for m in self.definitions if not codefacts.is_test_path(m.path)]
        return source or self.definitions


def snippet(match: CodeMatch, *, before: int = 1, after: int = 2) -> str:
    """A few lines around a match as a fenced Markdown block (dedented)."""
    lines = [c.text for c in match.before[-before:]] if before else []
    lines += [match.text] + [c.text for c in match.after[:after]]
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    body = textwrap.dedent("\n".join(lines)).replace("```", "ʼʼʼ")
    return f"```{codefacts.fence_language(match.path)}\n{body}\n```"


def one_line(text: str, limit: int = 90) -> str:
    """A matched line for inline quoting: trimmed, clipped, no backticks."""
    text = " ".join(text.split()).replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- the plan's facts for name resolution ---------------------------------------------------

_INTRO_BEFORE = re.compile(
    r"(?i)\b(?:new|add|adds|adding|introduce[sd]?|introducing|create[sd]?|creating|define[sd]?)"
    r"\s+(?:(?:a|an|the|one|two)\s+)?(?:new\s+)?(?:[\w-]+\s+){0,2}$"
)
_INTRO_AFTER = re.compile(r"(?i)^\W{0,3}\s*(?:\(new\)|\(added\)|is new\b|will be new\b)")
_BLOCK_DEF = re.compile(
    r"^\s*(?:export\s+|pub(?:\([^)]*\))?\s+|public\s+|async\s+|abstract\s+|final\s+|static\s+)*"
    r"(?:def|class|fn|func|struct|enum|trait|interface|type|function|const|let|var|impl)\s+"
    r"(?:\([^)]*\)\s*)?(?P<name>[A-Za-z_]\w*)"
)
_INTRO_WORD = re.compile(
    r"(?i)\b(?:new|add|adds|adding|introduce[sd]?|introducing|create[sd]?|creating)\b"
)
_EXISTING = re.compile(r"(?i)\b(?:existing|current|today's|already)\b(?:\W+\w+){0,3}\W*$")
_SPAN_HEAD = re.compile(r"[\w$@./:-]+")
_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+|^\s*#")
_SENTENCE = re.compile(r"(?<=[.!?;])\s+(?=[A-Z`\d])")


@dataclass(frozen=True)
class PlanFacts:
    uses: tuple[Any, ...]
    """Every name and path the plan uses (`resolve.NameUse`)."""
    introduced: frozenset[str]
    open_spots: tuple[OpenSpot, ...]
    proposed: frozenset[str] = frozenset()
    """Names in sentences that add or create something (weaker than `introduced`)."""


def count_args(line: str, start: int) -> int | None:
    """Arguments written in the call whose `(` is at `start`: `f(a, g(b, c))` → 2; `f()` → 0;
    None when the parenthesis does not close on the line."""
    depth, n, empty = 0, 1, True
    for ch in line[start:]:
        if ch in "([{":
            depth += 1
            if depth == 1:
                continue
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return 0 if empty else n
        elif ch == "," and depth == 1:
            n += 1
        if depth >= 1 and not ch.isspace():
            empty = False
    return None


def _span_name(span: str) -> str:
    """The name a code span stands for: `errPrefix string` → errPrefix, `f(a)` → f."""
    m = _SPAN_HEAD.match(span.strip())
    return m.group(0).rstrip(".:") if m else span.strip()


def _introduced(doc: Document) -> tuple[frozenset[str], frozenset[str]]:
    """(introduced, proposed): names the plan says it adds ("a new `X`", "`X` (new)", defined
    in its own code blocks), and every code name in a sentence that adds or creates
    something (not those it calls "existing")."""
    strict: set[str] = set()
    proposed: set[str] = set()
    for i in doc.fenced:
        if m := _BLOCK_DEF.match(doc.lines[i]):
            strict.add(m.group("name"))
    blocks: list[list[str]] = [[]]
    for i, line in enumerate(doc.lines):
        if i in doc.fenced or not line.strip() or _ITEM.match(line):
            blocks.append([])
        if i not in doc.fenced and line.strip():
            blocks[-1].append(line.strip())
    for block in blocks:
        text = " ".join(block)
        if "`" not in text:
            continue
        for sentence in _SENTENCE.split(text):
            adds = _INTRO_WORD.search(sentence) is not None
            for m in re.finditer(r"`([^`]+)`", sentence):
                name = _span_name(m.group(1))
                parts = {name, *(p for p in re.split(r"::|\.", name) if p)}
                before = sentence[: m.start()]
                if _INTRO_BEFORE.search(before) or _INTRO_AFTER.match(sentence[m.end() :]):
                    strict.add(name)
                    strict.update(parts if "/" not in name else ())
                elif adds and not _EXISTING.search(before[-40:]):
                    proposed.update(parts if "/" not in name else (name,))
    return frozenset(strict), frozenset(proposed)


def plan_facts(ctx: FulfillerContext) -> PlanFacts:
    """The names and paths of the plan with their lines, arguments written and owners; the
    names it introduces; its open spots (cached per document through the planner)."""
    from ..planner.offline import mentions
    from ..resolve import NameUse

    doc = ctx.document
    uses = []
    for m in mentions(doc):
        if m.kind not in ("identifier", "call", "dotted", "path"):
            continue
        if m.kind == "path":
            uses.append(NameUse.of(m.text, m.line, kind="path", coded=m.coded))
            continue
        line = doc.lines[m.line]
        args = None
        if m.kind in ("call", "dotted"):
            at = line.find(m.text + "(")
            if at >= 0:
                args = count_args(line, at + len(m.text))
        kind = "call" if (m.kind == "call" or args is not None) and "." not in m.text else m.kind
        uses.append(NameUse.of(m.text, m.line, kind=kind, args=args, coded=m.coded))
    introduced, proposed = _introduced(doc)
    return PlanFacts(tuple(uses), introduced, planned(ctx).open_spots, proposed)


# --- reading lines of the tree, off the event loop ------------------------------------------


def read_lines(
    root: Path, wanted: set[tuple[str, int]], span: int = 0
) -> dict[tuple[str, int], str]:
    """For each (relative path, 1-based line): that line and `span` lines after it, joined
    (missing files and lines give nothing). Blocking: run it in a thread. Paths resolving
    outside `root` (symlinks) are not read."""
    out: dict[tuple[str, int], str] = {}
    by_path: dict[str, list[int]] = {}
    for path, line in wanted:
        by_path.setdefault(path, []).append(line)
    top = root.resolve()
    for path, lines in by_path.items():
        text = _file_lines(top, path)
        if text is None:
            continue
        for ln in lines:
            if 1 <= ln <= len(text):
                out[(path, ln)] = "\n".join(text[ln - 1 : ln + span])
    return out


MAX_READ = 4 * 1024 * 1024


def _file_lines(top: Path, rel: str) -> list[str] | None:
    try:
        p = (top / rel).resolve()
        if not p.is_relative_to(top) or not p.is_file() or p.stat().st_size > MAX_READ:
            return None
        return p.read_text(encoding="utf-8", errors="replace").split("\n")
    except (OSError, ValueError):
        return None


class CitationChecker:
    """Checks `path:line` citations (an LLM's) against the code index and the files: the file
    is in the index, the line within it, and the name the question is about on or near that
    line. A wrong one is corrected to the name's definition when the index has one, else
    dropped. Blocking (reads files): run it in a thread."""

    NEAR = 3  # lines either side of a cited line where the name may stand

    def __init__(self, root: Path | None, index: Any) -> None:
        self.root = root
        self.index = index
        self._cache: dict[str, list[str] | None] = {}

    def lines(self, path: str) -> list[str] | None:
        if path not in self._cache:
            self._cache[path] = (
                _file_lines(self.root.resolve(), path)
                if self.root is not None and self.index.has_file(path)
                else None
            )
        return self._cache[path]

    def valid(self, citation: str, names: Sequence[str] = ()) -> bool:
        path, _, num = citation.rpartition(":")
        text = self.lines(path)
        if text is None or not num.isdigit() or not 1 <= int(num) <= len(text):
            return False
        ln = int(num)
        if not text[ln - 1].strip():
            return False
        if not names:
            return True
        near = "\n".join(text[max(0, ln - 1 - self.NEAR) : ln + self.NEAR])
        return any(re.search(rf"\b{re.escape(n)}\b", near) for n in names)

    def correct(self, citation: str, names: Sequence[str]) -> str | None:
        """The citation if valid, else the definition of one of `names`, else None."""
        if self.valid(citation, names):
            return citation
        for n in names:
            defs = self.index.lookup(n)
            src = [d for d in defs if str(d.role) == "source"] or defs
            if src:
                return src[0].citation
        return None
