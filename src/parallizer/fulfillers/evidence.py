"""What a planned code search found, read the same way by every fulfiller that uses it."""

from __future__ import annotations

import os
import re
import textwrap
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import codefacts
from ..backends.base import CodeMatch, CodeSearchResult
from ..context import FulfillerContext
from ..document import CodeBlock, read
from ..document.mentions import arity, locate
from ..fanout import Outcome
from ..planner import OpenSpot, Plan, PlannedQuery, plan_for
from ..text import clip, single_line


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
        is_def = {id(m) for m in defs}  # by identity: comparing models field by field is slow
        return cls(
            planned=pq,
            ok=True,
            matches=matches,
            truncated=outcome.value.truncated,
            definitions=_source_first(defs),
            mentions=_source_first([m for m in matches if id(m) not in is_def]),
        )

    @property
    def empty(self) -> bool:
        """Searched successfully and nothing (outside the plan itself) matched."""
        return self.ok and not self.matches

    def best(self) -> CodeMatch | None:
        """Where to point a reader: a definition, else the first mention (source first)."""
        found = self.definitions or self.mentions
        return found[0] if found else None

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
    return clip(single_line(text).replace("`", "'"), limit)


# --- the plan's facts for name resolution ---------------------------------------------------

_QUALIFIER = re.compile(r"::|\.")
_LEADING_WORD = re.compile(r"^(?:(?:new|await|return|yield|throw|raise|go|defer)\s+)+")
_TURBOFISH = re.compile(r"::<[^()]*?>")
_CODE_CALL = re.compile(
    r"(?P<name>[A-Za-z_]\w*(?:(?:::|\.)[A-Za-z_]\w*)*)\s*(?:\((?P<args>.*)\))?;?"
)
_BLOCK_CALL = re.compile(r"(?<![\w.:])([A-Z]\w*)(?:::|\.)([a-z_]\w*)\s*(?:::<[^()]*?>)?\(")


@dataclass(frozen=True)
class NameFacts:
    uses: tuple[Any, ...]
    """Every name and path the plan uses (`resolve.NameUse`)."""
    introduced: frozenset[str]
    open_spots: tuple[OpenSpot, ...]
    proposed: frozenset[str] = frozenset()
    """Names in sentences that add or create something (the reader's `proposed`: weaker
    than `introduced`)."""


def code_use(text: str, line: int, coded: bool = True) -> Any | None:
    """A name in a code span the reader does not take for one: `HiArgs::new`,
    `Chain::downcast_ref::<E>()`, `backtrace_if_absent!`, `new WebSocketServer({...})`."""
    from ..resolve import NameUse

    text = _LEADING_WORD.sub("", text.strip())
    macro = text.endswith("!") or "!(" in text
    text = _TURBOFISH.sub("", text).replace("!(", "(").removesuffix("!")
    m = _CODE_CALL.fullmatch(text)
    if m is None:
        return None
    args = arity(m.group("args")) if m.group("args") is not None else None
    if args is None and not macro and not _QUALIFIER.search(m.group("name")):
        return None  # a lone word in backticks: the reader's call (a common word, a keyword)
    return NameUse.of(m.group("name"), line, args=args, coded=coded)


def block_uses(block: CodeBlock) -> list[Any]:
    """Calls of a type's function in the plan's own code (`Error::msg("x", e)`,
    `Client.send(a)`): the plan relies on them, with these argument counts."""
    from ..resolve import NameUse

    out = []
    for k, text in enumerate(block.text.split("\n")):
        for m in _BLOCK_CALL.finditer(text):
            inner = _balanced(text, m.end() - 1)
            args = arity(inner) if inner is not None else None
            name = f"{m.group(1)}.{m.group(2)}"
            out.append(NameUse(name, "dotted", block.line + k, True, args, m.group(1), m.group(2)))
    return out


def _balanced(text: str, at: int) -> str | None:
    """The text inside the parenthesis opening at `at`, or None if it does not close."""
    depth = 0
    for i in range(at, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return text[at + 1 : i]
    return None


def plan_facts(ctx: FulfillerContext) -> NameFacts:
    """The names and paths the plan uses (the document reader's mentions: lines, arguments
    written, owners; names in code spans it leaves as code; type calls in the plan's own
    code blocks), the names it introduces, those it proposes, its open spots."""
    doc = ctx.document
    facts = read(doc)
    uses: list[Any] = []
    for m in facts.mentions:
        if m.kind in ("identifier", "call", "dotted", "path"):
            uses.append(m)
        elif m.kind == "code" and (use := code_use(m.text, m.line, m.coded)) is not None:
            uses.append(_placed(use, doc.lines[m.line], m.col))
    for block in facts.code_blocks:
        uses += [
            _placed(u, doc.lines[u.line]) for u in block_uses(block) if u.line < len(doc.lines)
        ]
    return NameFacts(tuple(uses), facts.introduced, planned(ctx).open_spots, facts.proposed)


def _placed(use: Any, raw: str, start: int = 0) -> Any:
    """The use with where it stands on its raw plan line (from `start`, a code span's)."""
    where = locate(raw, use.text, max(start, 0))
    return replace(use, col=where[0], end=where[1]) if where else use


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
MAX_BODY = 3000  # lines of a class body read


def read_bodies(root: Path, wanted: set[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """For each (relative path, 1-based line of a class/type definition): its body, by
    indentation (up to the next non-blank line indented no deeper than the definition,
    a closing brace included). Blocking: run it in a thread."""
    out: dict[tuple[str, int], str] = {}
    top = root.resolve()
    for path, line in wanted:
        text = _file_lines(top, path)
        if text is None or not 1 <= line <= len(text):
            continue
        head = text[line - 1]
        indent = len(head) - len(head.lstrip())
        end = line
        while end < len(text) and end - line < MAX_BODY:
            nxt = text[end]
            if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                end += nxt.lstrip().startswith(("}", ")", "end"))
                break
            end += 1
        out[(path, line)] = "\n".join(text[line - 1 : end])
    return out


_LINES_CACHE = 256  # files whose lines are kept (by path, checked against their stat)
_lines_cache: OrderedDict[tuple[str, str], tuple[tuple[int, int, int], list[str]]] = OrderedDict()
_lines_lock = threading.Lock()


def _file_lines(top: Path, rel: str) -> list[str] | None:
    """The lines of `rel` under `top` (None if missing, too big, or resolving outside `top`).
    Kept for files read recently, while their inode, size and mtime stay the same: every
    request's cards cite the same few files. Do not change the list returned."""
    key = (str(top), rel)
    try:
        st = os.stat(top / rel)
        sig = (st.st_ino, st.st_size, st.st_mtime_ns)
        with _lines_lock:
            hit = _lines_cache.get(key)
            if hit is not None and hit[0] == sig:
                _lines_cache.move_to_end(key)
                return hit[1]
        p = (top / rel).resolve()
        if not p.is_relative_to(top) or not p.is_file() or st.st_size > MAX_READ:
            return None
        lines = p.read_text(encoding="utf-8", errors="replace").split("\n")
    except (OSError, ValueError):
        return None
    with _lines_lock:
        _lines_cache[key] = (sig, lines)
        while len(_lines_cache) > _LINES_CACHE:
            _lines_cache.popitem(last=False)
    return lines


class CitationChecker:
    """Checks `path:line` citations (an LLM's) against the code index and the files: the file
    is in the index, the line within it, and the name the question is about on or near that
    line. A wrong one is corrected to the name's definition when the index has one, else
    dropped. Blocking (reads files): run it in a thread."""

    NEAR = 3  # lines either side of a cited line where the name may stand

    def __init__(self, root: Path | None, index: Any) -> None:
        self.root = root
        self._top: Path | None = None  # the root resolved, once (in the checking thread)
        self.index = index
        self._cache: dict[str, list[str] | None] = {}

    def _resolved_root(self) -> Path:
        assert self.root is not None
        if self._top is None:
            self._top = self.root.resolve()
        return self._top

    def lines(self, path: str) -> list[str] | None:
        if path not in self._cache:
            self._cache[path] = (
                _file_lines(self._resolved_root(), path)
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
        # the substring test first: most names are not near, and a regex per name would
        # also churn the re module's compile cache
        return any(n in near and re.search(rf"\b{re.escape(n)}\b", near) for n in names)

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
