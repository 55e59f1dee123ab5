"""The fulfiller protocol, and the small protocols a fulfiller is built from.

A fulfiller plans queries, runs them through `ctx.run(...)` (the shared fan-out, which
records every query's timing for the report) and turns outcomes into cards. It is built from
the parts it needs, each behind a small protocol: code knowledge (`Knowledge`), a code search
backend (`backends.base.CodeBackend`), a web search backend (`backends.base.WebBackend`), an
LLM (`llm.LLM`). A new kind of card is one file with one class like this, registered in
`fulfillers/__init__.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

from ..backends.base import Availability, CodeBackend
from ..code import Resolution, Snapshot
from ..code.resolve import UseLike
from ..context import FulfillerContext
from ..models import Card, CardType, Finding


@runtime_checkable
class Fulfiller(Protocol):
    name: ClassVar[str]
    card_type: ClassVar[CardType]

    def availability(self) -> Availability:
        """Whether this process can run it at all (backends configured), and why not."""
        ...

    async def fulfill(self, ctx: FulfillerContext) -> list[Card]:
        """Cards for one request. Failed queries are data (in ctx), not exceptions."""
        ...


@runtime_checkable
class Reviewer(Fulfiller, Protocol):
    """A fulfiller that can report every finding of a plan, not only what its cards hold."""

    async def findings(self, ctx: FulfillerContext) -> list[Finding]: ...


class Knowledge(Protocol):
    """What a fulfiller asks of the code knowledge: a scope's current snapshot (built on
    first use; raises `BackendError` when the scope cannot be read), and whether one is
    built already (`peek`: no wait, nothing started)."""

    async def snapshot(self, root: Path) -> Snapshot: ...

    def peek(self, root: Path) -> Snapshot | None: ...


class Dependencies(Protocol):
    """What a fulfiller asks of the project's installed dependencies (`code.deps`): whether
    a scope has any, and the project's resolutions of a plan's names, checked again against
    its packages."""

    async def installed(self, root: Path) -> bool: ...

    async def resolve(
        self,
        root: Path,
        snapshot: Snapshot,
        resolutions: list[Resolution],
        uses: Sequence[UseLike],
        lines: Sequence[str],
        introduced: frozenset[str] = ...,
        proposed: frozenset[str] = ...,
    ) -> list[Resolution]: ...


def with_ripgrep(rg: CodeBackend, reason: str, *, needs: str = "needs ripgrep") -> Availability:
    """Available for `reason` when ripgrep is; otherwise unavailable, saying why."""
    avail = rg.availability()
    if not avail.available:
        return Availability.no(f"{needs}: {avail.reason}")
    return Availability.yes(reason)
