"""CodeSearch: where the things the plan names live in the code.

It runs exactly the planner's queries, the same `CodeQuery` objects Ambiguities runs, so
within a request each search runs once (the other fulfiller's timing shows it `shared`).
A card per term, best first: the definition (or, without one, the first mention) as
`path:line` with a short snippet, the other definitions, and how widely it is used. A path
the plan names gets its outline: the top-level definitions the file holds.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

from .. import codefacts
from ..backends.base import Availability, CodeMatch
from ..context import FulfillerContext
from ..models import Card, CardType
from ..planner import Plan
from .base import with_ripgrep
from .evidence import Found, one_line, planned, snippet

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger("parallizer.fulfillers.code_search")

MAX_CARDS = 3
OUTLINE_NAMES = 8
USED_IN_SHOWN = 3

# how much a card is worth beside the planner's score for its term
DEFINED = 1.0
OUTLINE = 0.9
MENTIONED = 0.6


class CodeSearch:
    name: ClassVar[str] = "code_search"
    card_type: ClassVar[CardType] = CardType.context

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def availability(self) -> Availability:
        return with_ripgrep(self.runtime, "where the plan's names live, from ripgrep")

    async def fulfill(self, ctx: FulfillerContext) -> list[Card]:
        if ctx.job.scope_root is None:
            ctx.skipped = "no scope_root to search"
            return []
        plan = planned(ctx)
        found = await self.search(ctx, plan)
        return self.write(ctx, found)

    async def search(self, ctx: FulfillerContext, plan: Plan) -> list[Found]:
        outcomes = await ctx.run([ctx.code_call(q.query, q.label) for q in plan.queries])
        return [Found.read(q, o) for q, o in zip(plan.queries, outcomes, strict=True)]

    def write(self, ctx: FulfillerContext, found: list[Found]) -> list[Card]:
        scored: list[tuple[float, Card]] = []
        for f in found:
            if not f.ok or not f.matches:
                continue
            if f.planned.term.kind == "path":
                card, worth = self._outline(f), OUTLINE
            else:
                card, worth = self._located(f), (DEFINED if f.definitions else MENTIONED)
            if card is not None:
                scored.append((f.planned.term.score * worth, card))
        scored.sort(key=lambda x: -x[0])
        return [card for _, card in scored[:MAX_CARDS]]

    def _card(self, header: str, text: str, cites: list[str]) -> Card:
        return Card.make(
            type=CardType.context,
            header=header,
            text=text,
            source=self.name,
            citations=list(dict.fromkeys(cites)),
        )

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
        seen = {m.path for m in f.definitions} | {main.path}
        users = [m for m in f.mentions if m.path not in seen]
        first_use: dict[str, CodeMatch] = {}
        for m in users:  # source files first: the mentions are sorted that way
            first_use.setdefault(m.path, m)
        if first_use:
            n = len(first_use)
            count = f"{n}+ other files" if f.truncated else f"{n} other file{'s' * (n != 1)}"
            shown = list(first_use.values())[:USED_IN_SHOWN]
            listing = ", ".join(f"`{m.citation}`" for m in shown)
            parts.append(
                f"Used in {count}" + (", e.g. " if n > len(shown) else ": ") + listing + "."
            )
            cites += [m.citation for m in shown]
        return self._card(f"`{term.text}` — {main.citation}", "\n\n".join(parts), cites)

    def _outline(self, f: Found) -> Card | None:
        defs = [
            (m, d)
            for m in f.matches
            if (d := codefacts.definition(m.path, m.text)) is not None and d.top_level
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
        return self._card(f"`{path}`: what it holds", text, [m.citation for m, _ in shown])
