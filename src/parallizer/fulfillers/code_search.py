"""CodeSearch: where the things the plan names live in the code.

Definitions come first, from the scope's code index: kind, qualified name and `path:line`,
with a short snippet read from the file (in a worker thread). Uses come from ripgrep: it runs
exactly the planner's queries, the same `CodeQuery` objects Ambiguities runs, so within a
request each search runs once. A name the index does not know (a config key, a language it
does not parse) falls back to what ripgrep found: its definition by line pattern, else its
first mention. A path the plan names gets its outline: the top-level definitions it holds.
"""

from __future__ import annotations

import asyncio
import logging
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ..backends.base import Availability, CodeBackend, CodeMatch, CodeSearchResult
from ..code import Definition, Snapshot, fence_language, role_of, source_first
from ..code.extract.lines import defines
from ..code.extract.lines import definition as line_definition
from ..code.languages import ROLE_RANK, is_config_path
from ..fanout import Outcome
from ..models import Card, CardType
from ..planner import Plan, PlannedQuery
from ..text import clip, single_line
from .base import FulfillerContext, Knowledge, code_call, with_ripgrep

log = logging.getLogger("parallizer.fulfillers.code_search")

MAX_CARDS = 3
OUTLINE_NAMES = 8
USED_IN_SHOWN = 3
OTHER_DEFS_SHOWN = 3
SNIPPET_LINES = 3
TYPE_KINDS = frozenset({"class", "type", "interface", "trait", "enum", "struct"})

# how much a card is worth beside the planner's score for its term
DEFINED = 1.0
OUTLINE = 0.9
MENTIONED = 0.6


def _source_first(matches: list[CodeMatch]) -> list[CodeMatch]:
    """Stable: source code first, then configuration files, then tests, docs and examples."""
    return sorted(matches, key=lambda m: (ROLE_RANK[role_of(m.path)], is_config_path(m.path)))


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
        defs = [m for m in matches if definable and defines(m.path, m.text, pq.term.name)]
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


def snippet(match: CodeMatch, *, before: int = 1, after: int = 2) -> str:
    """A few lines around a match as a fenced Markdown block (dedented)."""
    lines = [c.text for c in match.before[-before:]] if before else []
    lines += [match.text] + [c.text for c in match.after[:after]]
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    body = textwrap.dedent("\n".join(lines)).replace("```", "ʼʼʼ")
    return f"```{fence_language(match.path)}\n{body}\n```"


def one_line(text: str, limit: int = 90) -> str:
    """A matched line for inline quoting: trimmed, clipped, no backticks."""
    return clip(single_line(text).replace("`", "'"), limit)


class CodeSearch:
    name: ClassVar[str] = "code_search"
    card_type: ClassVar[CardType] = CardType.context

    def __init__(self, code: Knowledge, rg: CodeBackend) -> None:
        self.code = code
        self.rg = rg

    def availability(self) -> Availability:
        return with_ripgrep(
            self.rg, "where the plan's names are defined (code index) and used (ripgrep)"
        )

    async def fulfill(self, ctx: FulfillerContext) -> list[Card]:
        """Definition cards at once when the scope's index is built (their uses follow as the
        same cards, improved, when ripgrep has found them); on a scope whose index is still
        being built, ripgrep's places first, then the same cards from the index when it is
        ready (within the request's time)."""
        root = ctx.job.scope_root
        if root is None:
            ctx.skipped = "no scope_root to search"
            return []
        plan = ctx.plan()
        async with asyncio.TaskGroup() as tg:  # rg finds the uses while the index answers
            searching = tg.create_task(self.search(ctx, plan))
            index = self.code.peek(root)
            if index is None:  # cold: never wait for the build to say what rg found
                indexing = tg.create_task(self._snapshot(root))
                found = await searching
                ctx.emit(self.write(ctx, found))
                index = await self._within(ctx, indexing)
                if index is None:
                    return self.write(ctx, found)
                defs, snippets = await self._definitions(index, plan)
                return self.write(ctx, found, defs, snippets)
            defs, snippets = await self._definitions(index, plan)
            pending = [Found(planned=q, ok=False, error="searching") for q in plan.queries]
            ctx.emit(self.write(ctx, pending, defs, snippets))  # where they are defined
            return self.write(ctx, await searching, defs, snippets)  # and where they are used

    async def _snapshot(self, root: Path) -> Snapshot | None:
        try:
            return await self.code.snapshot(root)
        except Exception as exc:  # no index: ripgrep's view alone
            log.warning("code index unavailable for %s: %s", root, exc)
            return None

    @staticmethod
    async def _within(
        ctx: FulfillerContext, task: asyncio.Task[Snapshot | None]
    ) -> Snapshot | None:
        """The task's snapshot if it is ready within the request's time (a moment kept for
        writing the cards), else None (the build goes on: the next request has it)."""
        left = ctx.job.deadline.remaining() - 1.0 if ctx.job.deadline is not None else None
        done, _ = await asyncio.wait({task}, timeout=None if left is None else max(0.0, left))
        if not done:
            task.cancel()  # the build itself belongs to the code knowledge: it goes on
            return None
        return task.result()

    async def _definitions(
        self, index: Snapshot, plan: Plan
    ) -> tuple[dict[str, list[Definition]], dict[tuple[str, int], str]]:
        defs = self.definitions(index, plan)
        want = {(d.path, d.line) for ds in defs.values() for d in ds[:1]}
        snippets = await asyncio.to_thread(index.lines.read, want, SNIPPET_LINES - 1) if want else {}
        return defs, snippets

    async def search(self, ctx: FulfillerContext, plan: Plan) -> list[Found]:
        root = ctx.job.scope_root
        assert root is not None
        outcomes = await ctx.run([code_call(self.rg, root, q.query, q.label) for q in plan.queries])
        return [Found.read(q, o) for q, o in zip(plan.queries, outcomes, strict=True)]

    @staticmethod
    def definitions(index: Snapshot, plan: Plan) -> dict[str, list[Definition]]:
        """Per planned name: its definitions in the index, source first (on the class the
        plan says when it names one)."""
        out: dict[str, list[Definition]] = {}
        for q in plan.queries:
            t = q.term
            if not t.is_name:
                continue
            parts = t.text.replace("::", ".").split(".")
            name = parts[-1]
            defs: list[Definition] = []
            if len(parts) > 1 and any(d.kind in TYPE_KINDS for d in index.lookup(parts[-2])):
                defs = index.qualified(f"{parts[-2]}.{name}")
            defs = defs or index.lookup(name)
            if defs:
                out[t.text] = source_first(defs)
        return out

    def write(
        self,
        ctx: FulfillerContext,
        found: list[Found],
        defs: dict[str, list[Definition]] | None = None,
        snippets: dict[tuple[str, int], str] | None = None,
    ) -> list[Card]:
        defs, snippets = defs or {}, snippets or {}
        scored: list[tuple[float, Card]] = []
        card: Card | None
        for f in found:
            term = f.planned.term
            indexed = defs.get(term.text)
            if indexed:
                card, worth = self._indexed(f, indexed, snippets), DEFINED
            elif not f.ok or not f.matches:
                continue
            elif term.kind == "path":
                card, worth = self._outline(f), OUTLINE
            else:
                card, worth = self._located(f), (DEFINED if f.definitions else MENTIONED)
            if card is not None:
                scored.append((term.score * worth, card))
        scored.sort(key=lambda x: -x[0])
        return [card for _, card in scored[:MAX_CARDS]]

    def _card(self, header: str, text: str, cites: list[str], key: str) -> Card:
        """`key`: the plan's term, so the card of a term is the same card when improved."""
        return Card.make(
            type=CardType.context,
            header=header,
            text=text,
            source=self.name,
            citations=list(dict.fromkeys(cites)),
            key=key,
        )

    def _used_in(self, f: Found, skip: set[str]) -> tuple[str, list[str]]:
        """ "Used in N other files: ..." from ripgrep's matches (source first), or ''."""
        if not f.ok:
            return "", []
        first_use: dict[str, CodeMatch] = {}
        for m in f.mentions:
            if m.path not in skip:
                first_use.setdefault(m.path, m)
        if not first_use:
            return "", []
        n = len(first_use)
        count = f"{n}+ other files" if f.truncated else f"{n} other file{'s' * (n != 1)}"
        shown = list(first_use.values())[:USED_IN_SHOWN]
        listing = ", ".join(f"`{m.citation}`" for m in shown)
        text = f"Used in {count}" + (", e.g. " if n > len(shown) else ": ") + listing + "."
        return text, [m.citation for m in shown]

    def _indexed(
        self, f: Found, defs: list[Definition], snippets: dict[tuple[str, int], str]
    ) -> Card:
        term = f.planned.term
        main = defs[0]
        parts = [f"{main.kind.capitalize()} `{main.qualname}` at `{main.citation}`:"]
        text = snippets.get((main.path, main.line))
        if text:
            body = textwrap.dedent(text.rstrip()).replace("```", "ʼʼʼ")
            parts.append(f"```{fence_language(main.path)}\n{body}\n```")
        cites = [main.citation]
        others = defs[1 : 1 + OTHER_DEFS_SHOWN]
        if others:
            parts.append(
                "Also defined: "
                + ", ".join(f"{d.kind} `{d.qualname}` at `{d.citation}`" for d in others)
                + (
                    f" and {len(defs) - 1 - len(others)} more"
                    if len(defs) > 1 + len(others)
                    else ""
                )
                + "."
            )
            cites += [d.citation for d in others]
        used, used_cites = self._used_in(f, {d.path for d in defs})
        if used:
            parts.append(used)
            cites += used_cites
        header = f"`{term.text}` — {main.kind} {main.citation}"
        return self._card(header, "\n\n".join(parts), cites, term.text)

    def _located(self, f: Found) -> Card:
        term = f.planned.term
        main = f.best()
        assert main is not None
        defined = bool(f.definitions)
        parts = [
            f"{'Defined' if defined else 'Mentioned'} at `{main.citation}`:",
            snippet(main, before=0 if defined else 1),
        ]
        cites = [main.citation]
        others = [m for m in f.definitions if m is not main][:3]
        if others:
            parts.append(
                "Also defined at "
                + ", ".join(f"`{m.citation}` (`{one_line(m.text, 60)}`)" for m in others)
                + "."
            )
            cites += [m.citation for m in others]
        used, used_cites = self._used_in(f, {m.path for m in f.definitions} | {main.path})
        if used:
            parts.append(used)
            cites += used_cites
        return self._card(f"`{term.text}` — {main.citation}", "\n\n".join(parts), cites, term.text)

    def _outline(self, f: Found) -> Card | None:
        defs = [
            (m, d)
            for m in f.matches
            if (d := line_definition(m.path, m.text)) is not None and d.owner is None
        ]
        if not defs:
            return None
        path = defs[0][0].path
        here = [(m, d) for m, d in defs if m.path == path]
        shown = sorted(here, key=lambda x: (x[1].kind == "variable", x[0].line))[:OUTLINE_NAMES]
        listing = ", ".join(f"`{d.name}` ({d.kind}, line {m.line})" for m, d in shown)
        rest = len(here) - len(shown)
        text = f"`{path}` defines {listing}" + (f" and {rest} more" if rest > 0 else "") + "."
        others = sorted({m.path for m, _ in defs} - {path})
        if others:
            text += " Other files match the same path: " + ", ".join(f"`{p}`" for p in others) + "."
        cites = [m.citation for m, _ in shown]
        return self._card(f"`{path}`: what it holds", text, cites, f.planned.term.text)
