"""The one fan-out primitive every fulfiller (and the orchestrator) uses.

`fan_out(calls)` runs awaitables concurrently and returns one `Outcome` per call, in the
order of the calls:

* bounded: each call holds a slot of its backend's process-wide limit while it runs (a
  fixed `Limiter`, or an `AdaptiveLimiter` for remote APIs, told how each attempt went), and
  the fan-out itself can be capped (`limit=1` is the serial "before" of the seed);
* a per-call deadline, measured from the moment the call first holds its slot (queueing for a
  slot is reported as `queued_ms`, not charged to the call); an overloaded provider's answer
  (429, 503) is retried in a fresh slot while the deadline allows (`limits.RetryPolicy`);
* hedged when the call allows it (idempotent web searches): slower than the backend's recent
  p95 with a slot free, a second copy runs and the first answer wins;
* every outcome is a value, ok with a result or failed with a kind and a reason, and its
  timing relative to the request's `Clock`, so overlap is visible;
* structured: calls run in an `asyncio.TaskGroup`; cancelling the caller cancels every
  call, and backends clean up (kill their subprocesses) on cancellation;
* de-duplicated by `Flights` (the one single flight, below, plus answers kept in
  cachetools' TTL caches): calls with the same `key` in one request (its `Memo`) run once,
  the others are marked `shared`; across requests, the process-wide `Flights` lets
  concurrent identical calls share one run while it is in flight, and keeps answers for
  calls that ask for it (`cache_ttl`, e.g. web searches).

The one single flight, for the fan-out and for everyone else who shares a run: `Flight` is
one run (an asyncio task) and the count of those waiting for it. Who owns it is an explicit
choice:

* `owner="waiters"` (the default): the run belongs to the callers waiting for it. One of them
  cancelled leaves it to the others; the last one cancelled cancels the run and waits until it
  is gone (its subprocess killed and reaped) before its own cancellation goes on. Used by
  `Flights`/`Memo`, the rg batcher (`backends.ripgrep.Batcher`) and the shared web cache
  (`stores.shared_cache.SharedFlights`).
* `owner="store"`: the run belongs to whoever started it (the code index store builds a
  scope): a waiter that goes away never cancels it, the next caller will want it; the store
  cancels it when it closes (`SingleFlight.aclose`).

`SingleFlight` keeps at most one live flight per key: `run(key, start)` joins the key's flight
or starts one; a failure of the run reaches every waiter (each gets the same exception).
A flight abandoned by its last waiter takes no new waiters: the next caller starts afresh.
`cancel_and_wait` is the one way an owner stops the work it started.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Iterable, Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Generic, Literal, TypeVar

from cachetools import TLRUCache

from . import metrics
from .errors import RETRYABLE, BackendError, Timeout
from .limits import DEFAULT_POLICY, ConcurrencyLimit, Ticket
from .models import QueryTiming

T = TypeVar("T")
log = logging.getLogger("parallizer.fanout")


class Clock:
    """Milliseconds since the start of a request."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def ms(self, t: float | None = None) -> float:
        return ((time.perf_counter() if t is None else t) - self.t0) * 1000.0


class Deadline:
    """When a whole request must be over (PARALLIZER_REQUEST_TIMEOUT from its start).

    Handed to `fan_out`, it bounds each call's wait for a slot and caps its timeout by what
    is left, so retries inside a call and the later stages of a fulfiller get only the rest
    of the request's time, never a fresh per-call timeout."""

    __slots__ = ("at", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.perf_counter() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - time.perf_counter())


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    label: str
    """What is asked (the query text), for timings and logs."""
    backend: str
    run: Callable[[], Awaitable[T]]
    """Called once inside the call's task, when it holds its slot."""
    limiter: ConcurrencyLimit | None = None
    timeout: float | None = None
    key: Hashable | None = None
    size: Callable[[T], int | None] | None = None
    """How many results the value holds, for logs and timings (default: `len` if sized)."""
    cache_ttl: float | None = None
    """With a `Flights`: keep a successful answer this many seconds for identical calls."""
    shared: Callable[[T], bool] | None = None
    """Whether a value came from a run shared with other calls (one rg pass for many
    queries): its outcome is then marked `shared` (its time is the shared run's)."""
    hedge: bool = False
    """Idempotent: when slower than the backend's recent p95 and a slot is free, a second copy
    may run; the first answer wins (web searches)."""


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    label: str
    backend: str
    ok: bool
    value: T | None = None
    error: str | None = None
    kind: str | None = None
    start_ms: float = 0.0
    ms: float = 0.0
    queued_ms: float = 0.0
    results: int | None = None
    shared: bool = False
    """Another call's run answered this one (same request, another request, a kept answer)."""
    batched: bool = False
    """This call ran, in one pass shared with other calls (one rg for many queries): its time
    is the shared pass's. Shown as `batched` in the timings, counted in the metrics."""

    @classmethod
    def cancelled(
        cls,
        call: Call[Any],
        reason: str,
        *,
        start_ms: float = 0.0,
        ms: float = 0.0,
        shared: bool = False,
    ) -> Outcome[Any]:
        """A call that ended by a cancellation its caller did not ask for."""
        return cls(label=call.label, backend=call.backend, ok=False, kind="cancelled",
                   error=reason, start_ms=start_ms, ms=ms, shared=shared)  # fmt: skip

    def timing(self) -> QueryTiming:
        return QueryTiming(
            query=self.label,
            backend=self.backend,
            start_ms=round(self.start_ms, 1),
            ms=round(self.ms, 1),
            ok=self.ok,
            error=self.error,
            error_kind=self.kind,
            results=self.results,
            queued_ms=round(self.queued_ms, 1) if self.queued_ms >= 0.05 else None,
            shared=self.shared or None,
            batched=self.batched or None,
        )


# --- the one single flight ---------------------------------------------------------------

Owner = Literal["waiters", "store"]


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel every task of `tasks` not done yet and wait until each is over (its cleanup
    ran: subprocesses killed and reaped). The one way an owner stops the work it started."""
    pending = [t for t in tasks if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.wait(pending)


class Flight(Generic[T]):
    """One run and its waiters."""

    __slots__ = ("abandoned", "owner", "task", "waiters")

    def __init__(self, task: asyncio.Task[T], owner: Owner = "waiters") -> None:
        self.task = task
        self.owner = owner
        self.waiters = 0
        self.abandoned = False
        """Its last waiter went away and cancelled it (only when the waiters own it)."""

    @property
    def live(self) -> bool:
        """It may still take a waiter: not over, not abandoned."""
        return not self.task.done() and not self.abandoned

    async def join(self) -> None:
        """Wait until the run is over, however it ends; only the caller's own cancellation
        raises here. The last waiter of a waiter-owned run cancels it on its way out."""
        self.waiters += 1
        try:
            # asyncio.wait: the run's own exception or cancellation does not raise here
            await asyncio.wait({self.task})
        except asyncio.CancelledError:
            self.waiters -= 1
            if self.waiters == 0 and self.owner == "waiters" and not self.task.done():
                self.abandoned = True
                self.task.cancel()
                await asyncio.wait({self.task})  # gone (its subprocess reaped) on return
            raise
        self.waiters -= 1

    async def wait(self) -> T:
        """The run's value; its exception if it failed; `CancelledError` if it was cancelled
        by someone else than this caller."""
        await self.join()
        return self.result()

    def result(self) -> T:
        """`wait`'s answer once the run is over."""
        if self.task.cancelled():
            raise asyncio.CancelledError("the shared run was cancelled")
        return self.task.result()


class SingleFlight(Generic[T]):
    """At most one live `Flight` per key."""

    def __init__(self, *, owner: Owner = "waiters") -> None:
        self.owner: Owner = owner
        self._flights: dict[Hashable, Flight[T]] = {}

    def get(self, key: Hashable) -> Flight[T] | None:
        """The key's flight, if one is under way or has just landed (until its done callbacks
        have run, a landed run still answers: its value is not kept anywhere else yet)."""
        flight = self._flights.get(key)
        return flight if flight is not None and not flight.abandoned else None

    def start(
        self, key: Hashable, start: Callable[[], Coroutine[Any, Any, T]], *, name: str | None = None
    ) -> tuple[Flight[T], bool]:
        """(the key's flight, whether this call started it): a new run of `start()` unless
        one is under way."""
        flight = self.get(key)
        if flight is not None:
            return flight, False
        task = asyncio.get_running_loop().create_task(start(), name=name)
        flight = self._flights[key] = Flight(task, self.owner)

        def landed(_: asyncio.Task[T]) -> None:
            if self._flights.get(key) is flight:
                del self._flights[key]

        task.add_done_callback(landed)
        return flight, True

    async def run(
        self,
        key: Hashable,
        start: Callable[[], Coroutine[Any, Any, T]],
        *,
        landed: Callable[[asyncio.Task[T]], object] | None = None,
    ) -> tuple[T, bool]:
        """(the value of the key's run, whether this call joined another's run rather than
        starting it). A run cancelled by another hand than the caller's (its waiters gone just
        as this call joined, the store closing) is started afresh for a waiter-owned flight.
        `landed(task)` is called when a run this call started is over."""
        while True:
            flight, started = self.start(key, start)
            if started and landed is not None:
                flight.task.add_done_callback(landed)
            await flight.join()
            if flight.task.cancelled() and self.owner == "waiters":
                if self._flights.get(key) is flight:
                    del self._flights[key]
                continue
            return flight.result(), not started

    def tasks(self) -> Iterator[asyncio.Task[T]]:
        return (f.task for f in self._flights.values())

    async def aclose(self) -> None:
        """Cancel every run and wait until they are over."""
        await cancel_and_wait([f.task for f in self._flights.values()])
        self._flights.clear()

    def __len__(self) -> int:
        return len(self._flights)


# --- the fan-out's flights: single flight plus kept answers ---------------------------


class _NoGauge:
    def inc(self) -> None: ...
    def dec(self) -> None: ...


_NO_GAUGE = _NoGauge()


@dataclass(frozen=True, slots=True)
class _Kept:
    outcome: Outcome[Any]
    ttl: float


class Flights:
    """The single flight of calls: one run per key at a time (a waiter-owned
    `SingleFlight`), and answers kept for identical calls.

    A call whose key is already running joins that run instead of starting another (it holds
    no backend slot while it waits); the run belongs to its waiters and is cancelled (its
    subprocess killed) when the last of them is cancelled. Answers are kept in a cachetools
    `TLRUCache` (each for its own time, at most `max_entries`, least recently used out first):

    * process-wide (`Runtime.flights`): successful answers of calls with a `cache_ttl`
      (web searches), for that long;
    * request-wide (`Memo`): every answer, ok or failed, for the request's life, so that a
      request sees one consistent answer per query.
    """

    def __init__(
        self,
        max_entries: int = 2048,
        *,
        keep_all: bool = False,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        """`timer`: the clock of the kept answers (seconds; a test passes its own)."""
        self._flying: SingleFlight[Outcome[Any]] = SingleFlight(owner="waiters")
        self.keep_all = keep_all
        self._kept: TLRUCache[Hashable, _Kept] = TLRUCache(
            maxsize=max_entries, ttu=lambda _key, kept, now: now + kept.ttl, timer=timer
        )

    def cached(self, key: Hashable) -> Outcome[Any] | None:
        kept = self._kept.get(key)
        return kept.outcome if kept is not None else None

    def _landed(self, key: Hashable, ttl: float | None, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        outcome = task.result()
        if self.keep_all:
            self._kept[key] = _Kept(outcome, math.inf)
        elif ttl and outcome.ok:
            self._kept[key] = _Kept(outcome, ttl)

    async def run(
        self,
        key: Hashable,
        ttl: float | None,
        start: Callable[[], Coroutine[Any, Any, Outcome[T]]],
    ) -> tuple[Outcome[T], str]:
        """(outcome, how): how is "own" (this call ran it), "joined" or "cached"."""
        if (ttl or self.keep_all) and (hit := self.cached(key)) is not None:
            return hit, "cached"

        outcome, joined = await self._flying.run(key, start, landed=partial(self._landed, key, ttl))
        return outcome, "joined" if joined else "own"

    async def aclose(self) -> None:
        await self._flying.aclose()
        self._kept.clear()

    def __len__(self) -> int:
        return len(self._flying) + len(self._kept)


class Memo(Flights):
    """A request's single flight: identical calls of one request run once, every answer
    (failures too) is kept for the request's life."""

    def __init__(self) -> None:
        super().__init__(max_entries=100_000, keep_all=True)


def _size(call: Call[Any], value: Any) -> int | None:
    if call.size is not None:
        return call.size(value)
    try:
        return len(value)
    except TypeError:
        return None


def _describe(exc: BaseException, timeout: float | None) -> tuple[str, str]:
    if isinstance(exc, BackendError):
        return exc.kind, exc.message
    if isinstance(exc, TimeoutError):
        return "timeout", f"timed out after {timeout:g}s" if timeout else "timed out"
    text = str(exc).strip()
    return "internal", f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _teach(ticket: Ticket, exc: BaseException | None) -> None:
    """Tell the backend's limit how the attempt went (overload, timeout, success)."""
    if exc is None:
        ticket.ok()
    elif isinstance(exc, RETRYABLE):
        ticket.overloaded(exc.retry_after)
    elif isinstance(exc, TimeoutError | Timeout):
        ticket.timed_out()


async def _hedged(call: Call[T], limiter: ConcurrencyLimit) -> T:
    """Run the call; if it is slower than the backend's recent p95 and a slot is free right
    then, run a second copy in that slot: the first answer wins, the other is cancelled."""
    first = asyncio.ensure_future(call.run())
    p95 = limiter.latency_quantile(0.95)
    try:
        if p95 is None:
            return await first
        done, _ = await asyncio.wait({first}, timeout=p95)
        if done:
            return first.result()
        held = limiter.try_slot()
        if held is None:
            return await first
        async with held as ticket:
            second = asyncio.ensure_future(call.run())
            try:
                done, _ = await asyncio.wait({first, second}, return_when=asyncio.FIRST_COMPLETED)
                winner = first if first in done and not first.exception() else None
                if winner is None and second in done and not second.exception():
                    winner = second
                if winner is None:  # the first to finish failed: wait for the other
                    other = second if first in done else first
                    await asyncio.wait({other})
                    winner = other if not other.exception() else next(iter(done))
                metrics.HEDGES.labels(call.backend, "won" if winner is second else "lost").inc()
                if winner is second:
                    ticket.ok()
                return winner.result()
            finally:
                second.cancel()
                await asyncio.wait({second})
    finally:
        first.cancel()
        await asyncio.wait({first})


async def _run_one(
    call: Call[T],
    clock: Clock,
    local: asyncio.Semaphore | None,
    gauges: bool,
    request: Deadline | None = None,
) -> Outcome[T]:
    """Run the call in a slot of its backend's limit; an overloaded provider's answer (429,
    503) is retried in a fresh slot by the retry policy while the call's deadline allows.

    The call's deadline is its timeout from when it first holds a slot, capped by what is
    left of the request's deadline (`request`), which also bounds every wait for a slot."""
    enqueued = time.perf_counter()
    waiting = metrics.QUERIES_WAITING.labels(call.backend) if gauges else _NO_GAUGE
    running = metrics.QUERIES_IN_FLIGHT.labels(call.backend) if gauges else _NO_GAUGE
    started: float | None = None
    deadline: float | None = None
    retries = 0

    def before_retry(state: Any) -> None:
        nonlocal retries
        retries += 1
        exc = state.outcome.exception() if state.outcome else None
        log.info("  %s %r: %s; trying again (%d)", call.backend, call.label, exc, retries)

    def left() -> float | None:
        """Seconds left of the call's deadline (before it holds a slot: of the request's)."""
        at = deadline
        if at is None and request is not None:
            at = time.monotonic() + request.remaining()
        return None if at is None else max(0.0, at - time.monotonic())

    def over() -> None:
        """A deadline that has passed fails the call now, never after one more await."""
        if request is not None and request.remaining() <= 0:
            raise TimeoutError("the request's deadline passed")

    async def attempt() -> T:
        nonlocal started, deadline
        over()
        remaining = left()
        async with asyncio.timeout(remaining):  # a retry waits for its slot on the clock
            async with AsyncExitStack() as slot:
                waiting.inc()
                try:
                    ticket = (
                        await slot.enter_async_context(call.limiter.slot())
                        if call.limiter is not None
                        else None
                    )
                finally:
                    waiting.dec()
                over()
                if started is None:  # the call's clock starts when it first holds a slot
                    started = time.perf_counter()
                    if call.timeout is not None:
                        deadline = time.monotonic() + call.timeout
                    if request is not None:
                        cap = time.monotonic() + request.remaining()
                        deadline = cap if deadline is None else min(deadline, cap)
                    remaining = left()
                running.inc()
                try:
                    async with asyncio.timeout(remaining):
                        if call.hedge and call.limiter is not None:
                            value = await _hedged(call, call.limiter)
                        else:
                            value = await call.run()
                except BaseException as exc:
                    if ticket is not None:  # a timeout is known only here, outside its scope
                        _teach(ticket, exc)
                    raise
                finally:
                    running.dec()
                if ticket is not None:
                    _teach(ticket, None)
                return value

    async with AsyncExitStack() as stack:
        if local is not None:
            waiting.inc()
            try:
                await stack.enter_async_context(local)
            finally:
                waiting.dec()
        try:
            async for tries in DEFAULT_POLICY.retrying(lambda: deadline, before_retry):
                with tries:
                    value = await attempt()
        except Exception as exc:
            ended = time.perf_counter()
            began = started if started is not None else ended
            kind, reason = _describe(exc, call.timeout)
            if request is not None and kind == "timeout" and request.remaining() <= 0:
                when = "before it ran" if started is None else "while it ran"
                reason = f"the request's deadline ({request.seconds:g}s) passed {when}"
            if retries:
                reason = f"{reason} (after {retries + 1} attempts)"
            if kind == "internal":
                log.warning(
                    "query %r on %s raised unexpectedly", call.label, call.backend, exc_info=exc
                )
            return Outcome(
                label=call.label,
                backend=call.backend,
                ok=False,
                error=reason,
                kind=kind,
                start_ms=clock.ms(began),
                ms=(ended - began) * 1000.0,
                queued_ms=(began - enqueued) * 1000.0,
            )
        ended = time.perf_counter()
        assert started is not None
        return Outcome(
            label=call.label,
            backend=call.backend,
            ok=True,
            value=value,
            start_ms=clock.ms(started),
            ms=(ended - started) * 1000.0,
            queued_ms=(started - enqueued) * 1000.0,
            results=_size(call, value),
            batched=call.shared is not None and call.shared(value),
        )
    raise AssertionError("unreachable")  # pragma: no cover - AsyncExitStack never swallows


def _restamp(
    first: Outcome[T], call: Call[T], clock: Clock, started: float, ended: float
) -> Outcome[T]:
    """Another call's outcome, timed as this call waited for it, marked shared."""
    return replace(
        first,
        label=call.label,
        start_ms=clock.ms(started),
        ms=(ended - started) * 1000.0,
        queued_ms=0.0,
        shared=True,
    )


async def _run_owned(
    call: Call[T],
    clock: Clock,
    local: asyncio.Semaphore | None,
    gauges: bool,
    flights: Flights | None,
    deadline: Deadline | None = None,
) -> Outcome[T]:
    """Run the call, or join an identical run of another request, or take a kept answer."""
    if flights is None or call.key is None:
        return await _run_one(call, clock, local, gauges, deadline)
    started = time.perf_counter()
    outcome, how = await flights.run(
        call.key, call.cache_ttl, lambda: _run_one(call, clock, local, gauges, deadline)
    )
    if how == "own":
        return outcome
    metrics.CACHE_EVENTS.labels(call.backend, "hit" if how == "cached" else "coalesced").inc()
    return _restamp(outcome, call, clock, started, time.perf_counter())


def _log_outcome(o: Outcome[Any]) -> None:
    if o.ok:
        count = "" if o.results is None else f", {o.results} results"
        log.info(
            "  %s %r ok%s in %.1f ms%s",
            o.backend,
            o.label,
            count,
            o.ms,
            " (shared)" if o.shared or o.batched else "",
        )
    else:
        log.info("  %s %r FAILED (%s) in %.1f ms: %s", o.backend, o.label, o.kind, o.ms, o.error)


async def fan_out(
    calls: Sequence[Call[T]],
    *,
    limit: int | None = None,
    clock: Clock | None = None,
    memo: Memo | None = None,
    on_outcome: Callable[[int, Outcome[T]], Awaitable[None] | None] | None = None,
    what: str = "queries",
    record_metrics: bool = True,
    flights: Flights | None = None,
    deadline: Deadline | None = None,
) -> list[Outcome[T]]:
    """Run `calls` concurrently; return their outcomes in call order. Never raises for a
    failed call; only cancellation (and a failing `on_outcome` hook) propagates.

    `memo` shares identical calls within a request, `flights` across requests. `deadline`
    (the request's) bounds each call's wait for a slot and caps its time to run.

    `record_metrics=False` keeps a fan-out of non-queries (the orchestrator's fulfillers)
    out of the per-query metrics."""
    if not calls:
        return []
    clock = clock or Clock()
    local = asyncio.Semaphore(limit) if limit is not None else None
    outcomes: list[Outcome[T] | None] = [None] * len(calls)
    backends = sorted({c.backend for c in calls})
    mode = "one after another" if limit == 1 else "in parallel"
    log.info(
        "executing %d %s %s (%s): %s",
        len(calls),
        what,
        mode,
        ", ".join(backends),
        [c.label for c in calls],
    )

    async def child(i: int, call: Call[T]) -> None:
        if memo is None or call.key is None:
            outcome = await _run_owned(call, clock, local, record_metrics, flights, deadline)
        else:
            started = time.perf_counter()
            outcome, how = await memo.run(
                call.key,
                None,
                lambda: _run_owned(call, clock, local, record_metrics, flights, deadline),
            )
            if how != "own":  # an identical call of this request answered it
                metrics.CACHE_EVENTS.labels(call.backend, "shared").inc()
                outcome = _restamp(outcome, call, clock, started, time.perf_counter())
        if record_metrics:
            _observe(outcome)
        outcomes[i] = outcome
        _log_outcome(outcome)
        if on_outcome is not None:
            res = on_outcome(i, outcome)
            if res is not None:
                await res

    async with asyncio.TaskGroup() as tg:
        for i, call in enumerate(calls):
            tg.create_task(child(i, call), name=f"fanout:{call.backend}:{call.label[:40]}")
    # a child can only end without an outcome if it was cancelled while its caller was not
    # (asyncio's TaskGroup then drops it silently): report it rather than lose its place
    done = [
        o if o is not None else Outcome.cancelled(c, "cancelled before it finished")
        for o, c in zip(outcomes, calls, strict=True)
    ]
    failed = sum(not o.ok for o in done)
    log.info("%d %s done: %d ok, %d failed", len(done), what, len(done) - failed, failed)
    return done


def _observe(o: Outcome[Any]) -> None:
    if o.shared:
        return
    metrics.QUERY_LATENCY.labels(o.backend, "ok" if o.ok else "error").observe(o.ms / 1000.0)
    if not o.ok:
        metrics.QUERY_ERRORS.labels(o.backend, o.kind or "unknown").inc()
