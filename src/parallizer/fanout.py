"""The one fan-out primitive every fulfiller (and the orchestrator) uses.

`fan_out(calls)` runs awaitables concurrently and returns one `Outcome` per call, in the
order of the calls:

* bounded: each call holds a slot of its backend's process-wide `Limiter` while it runs,
  and the fan-out itself can be capped (`limit=1` is the serial "before" of the seed);
* a per-call timeout, measured from the moment the call holds its slot (queueing for a
  slot is reported as `queued_ms`, not charged to the call);
* every outcome is a value, ok with a result or failed with a kind and a reason, and its
  timing relative to the request's `Clock`, so overlap is visible;
* structured: calls run in an `asyncio.TaskGroup`; cancelling the caller cancels every
  call, and backends clean up (kill their subprocesses) on cancellation;
* de-duplicated: calls with the same `key` sharing a `Memo` (one request) run once; the
  others wait for the first and are marked `shared`. Across requests, a process-wide
  `Flights` lets concurrent identical calls share one run while it is in flight, and keeps
  answers for calls that ask for it (`cache_ttl`, e.g. web searches).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Generic, TypeVar

from . import metrics
from .errors import BackendError
from .limits import Limiter
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
    limiter: Limiter | None = None
    timeout: float | None = None
    key: Hashable | None = None
    size: Callable[[T], int | None] | None = None
    """How many results the value holds, for logs and timings (default: `len` if sized;
    None: not a count)."""
    cache_ttl: float | None = None
    """With a `Flights`: keep a successful answer this many seconds for identical calls."""


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
        )


class Memo:
    """Request-scoped single-flight table: one run per distinct call key."""

    def __init__(self) -> None:
        self._futures: dict[Hashable, asyncio.Future[Outcome[Any]]] = {}

    def claim(self, key: Hashable) -> tuple[bool, asyncio.Future[Outcome[Any]]]:
        """(owner?, future): the first claimant owns the run, later ones wait on the future."""
        fut = self._futures.get(key)
        if fut is not None:
            return False, fut
        fut = asyncio.get_running_loop().create_future()
        self._futures[key] = fut
        return True, fut

    def __len__(self) -> int:
        return len(self._futures)


class _NoGauge:
    def inc(self) -> None: ...
    def dec(self) -> None: ...


_NO_GAUGE = _NoGauge()


@dataclass(eq=False)
class _Flight:
    task: asyncio.Task[Outcome[Any]]
    waiters: int = 0


class Flights:
    """Process-wide single flight and answer cache, keyed by `Call.key`.

    A call whose key is already running joins that run instead of starting another (it holds
    no backend slot while it waits); the run belongs to its waiters and is cancelled (its
    subprocess killed) when the last of them is cancelled. Successful answers of calls with a
    `cache_ttl` are kept that long (at most `max_entries`, least recently used out first).
    """

    def __init__(
        self, max_entries: int = 2048, *, timer: Callable[[], float] = time.monotonic
    ) -> None:
        """`timer`: the clock of the answer cache (seconds; a test passes its own)."""
        self._timer = timer
        self._flying: dict[Hashable, _Flight] = {}
        self._cache: OrderedDict[Hashable, tuple[float, Outcome[Any]]] = OrderedDict()
        self.max_entries = max_entries

    def cached(self, key: Hashable) -> Outcome[Any] | None:
        hit = self._cache.get(key)
        if hit is None:
            return None
        if hit[0] < self._timer():
            del self._cache[key]
            return None
        self._cache.move_to_end(key)
        return hit[1]

    def _landed(
        self, key: Hashable, flight: _Flight, ttl: float | None, task: asyncio.Task[Any]
    ) -> None:
        if self._flying.get(key) is flight:
            del self._flying[key]
        if not ttl or task.cancelled() or task.exception() is not None:
            return
        outcome = task.result()
        if outcome.ok:
            self._cache[key] = (self._timer() + ttl, outcome)
            self._cache.move_to_end(key)
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)

    async def run(
        self,
        key: Hashable,
        ttl: float | None,
        start: Callable[[], Coroutine[Any, Any, Outcome[T]]],
    ) -> tuple[Outcome[T], str]:
        """(outcome, how): how is "own" (this call ran it), "joined" or "cached"."""
        if ttl and (hit := self.cached(key)) is not None:
            return hit, "cached"
        while True:
            flight = self._flying.get(key)
            how = "joined"
            if flight is None:
                flight = _Flight(asyncio.get_running_loop().create_task(start()))
                self._flying[key] = flight
                flight.task.add_done_callback(partial(self._landed, key, flight, ttl))
                how = "own"
            flight.waiters += 1
            try:
                # asyncio.wait: only our own cancellation raises here, not the run's
                await asyncio.wait({flight.task})
            except asyncio.CancelledError:
                flight.waiters -= 1
                if flight.waiters == 0 and not flight.task.done():
                    if self._flying.get(key) is flight:
                        del self._flying[key]  # a dying run takes no new waiters
                    flight.task.cancel()
                    await asyncio.wait({flight.task})  # gone (subprocess reaped) on return
                raise
            flight.waiters -= 1
            if not flight.task.cancelled():
                return flight.task.result(), how
            # its last other waiter left just as we joined: run it afresh

    async def aclose(self) -> None:
        tasks = [f.task for f in self._flying.values() if not f.task.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self._flying.clear()
        self._cache.clear()

    def __len__(self) -> int:
        return len(self._flying)


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


def _past_deadline(
    call: Call[Any], deadline: Deadline, clock: Clock, enqueued: float
) -> Outcome[Any]:
    now = time.perf_counter()
    return Outcome(label=call.label, backend=call.backend, ok=False, kind="timeout",
                   error=f"the request's deadline ({deadline.seconds:g}s) passed before it ran",
                   start_ms=clock.ms(now), queued_ms=(now - enqueued) * 1000.0)  # fmt: skip


async def _run_one(
    call: Call[T],
    clock: Clock,
    local: asyncio.Semaphore | None,
    gauges: bool,
    deadline: Deadline | None = None,
) -> Outcome[T]:
    enqueued = time.perf_counter()
    waiting = metrics.QUERIES_WAITING.labels(call.backend) if gauges else _NO_GAUGE
    running = metrics.QUERIES_IN_FLIGHT.labels(call.backend) if gauges else _NO_GAUGE
    async with AsyncExitStack() as stack:
        waiting.inc()
        try:
            async with asyncio.timeout(deadline.remaining() if deadline else None):
                if local is not None:
                    await stack.enter_async_context(local)
                if call.limiter is not None:
                    await stack.enter_async_context(call.limiter.slot())
        except TimeoutError:
            assert deadline is not None
            return _past_deadline(call, deadline, clock, enqueued)
        finally:
            waiting.dec()
        timeout, capped = call.timeout, False
        if deadline is not None and (timeout is None or deadline.remaining() < timeout):
            timeout, capped = deadline.remaining(), True
            if timeout <= 0:
                return _past_deadline(call, deadline, clock, enqueued)
        started = time.perf_counter()
        running.inc()
        try:
            async with asyncio.timeout(timeout):
                value = await call.run()
        except Exception as exc:
            ended = time.perf_counter()
            kind, reason = _describe(exc, timeout)
            if capped and isinstance(exc, TimeoutError):
                assert deadline is not None
                reason = f"the request's deadline ({deadline.seconds:g}s) passed while it ran"
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
                start_ms=clock.ms(started),
                ms=(ended - started) * 1000.0,
                queued_ms=(started - enqueued) * 1000.0,
            )
        finally:
            running.dec()
        ended = time.perf_counter()
        return Outcome(
            label=call.label,
            backend=call.backend,
            ok=True,
            value=value,
            start_ms=clock.ms(started),
            ms=(ended - started) * 1000.0,
            queued_ms=(started - enqueued) * 1000.0,
            results=_size(call, value),
        )
    raise AssertionError("unreachable")  # pragma: no cover - AsyncExitStack never swallows


async def _run_shared(call: Call[T], clock: Clock, fut: asyncio.Future[Outcome[T]]) -> Outcome[T]:
    started = time.perf_counter()
    # asyncio.wait (not `await fut`) so a cancelled owner is not mistaken for our own cancel
    await asyncio.wait({fut})
    ended = time.perf_counter()
    metrics.CACHE_EVENTS.labels(call.backend, "shared").inc()
    if fut.cancelled():
        return Outcome.cancelled(
            call,
            "the identical query it waited for was cancelled",
            start_ms=clock.ms(started),
            ms=(ended - started) * 1000.0,
            shared=True,
        )
    return _restamp(fut.result(), call, clock, started, ended)


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
            " (shared)" if o.shared else "",
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
    (the request's) bounds each call's wait for a slot and caps its timeout.

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
        owner, fut = (True, None) if (memo is None or call.key is None) else memo.claim(call.key)
        if not owner:
            assert fut is not None
            outcome = await _run_shared(call, clock, fut)
        else:
            try:
                outcome = await _run_owned(call, clock, local, record_metrics, flights, deadline)
            except BaseException:
                if fut is not None and not fut.done():
                    fut.cancel()
                raise
            if fut is not None:
                fut.set_result(outcome)
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
