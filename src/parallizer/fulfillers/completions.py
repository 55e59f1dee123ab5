"""Completions: ghost text at the cursor.

With an LLM: a short continuation of the line being written. Offline (or when the LLM call
fails): complete the identifier being typed (at least 3 characters) from names that exist in
the repository — one case-sensitive ripgrep regex, the escaped prefix followed by identifier
characters — ranked by how often each name occurs, whether the plan already mentions it, and
how little it adds to the prefix. No candidate, no card: it never guesses.

The card's text is exactly what to insert after the cursor; `metadata.word` is the whole word.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

from ..backends.base import Availability, CodeBackend, CodeQuery, CodeSearchResult
from ..document import Document
from ..llm import LLM
from ..models import Card, CardType
from ..planner import llm as llm_planner
from ..planner.offline import exclude_globs
from ..text import IDENTIFIER_RE
from .base import FulfillerContext, code_call, with_ripgrep

MIN_PREFIX = 3
MAX_ALTERNATIVES = 3
COMPLETION_KEY = "ghost text"  # one completion at a time: a newer one replaces it in the feed
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_]")


def prefix_query(prefix: str, exclude: str | None = None) -> CodeQuery:
    """Names starting with `prefix`; `exclude` (a path relative to the root, e.g. the plan
    itself) is left out, so the plan does not complete from itself."""
    return CodeQuery(
        pattern=rf"\b{re.escape(prefix)}[A-Za-z0-9_]+",
        mode="regex",
        ignore_case=False,
        context=0,
        max_results=300,
        max_per_file=30,
        globs=exclude_globs(exclude),
    )


@dataclass(frozen=True, slots=True)
class Candidate:
    word: str
    count: int
    files: int
    first: str  # path:line of its first occurrence
    in_plan: bool

    def score(self, prefix: str) -> float:
        extra = len(self.word) - len(prefix)
        return (
            math.log1p(self.count)
            + 0.3 * math.log1p(self.files)
            + (1.0 if self.in_plan else 0.0)
            - 0.04 * extra
        )


def rank_candidates(prefix: str, result: CodeSearchResult, doc: Document) -> list[Candidate]:
    """Distinct names starting with `prefix` (longer than it), best first."""
    counts: Counter[str] = Counter()
    files: dict[str, set[str]] = {}
    first: dict[str, str] = {}
    for m in result.matches:
        subs = m.submatches or re.findall(rf"\b{re.escape(prefix)}[A-Za-z0-9_]+", m.text)
        for word in subs:
            if not word.startswith(prefix) or len(word) <= len(prefix):
                continue
            if not IDENTIFIER_RE.fullmatch(word):
                continue
            counts[word] += 1
            files.setdefault(word, set()).add(m.path)
            first.setdefault(word, m.citation)
    plan_words = set(IDENTIFIER_RE.findall(doc.text))
    cands = [Candidate(w, c, len(files[w]), first[w], w in plan_words) for w, c in counts.items()]
    return sorted(cands, key=lambda c: (-c.score(prefix), len(c.word), c.word))


def typed_prefix(doc: Document) -> str | None:
    """The identifier being typed when the cursor is at its end and it is long enough."""
    line, col = doc.cursor
    after = doc.lines[line][col : col + 1]
    if after and _IDENT_CHAR.match(after):
        return None  # the cursor is inside a word
    word = doc.word_at_cursor
    if len(word) < MIN_PREFIX:
        return None
    return word


class Completions:
    name: ClassVar[str] = "completions"
    card_type: ClassVar[CardType] = CardType.completion
    before_reading: ClassVar[bool] = True
    """Its LLM call (ghost text: latency first) leaves before the plan is read."""

    def __init__(self, rg: CodeBackend, llm: LLM | None = None) -> None:
        self.rg = rg
        self.llm = llm

    def availability(self) -> Availability:
        if self.llm is not None:
            return Availability.yes("LLM line continuation (ripgrep identifiers as fallback)")
        return with_ripgrep(
            self.rg,
            "offline: identifiers from the repository (ripgrep)",
            needs="offline completion needs ripgrep",
        )

    async def fulfill(self, ctx: FulfillerContext) -> list[Card]:
        doc = ctx.document
        line, col = doc.cursor
        if not doc.before_cursor.strip():
            ctx.skipped = "nothing typed on the cursor's line yet"
            return []
        if doc.lines[line][col : col + 1] and _IDENT_CHAR.match(doc.lines[line][col]):
            ctx.skipped = "the cursor is inside a word"
            return []
        llm = self.llm
        if llm is not None:
            [out] = await ctx.run(
                [llm.call("continue the line", lambda: llm_planner.complete_line(llm, doc))],
                what="LLM calls",
            )
            if out.ok and out.value:
                ctx.mode = "llm"
                return [
                    Card.make(
                        type=CardType.completion,
                        header="Completion",
                        text=out.value,
                        source=self.name,
                        key=COMPLETION_KEY,
                        line=doc.before_cursor + out.value,
                    )
                ]
        ctx.mode = "offline"
        await ctx.job.read()  # the LLM's call left before the plan was read
        return await self._offline(ctx)

    async def _offline(self, ctx: FulfillerContext) -> list[Card]:
        doc = ctx.document
        prefix = typed_prefix(doc)
        if prefix is None:
            if ctx.skipped is None and self.llm is None:
                ctx.skipped = f"no identifier of {MIN_PREFIX}+ characters being typed"
            return []
        if ctx.job.scope_root is None:
            ctx.skipped = "no scope_root to take names from"
            return []
        query = prefix_query(prefix, ctx.job.plan_relpath)
        [out] = await ctx.run([code_call(self.rg, ctx.job.scope_root, query, label=f"{prefix}…")])
        if not out.ok or out.value is None:
            return []
        ranked = rank_candidates(prefix, out.value, doc)
        if not ranked:
            return []
        best = ranked[0]
        return [
            Card.make(
                type=CardType.completion,
                header="Completion",
                text=best.word[len(prefix) :],
                source=self.name,
                key=COMPLETION_KEY,
                citations=[best.first],
                word=best.word,
                prefix=prefix,
                occurrences=best.count,
                alternatives=[c.word for c in ranked[1 : 1 + MAX_ALTERNATIVES]],
            )
        ]
