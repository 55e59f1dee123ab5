"""One request → every requested fulfiller concurrently → cards and a timing report.

The CLI and the HTTP service both come through here. `events()` yields a card event as soon
as its fulfiller finishes (the stream endpoint uses it directly); `fulfill()` collects them.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from . import metrics
from .backends.base import Availability
from .config import resolve_inside
from .document import Document
from .errors import BadInput, DocumentTooLarge, redact
from .fanout import Call, Deadline, Outcome, fan_out
from .fulfillers.base import Fulfiller, FulfillerContext, Job, Reviewer, before_reading
from .logs import request_id
from .models import (
    Card,
    Finding,
    FulfillerTiming,
    FulfillRequest,
    FulfillResponse,
    Timings,
)
from .planner import plan_for
from .runtime import Runtime

log = logging.getLogger("parallizer.orchestrator")

#: seconds past the request's deadline a fulfiller may take to make cards of what it got
DEADLINE_GRACE = 0.5


@dataclass(frozen=True, slots=True)
class CardEvent:
    card: Card
    fulfiller: str


@dataclass(frozen=True, slots=True)
class EarlyEvent:
    """The cards just sent are a fulfiller's early answer (it goes on): land them now."""

    fulfiller: str


@dataclass(frozen=True, slots=True)
class FulfillerEvent:
    name: str
    timing: FulfillerTiming


@dataclass(frozen=True, slots=True)
class Review:
    """Every finding of a plan (`Orchestrator.review`), best first, and how it was made."""

    findings: list[Finding]
    timing: FulfillerTiming


@dataclass(frozen=True, slots=True)
class DoneEvent:
    timings: Timings
    cards: list[Card] = field(default_factory=list)


Event = CardEvent | EarlyEvent | FulfillerEvent | DoneEvent


class Orchestrator:
    def __init__(self, runtime: Runtime, fulfillers: Mapping[str, Fulfiller]) -> None:
        """`fulfillers`: the registry, in card order (`assembly.orchestrator` builds it)."""
        self.runtime = runtime
        self.fulfillers: dict[str, Fulfiller] = dict(fulfillers)

    def available(self) -> list[str]:
        """The fulfillers this process can run (their backends are configured)."""
        return [n for n, f in self.fulfillers.items() if f.availability().available]

    def health(self) -> dict[str, dict[str, Availability]]:
        return {
            "fulfillers": {n: f.availability() for n, f in self.fulfillers.items()},
            "backends": self.runtime.backends(),
        }

    # --- validation ------------------------------------------------------------------------

    def select(self, names: Sequence[str] | None) -> list[str]:
        """The fulfillers to run, in registry order. Unknown names are bad input; default is
        every fulfiller this process can run."""
        known = self.fulfillers
        if names is None:
            return self.available()
        unknown = [n for n in names if n not in known]
        if unknown:
            raise BadInput(
                f"unknown fulfiller(s): {', '.join(sorted(set(unknown)))}; "
                f"known: {', '.join(known)}"
            )
        wanted = set(names)
        return [n for n in known if n in wanted]

    def prepare(self, request: FulfillRequest, *, serial: bool = False, read: bool = True) -> Job:
        """The request checked once: its fulfillers (unknown: 422), its size (413), its paths
        resolved inside the allowed roots (403); the document parsed. Touches the file
        system: the service calls it off the event loop."""
        names = self.select(request.fulfillers)
        s = self.runtime.settings
        if len(request.document_text.encode("utf-8")) > s.max_document_bytes:
            raise DocumentTooLarge(
                f"document_text is over the limit of {s.max_document_bytes} bytes"
            )
        roots = s.allowed_root_paths
        gc = request.global_context
        scope = (
            resolve_inside(gc.scope_root, roots, what="scope_root", kind="dir")
            if gc.scope_root is not None
            else None
        )
        plan = (
            resolve_inside(gc.plan_path, roots, what="plan_path")
            if gc.plan_path is not None
            else None
        )
        if plan is not None and plan.is_dir():
            raise BadInput("plan_path is a directory, not a file")
        job = Job(
            request=request,
            document=Document(request.document_text, request.cursor),
            settings=s,
            flights=self.runtime.flights,
            fulfillers=names,
            available=frozenset(n for n in names if self.fulfillers[n].availability().available),
            scope_root=scope,
            plan_path=plan,
            serial=serial,
        )
        # reading the plan (the Markdown parse, its mentions, their ranking) is CPU work: done
        # here, off the event loop, so every fulfiller finds it cached (`read=False`: the
        # caller sets `job.reader`, see `Service.prepare`); the sections at least (the
        # Markdown parse) are here in any case, for the first LLM calls' outline and excerpt
        job.document.sections  # noqa: B018 - computed now, off the event loop
        if read:
            plan_for(job.document, s.max_queries, exclude=job.plan_relpath)
        return job

    # --- running ---------------------------------------------------------------------------

    async def events(self, job: Job) -> AsyncGenerator[Event]:
        """Run the prepared request; yield each fulfiller's cards and timing as it finishes,
        then done.

        Closing the iterator early cancels the fulfillers still running (and their queries).
        """
        request, names, serial = job.request, job.fulfillers, job.serial
        rid = request_id.get()
        if rid == "-":
            rid = _new_id()
        tagged = {"request_id": rid}
        log.info(
            "request for user %s: %d fulfillers %s (%s), scope %s",
            request.user_id,
            len(names),
            names,
            "serial" if serial else "parallel",
            job.scope_root or "-",
            extra=tagged,
        )
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        secrets = self.runtime.settings.secrets()
        contexts = {n: FulfillerContext(job=job, name=n) for n in names}
        per_fulfiller: dict[str, list[Card]] = {}
        timings: dict[str, FulfillerTiming] = {}
        sent: dict[str, Card] = {}  # by metadata.id: what the stream has carried so far

        def send(card: Card, name: str) -> bool:
            """Put a card on the stream unless it went out already, word for word."""
            ident = card.metadata.id
            if ident and sent.get(ident) == card:
                return False
            if ident:
                sent[ident] = card
            queue.put_nowait(CardEvent(card=card, fulfiller=name))
            return True

        def early(name: str) -> Callable[[list[Card]], None]:
            def on_cards(cards: list[Card]) -> None:
                if sum(send(c, name) for c in cards):
                    queue.put_nowait(EarlyEvent(name))

            return on_cards

        for n, ctx in contexts.items():
            ctx.on_cards = early(n)

        def finished(i: int, outcome: Outcome[list[Card]]) -> None:
            name = names[i]
            cards = list(outcome.value or []) if outcome.ok else []
            timing = _timing(contexts[name], outcome, len(cards), secrets)
            per_fulfiller[name], timings[name] = cards, timing
            metrics.FULFILLER_LATENCY.labels(name, "ok" if outcome.ok else "error").observe(
                outcome.ms / 1000.0
            )
            for c in cards:
                metrics.CARDS.labels(c.type.value, name).inc()
                send(c, name)
            queue.put_nowait(FulfillerEvent(name=name, timing=timing))

        # PARALLIZER_REQUEST_TIMEOUT is a deadline for the whole request: each query gets
        # what is left of it; a fulfiller gets a moment more to make cards of what it has
        budget = self.runtime.settings.request_timeout
        job.deadline = Deadline(budget)
        calls = [
            Call(label=n, backend="fulfiller", run=_runner(self.fulfillers[n], contexts[n]))
            for n in names
        ]
        fulfiller_deadline = Deadline(budget + min(DEADLINE_GRACE, budget / 4))

        async def produce() -> None:
            request_id.set(rid)  # this task's own context: every log line below carries it
            try:
                await fan_out(
                    calls,
                    limit=1 if serial else None,
                    clock=job.clock,
                    on_outcome=finished,
                    what="fulfillers",
                    record_metrics=False,
                    deadline=fulfiller_deadline,
                )
            finally:
                queue.put_nowait(None)

        async with asyncio.TaskGroup() as tg:
            job.start_reading(tg)  # the request's first remote calls leave while it reads
            tg.create_task(produce(), name=f"request:{rid}", context=contextvars.copy_context())
            while (event := await queue.get()) is not None:
                yield event

        total = job.clock.ms()
        ordered = {n: timings[n] for n in names if n in timings}
        cards = [c for n in names for c in per_fulfiller.get(n, [])]
        log.info(
            "request done in %.1f ms: %d cards; %s",
            total,
            len(cards),
            ", ".join(f"{n} {t.ms:.0f} ms{'' if t.ok else ' FAILED'}" for n, t in ordered.items()),
            extra=tagged,
        )
        yield DoneEvent(timings=Timings(total_ms=round(total, 1), fulfillers=ordered), cards=cards)

    async def review(self, job: Job) -> Review:
        """Every finding of the plan, offline (the code index and ripgrep), not only those
        the question cards have room for: what the Language Server publishes and `check`
        gates on. Low-confidence ones are there too (severity `info`); callers filter."""
        reviewer = next((f for f in self.fulfillers.values() if isinstance(f, Reviewer)), None)
        ctx = FulfillerContext(job=job, name=reviewer.name if reviewer else "review")
        job.deadline = Deadline(self.runtime.settings.request_timeout)
        secrets = self.runtime.settings.secrets()
        avail = reviewer.availability() if reviewer else None
        if reviewer is None or avail is None or not avail.available:
            ctx.skipped = avail.reason if avail else "no fulfiller reviews plans here"
            empty: Outcome[list[Card]] = Outcome(
                label="review", backend="fulfiller", ok=True, value=[]
            )
            return Review([], _timing(ctx, empty, 0, secrets))
        findings: list[Finding] = []

        async def run() -> list[Card]:
            await job.read()
            findings.extend(await reviewer.findings(ctx))
            return []

        [outcome] = await fan_out(
            [Call(label="review", backend="fulfiller", run=run)],
            clock=job.clock,
            what="fulfillers",
            record_metrics=False,
        )
        return Review(findings, _timing(ctx, outcome, len(findings), secrets))

    async def fulfill(self, job: Job) -> FulfillResponse:
        """Run the prepared request to the end: every card and the timing report."""
        done: DoneEvent | None = None
        async with aclosing(self.events(job)) as events:
            async for event in events:
                if isinstance(event, DoneEvent):
                    done = event
        assert done is not None, "events() always ends with DoneEvent"
        return FulfillResponse(cards=done.cards, processing=False, timings=done.timings)


def _new_id() -> str:
    return uuid.uuid4().hex[:8]


def _runner(fulfiller: Fulfiller, ctx: FulfillerContext) -> Any:
    async def run() -> list[Card]:
        avail = fulfiller.availability()
        if not avail.available:
            ctx.skipped = avail.reason
            return []
        if not before_reading(fulfiller):
            await ctx.job.read()
        return await fulfiller.fulfill(ctx)

    return run


def _timing(
    ctx: FulfillerContext, outcome: Outcome[list[Card]], n_cards: int, secrets: list[str]
) -> FulfillerTiming:
    """The fulfiller's report; error strings pass the redactor (an unexpected exception's
    text is shown as is, so it must not carry a configured secret either)."""
    queries = [o.timing() for o in ctx.outcomes]
    if secrets:
        for q in queries:
            if q.error:
                q.error = redact(q.error, secrets)
    return FulfillerTiming(
        ms=round(outcome.ms, 1),
        start_ms=round(outcome.start_ms, 1),
        ok=outcome.ok,
        error=redact(outcome.error, secrets) if outcome.error else None,
        mode=ctx.mode,
        skipped=ctx.skipped,
        cards=n_cards,
        queries=queries,
    )
