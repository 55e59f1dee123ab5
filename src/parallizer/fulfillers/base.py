"""What a fulfiller is, and the per-request context it receives.

A fulfiller plans queries, runs them through `ctx.run(...)` (the shared fan-out, which
records every query's timing for the report) and turns outcomes into cards. It is built from
the parts it needs, each behind a small protocol: code knowledge (`Knowledge`), a code search
backend (`backends.base.CodeBackend`), a web search backend (`backends.base.WebBackend`), an
LLM (`llm.LLM`). A new kind of card is one file with one class like this, registered in
`fulfillers/__init__.py`.

Per request it receives a `FulfillerContext` over the request's `Job` (the document,
resolved paths, clock, memo). It starts once the plan is read (`Job.read`: in the service, in
a worker process while the request is already running), unless it says `before_reading`:
then it sends what needs only the document's text and sections first (its first LLM call,
which leaves while the plan is read) and awaits `ctx.job.read()` itself before it reads
anything more of the plan. `FulfillerContext.run(calls)` is the only way a fulfiller does
I/O: it is the shared fan-out with the request's clock, the request's single-flight memo (so
identical queries from different fulfillers run once), the process's single flight (so
concurrent requests share identical queries) and serial mode, and it records each outcome for
the timing report.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from ..backends.base import Availability, CodeBackend, CodeQuery, CodeSearchResult
from ..code import Resolution, Snapshot
from ..code.resolve import UseLike
from ..config import Settings
from ..document import Document
from ..fanout import Call, Clock, Deadline, Flights, Memo, Outcome, fan_out
from ..models import Card, CardType, Finding, FulfillRequest
from ..planner import Plan, plan_for

T = TypeVar("T")


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


def before_reading(fulfiller: Fulfiller) -> bool:
    """Whether `fulfiller` starts before the plan is read and awaits `Job.read` itself."""
    return bool(getattr(fulfiller, "before_reading", False))


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


@dataclass
class Job:
    """One request, checked and resolved once (`Orchestrator.prepare`): everything the
    orchestrator and the fulfillers need to know about it travels here and only here."""

    request: FulfillRequest
    document: Document
    settings: Settings
    flights: Flights
    """The process's single flight: identical calls of concurrent requests run once."""
    fulfillers: list[str] = field(default_factory=list)
    """The fulfillers to run, in registry order (the request's selection, checked)."""
    available: frozenset[str] = frozenset()
    """Of those, the ones this process can run (a fulfiller planning for others asks)."""
    scope_root: Path | None = None
    plan_path: Path | None = None
    serial: bool = False
    """Queries (and fulfillers) one after another: the seed's "before"."""
    clock: Clock = field(default_factory=Clock)
    memo: Memo = field(default_factory=Memo)
    deadline: Deadline | None = None
    """The whole request's (set when it starts running): every call gets only what is left."""
    reader: Callable[[], Awaitable[None]] | None = None
    """The plan's reading still to do (its facts and offline plan, into the document's
    caches): the service reads in a worker process while the request's first remote calls
    are already out. None: `Orchestrator.prepare` read it."""
    _reading: asyncio.Task[Exception | None] | None = field(default=None, init=False, repr=False)

    def start_reading(self, tg: asyncio.TaskGroup | None = None) -> None:
        """Start the reading (once), in `tg` when given: the run that owns it."""
        if self.reader is None or self._reading is not None:
            return
        reader = self.reader

        async def reading() -> Exception | None:
            try:
                await reader()
            except Exception as exc:  # each fulfiller that waits for it fails with it
                return exc
            return None

        if tg is not None:
            self._reading = tg.create_task(reading(), name="read the plan")
        else:
            self._reading = asyncio.ensure_future(reading())

    async def read(self) -> None:
        """Wait until the plan is read; its failure, if it failed. A waiter that is
        cancelled leaves the reading to the others."""
        self.start_reading()
        if self._reading is not None and (exc := await asyncio.shield(self._reading)):
            raise exc

    @cached_property
    def plan_relpath(self) -> str | None:
        """The plan's path relative to scope_root when the plan lies inside it (its lines
        would match every name it mentions, so searches leave it out). Worked out once: a
        request asks ~65 times (every citation of the plan, every search's exclusion), and
        pathlib's relative_to was 4% of the server's time under 50 requests at once."""
        if self.plan_path is None or self.scope_root is None:
            return None
        if not self.plan_path.is_relative_to(self.scope_root):
            return None
        return self.plan_path.relative_to(self.scope_root).as_posix()

    def plan_citation(self, line: int) -> str:
        """`path:line` (1-based) of a line of the plan, relative to scope_root when inside."""
        name = self.plan_relpath or (self.plan_path.name if self.plan_path else "plan")
        return f"{name}:{line + 1}"

    def runs(self, name: str) -> bool:
        """Whether this request runs fulfiller `name` (selected, and this process can)."""
        return name in self.available


@dataclass
class FulfillerContext:
    job: Job
    name: str
    outcomes: list[Outcome[Any]] = field(default_factory=list)
    mode: str = "offline"
    skipped: str | None = None
    on_cards: Callable[[list[Card]], None] | None = None
    """Where early cards go (the orchestrator's event stream); None: nowhere."""

    def emit(self, cards: list[Card]) -> None:
        """Send cards before the fulfiller is done (what is certain now: the index's
        findings before the LLM writes, rg's places before the index is built). A card
        sent again later with the same `metadata.id` replaces it; the fulfiller's returned
        cards are its last word, and should carry every card it sent early."""
        if self.on_cards is not None and cards:
            self.on_cards(cards)

    @property
    def document(self) -> Document:
        return self.job.document

    @property
    def settings(self) -> Settings:
        return self.job.settings

    def plan(self) -> Plan:
        """The request's offline query plan: the same object (and queries) for every
        fulfiller that asks, so the request's memo runs each search once."""
        return plan_for(self.document, self.settings.max_queries, exclude=self.job.plan_relpath)

    async def run(self, calls: Sequence[Call[T]], *, what: str = "queries") -> list[Outcome[T]]:
        outs = await fan_out(
            calls,
            limit=1 if self.job.serial else None,
            clock=self.job.clock,
            memo=self.job.memo,
            flights=self.job.flights,
            what=f"{self.name} {what}",
            deadline=self.job.deadline,
        )
        self.outcomes.extend(outs)
        return outs


def code_call(
    rg: CodeBackend, root: Path, query: CodeQuery, label: str | None = None
) -> Call[CodeSearchResult]:
    """A ripgrep search of `root`. No slot of the rg limit is held per query: the backend
    takes one per rg process, which several queries may share."""
    return Call(
        label=label or query.pattern,
        backend=rg.name,
        run=lambda: rg.search(query, root),
        timeout=rg.timeout,
        key=("code", str(root), query),
        shared=lambda r: r.shared_run,
    )
