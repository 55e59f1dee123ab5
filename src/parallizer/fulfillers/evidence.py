"""What a planned code search found, read the same way by every fulfiller that uses it."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from .. import codefacts
from ..backends.base import CodeMatch, CodeSearchResult
from ..context import FulfillerContext
from ..fanout import Outcome
from ..planner import Plan, PlannedQuery, plan_for
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
