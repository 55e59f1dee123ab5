"""Per-backend concurrency limits that know how busy they are (for logs, metrics, tests).

Two kinds behind one small protocol (`ConcurrencyLimit`), so a limit shared by several
processes (Redis) can later be one more class:

* `Limiter`: a fixed limit (ripgrep: CPU-bound, the machine's cores are the capacity);
* `AdaptiveLimiter`: a limit that moves between 1 and a ceiling from what the provider says
  (remote APIs: web search, LLM). AIMD with a slow start:

  - grow while calls succeed within their normal latency and callers are waiting: +1 per
    success until the provider first says it is overloaded (slow start: doubles per round
    trip), then about +1 per round trip, and only about +1 per 8 round trips near the level
    that last overloaded the provider (rare, cheap probes once the capacity is known);
  - cut on overload: a 429 or 503 sets the limit to 90% of the calls that were in flight when
    the rejected call was sent (once per rejection wave: a rejection of a call sent before the
    last cut is old news); a timeout cuts by 10%, and so does a short-term latency more than
    three times the normal one (without ending slow start: latency also rises when this
    process is short of CPU);
  - a `Retry-After` pauses the whole backend: no caller starts a call until it has passed
    (calls in flight finish).

Each call holds a `Ticket` while it runs and tells it how the call went (`ok`, `overloaded`,
`timed_out`); a call that says nothing (any other failure) teaches the limit nothing.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from . import metrics


@dataclass(eq=False)
class Ticket:
    """One held slot: when it started, how busy the limit was, and how the call went."""

    started: float = field(default_factory=time.monotonic)
    in_flight: int = 0
    """Calls in flight when this one started, itself included."""
    limit: int = 1
    outcome: str | None = None  # "ok" | "overloaded" | "timeout" | None (teaches nothing)
    retry_after: float | None = None
    latency: float | None = None

    def ok(self) -> None:
        self.outcome = "ok"
        self.latency = time.monotonic() - self.started

    def overloaded(self, retry_after: float | None = None) -> None:
        self.outcome = "overloaded"
        self.retry_after = retry_after

    def timed_out(self) -> None:
        self.outcome = "timeout"
        self.latency = time.monotonic() - self.started


@runtime_checkable
class ConcurrencyLimit(Protocol):
    """What the fan-out needs of a limit: a slot to hold, a way to try for one, counters."""

    @property
    def name(self) -> str: ...

    @property
    def capacity(self) -> int:
        """The ceiling: the limit never goes above it."""
        ...

    @property
    def in_flight(self) -> int: ...

    @property
    def peak(self) -> int: ...

    @property
    def waiting(self) -> int: ...

    @property
    def limit(self) -> int: ...

    def slot(self) -> AbstractAsyncContextManager[Ticket]: ...

    def try_slot(self) -> AbstractAsyncContextManager[Ticket] | None: ...

    def latency_quantile(self, q: float) -> float | None: ...

    def paused_for(self) -> float: ...

    def reset_peak(self) -> None: ...


class Limiter:
    """A fixed limit with counters: in flight now, peak in flight, waiting now.

    One instance per backend per process, so every user's queries share the budget. Excess
    callers queue in FIFO order. Subclasses move `_limit` and may pause the whole backend."""

    def __init__(self, name: str, capacity: int, *, initial: int | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        if initial is not None and not 1 <= initial:
            raise ValueError("initial limit must be >= 1")
        self.name = name
        self.capacity = capacity
        self._limit = float(min(capacity, initial or capacity))
        self._waiters: deque[asyncio.Future[Ticket]] = deque()
        self._paused_until = 0.0
        self._wake_timer: asyncio.TimerHandle | None = None
        self.in_flight = 0
        self.peak = 0
        self.waiting = 0
        self._latencies: deque[float] = deque(maxlen=256)

    @property
    def limit(self) -> int:
        return max(1, min(self.capacity, int(self._limit)))

    def paused_for(self) -> float:
        """Seconds left of a backend-wide pause (a provider's Retry-After), 0 when none."""
        return max(0.0, self._paused_until - time.monotonic())

    # --- slots ------------------------------------------------------------------------------

    def _free(self) -> bool:
        return self.in_flight < self.limit and self.paused_for() == 0.0

    def _take(self) -> Ticket:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        return Ticket(in_flight=self.in_flight, limit=self.limit)

    async def _acquire(self) -> Ticket:
        if not self._waiters and self._free():
            return self._take()
        fut: asyncio.Future[Ticket] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self.waiting += 1
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.in_flight -= 1  # granted as we were cancelled: hand it on
                self._wake()
            raise
        finally:
            self.waiting -= 1
            if not fut.done():
                fut.cancel()
            try:
                self._waiters.remove(fut)
            except ValueError:
                pass

    def _wake(self) -> None:
        pause = self.paused_for()
        if pause > 0:
            if self._wake_timer is None and self._waiters:
                loop = asyncio.get_running_loop()
                self._wake_timer = loop.call_later(pause, self._timer_fired)
            return
        while self._waiters and self.in_flight < self.limit:
            fut = self._waiters.popleft()
            if fut.done():
                continue
            fut.set_result(self._take())

    def _timer_fired(self) -> None:
        self._wake_timer = None
        self._wake()

    def _release(self, ticket: Ticket) -> None:
        if ticket.outcome == "ok" and ticket.latency is not None:
            self._latencies.append(ticket.latency)
        self._learn(ticket)
        self.in_flight -= 1
        self._wake()

    def _learn(self, ticket: Ticket) -> None:
        """How the call went, for limits that adapt (a fixed limit learns nothing)."""

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Ticket]:
        """Hold a slot while the body runs (waiting for one in FIFO order)."""
        ticket = await self._acquire()
        try:
            yield ticket
        finally:
            self._release(ticket)

    def try_slot(self) -> AbstractAsyncContextManager[Ticket] | None:
        """A slot now if one is free and nobody waits for it, else None (for hedging)."""
        if self._waiters or not self._free():
            return None
        ticket = self._take()

        @asynccontextmanager
        async def held() -> AsyncIterator[Ticket]:
            try:
                yield ticket
            finally:
                self._release(ticket)

        return held()

    def latency_quantile(self, q: float) -> float | None:
        """The q-quantile of recent successful calls' latency (None until 20 are known)."""
        if len(self._latencies) < 20:
            return None
        ordered = sorted(self._latencies)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]

    def reset_peak(self) -> None:
        self.peak = self.in_flight

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.name!r}, {self.in_flight}/{self.limit}"
            f" (ceiling {self.capacity}), peak={self.peak})"
        )


class AdaptiveLimiter(Limiter):
    """A limit between 1 and `capacity` (the ceiling) learned from the provider: see the
    module docstring. `initial` is where it starts (the provider's capacity is unknown)."""

    LATENCY_TOLERANCE = 3.0  # short-term latency above this × the normal one is congestion
    CUT = 0.9  # a cut keeps this share
    PROBE_EVERY = 8  # round trips per +1 near the level that last overloaded the provider
    MAX_PAUSE = 60.0  # seconds: a provider asking for longer is not taken at its word

    def __init__(self, name: str, capacity: int, *, initial: int | None = None) -> None:
        super().__init__(name, capacity, initial=initial)
        self._slow_start = True
        self._overload_level: int | None = None
        """In-flight count that last overloaded the provider (None: unknown or outgrown)."""
        self._last_cut = 0.0
        self._normal: float | None = None  # normal latency: slow to rise, quick to fall
        self._recent: float | None = None  # short-term latency (EWMA)
        self.overloads = 0  # 429/503 answers seen (for logs, metrics, the bench)
        self.cuts = 0
        self.history: deque[tuple[float, int]] = deque(maxlen=4096)
        """(monotonic time, limit) at every change: the limit over time, for the bench."""
        self.history.append((time.monotonic(), self.limit))
        metrics.CONCURRENCY_LIMIT.labels(name).set(self.limit)

    def _set(self, value: float) -> None:
        before = self.limit
        self._limit = max(1.0, min(float(self.capacity), value))
        if self.limit != before:
            self.history.append((time.monotonic(), self.limit))
            metrics.CONCURRENCY_LIMIT.labels(self.name).set(self.limit)

    def _cut_to(self, value: float, ticket: Ticket, *, overload: bool = True) -> None:
        if ticket.started < self._last_cut:
            return  # sent before the last cut: old news, already acted on
        self._last_cut = time.monotonic()
        if overload:  # the provider said so: no more doubling
            self._slow_start = False
        self.cuts += 1
        self._set(min(self._limit, value))

    def _learn(self, ticket: Ticket) -> None:
        if ticket.outcome == "overloaded":
            self.overloads += 1
            if ticket.retry_after:
                pause = min(ticket.retry_after, self.MAX_PAUSE)
                self._paused_until = max(self._paused_until, time.monotonic() + pause)
            level = max(1, ticket.in_flight)
            if ticket.started >= self._last_cut:
                self._overload_level = level
            self._cut_to(math.floor(level * self.CUT), ticket)
            return
        if ticket.latency is None:
            return
        if ticket.outcome == "timeout":
            self._cut_to(self._limit * self.CUT, ticket)
            return
        sample = ticket.latency
        self._recent = sample if self._recent is None else self._recent * 0.8 + sample * 0.2
        if self._normal is None or sample < self._normal:
            self._normal = sample
        else:
            self._normal += (sample - self._normal) * 0.01
        if self._recent > self.LATENCY_TOLERANCE * max(self._normal, 0.005):
            # latency also rises when this process is short of CPU, which more calls would not
            # worsen at the provider: cut, but keep growing as fast as before
            self._cut_to(self._limit * self.CUT, ticket, overload=False)
            self._recent = self._normal  # judge the new limit afresh
            return
        if not self._waiters and ticket.in_flight * 2 < ticket.limit:
            return  # the limit is not what holds callers back: no reason to raise it
        if self._slow_start:
            self._set(self._limit + 1)
        elif self._overload_level is not None and self._limit + 1 >= self._overload_level:
            self._set(self._limit + 1 / (self._limit * self.PROBE_EVERY))
            if self._limit >= self._overload_level + 2:
                self._overload_level = None  # outgrown: the provider has more room now
        else:
            self._set(self._limit + 1 / self._limit)
