"""Admission and concurrency control. How we treat a provider under pressure: per-backend
concurrency limits that know how busy they are (for logs, metrics, tests), the one retry
policy for remote calls, and the one `Backoff` of the loops that poll or try again on their
own; and how our own CPU work is admitted: in lanes by size (`Lanes`, `in_thread`), so that a
big plan never queues a small one.

Two kinds behind one small protocol (`ConcurrencyLimit`); a limit shared by several processes
through Redis (`stores.redis_limits`) is one more class of it:

* `Limiter`: a fixed limit (ripgrep: CPU-bound, the machine's cores are the capacity);
* `AdaptiveLimiter`: a limit that moves between 1 and a ceiling from what the provider says
  and how fast it answers (remote APIs: web search, LLM). It starts at a modest value
  (`PARALLIZER_*_START_CONCURRENT`) and finds the provider's capacity:

  - grow while calls succeed in normal latency and the limit holds callers back: +1 per
    success (slow start: doubles per round trip) until the provider first says it is
    overloaded or latency first rises, then +1 per round trip, and only +1 per 8 round trips
    near the level that last overloaded it (rare, cheap probes once the capacity is known).
    A provider that refuses what it cannot take (429 at once: a hosted API such as
    Perplexity) lets slow start count every call in flight that has run twice the network
    round trip to it without being refused (its client's fastest connection set-up; 0.1 s
    until known), so a burst does not wait an answer per doubling (and it triples while
    twice as many calls wait as it lets run);
  - normal latency is what the fast calls take when nothing makes them wait: the fast quarter
    of the last 8 successes (a provider that queues delays every call, the fast ones too;
    ordinary variation does not move them much), at its lowest, less what the calls waited
    for this process's own event loop (`LoopLag`: a busy process makes every call look slow,
    and more calls would not worsen that at the provider). Growing stops while the fast
    calls take more than 1.5 x the normal latency, so the limit does not grow into a
    provider that queues instead of refusing (latency rising with concurrency): it holds
    near where the queue begins. The normal latency never rises because calls got slower
    under a higher limit; only a cut that did not make calls faster moves it up (below);
  - cut on overload: a 429 or 503 sets the limit to 90% of the calls that were in flight when
    the rejected call was sent (once per rejection wave: a rejection of a call sent before the
    last cut is old news); a timeout cuts 10%; latency blowing up (the fast calls at more than
    2.5 x the normal latency) cuts to 75% of the most calls in flight the slow ones were sent
    with, and so does a limit held for 32 successes in a row. When the calls sent after such
    a cut are not faster, the provider got slower by itself: their latency becomes the normal
    one, and the limit grows again;
  - a `Retry-After` pauses the whole backend: no caller starts a call until it has passed
    (calls in flight finish).

Each call holds a `Ticket` while it runs and tells it how the call went (`ok`, `overloaded`,
`timed_out`); a call that says nothing (any other failure) teaches the limit nothing.

The one retry policy (`RetryPolicy`, `DEFAULT_POLICY`), for web searches and LLM calls alike:
only an overloaded provider is retried (`errors.Overloaded`): HTTP 429 (`RateLimited`) and
503, after the wait it asked for (`Retry-After`), or after a short jittered exponential
backoff when it named none. A retry happens only while the wait still fits inside the call's
deadline (its remaining time budget), so a 429 is not a failed query unless the deadline runs
out first. Anything else (a 500, a hang, a dropped connection, a malformed body) fails at
once: trying again would only spend the time the user is waiting on. The fan-out applies it
around each attempt (each attempt takes a fresh slot of the backend's limit, which a
`Retry-After` pauses for every caller); backends and the LLM client raise `BackendError` and
never retry on their own.

`Backoff` is the one growing wait of the loops that poll or try again on their own (a waiter
for a shared lock or lease in Redis, an optimistic transaction that lost a race, landing a
run's cards once the feed is back): each `await backoff.sleep()` waits longer, up to a cap.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import random
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, TypeVar, runtime_checkable

from tenacity import AsyncRetrying, RetryCallState, stop_never

from . import metrics
from .errors import RETRYABLE, BackendError, NoWorkers, WorkerDied
from .workers import WorkerPool

log = logging.getLogger("parallizer.limits")

T = TypeVar("T")


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
    taken: bool = False
    """Still running when a refusal would have come back: the provider took it."""

    def ok(self) -> None:
        self.outcome = "ok"
        self.latency = time.monotonic() - self.started

    def overloaded(self, retry_after: float | None = None) -> None:
        self.outcome = "overloaded"
        self.retry_after = retry_after
        self.latency = time.monotonic() - self.started

    def timed_out(self) -> None:
        self.outcome = "timeout"
        self.latency = time.monotonic() - self.started


class LoopLag:
    """How late this process's event loop runs its callbacks now: a ticker every `EVERY`
    seconds measures its own lateness; the figure jumps to a new high at once and decays by
    half in about a third of a second. One per event loop (`LoopLag.of()`), which it holds
    only weakly (a closed loop is not kept alive by its ticker)."""

    EVERY = 0.05
    DECAY = 0.9

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = weakref.ref(loop)
        self.seconds = 0.0
        self._schedule(loop)

    @classmethod
    def of(cls) -> LoopLag:
        """The running loop's (started on first use)."""
        loop = asyncio.get_running_loop()
        lag = _LAGS.get(loop)
        if lag is None:
            lag = _LAGS[loop] = cls(loop)
        return lag

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        due = loop.time() + self.EVERY
        loop.call_at(due, self._tick, due)

    def _tick(self, due: float) -> None:
        loop = self._loop()
        if loop is None or loop.is_closed():
            return
        late = max(0.0, loop.time() - due)
        self.seconds = max(late, self.seconds * self.DECAY)
        self._schedule(loop)


_LAGS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopLag] = weakref.WeakKeyDictionary()


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

    MAX_PAUSE = 60.0  # seconds: a provider asking for longer is not taken at its word

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

    def pause(self, seconds: float) -> None:
        """No caller starts a call for `seconds` (at most MAX_PAUSE); calls in flight finish."""
        seconds = min(seconds, self.MAX_PAUSE)
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    # --- slots ------------------------------------------------------------------------------

    def _free(self) -> bool:
        return self.in_flight < self.limit and self.paused_for() == 0.0

    def _take(self) -> Ticket:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        ticket = Ticket(in_flight=self.in_flight, limit=self.limit)
        self._started(ticket)
        return ticket

    def _started(self, ticket: Ticket) -> None:
        """A call holds its slot now (for limits that watch calls while they run)."""

    def _finished(self, ticket: Ticket) -> None:
        """A call gave its slot back."""

    async def acquire(self) -> Ticket:
        """Wait for a slot (first come first served); `give_back` returns it."""
        if not self._waiters and self._free():
            return self._take()
        fut: asyncio.Future[Ticket] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self.waiting += 1
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.give_back(fut.result())  # granted as we were cancelled: hand it on
            raise
        finally:
            self.waiting -= 1
            if not fut.done():
                fut.cancel()
            try:
                self._waiters.remove(fut)
            except ValueError:
                pass

    def try_acquire(self) -> Ticket | None:
        """A slot now if one is free and nobody waits for it, else None."""
        if self._waiters or not self._free():
            return None
        return self._take()

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

    def learn(self, ticket: Ticket) -> Change | None:
        """Take in how the call went (`ticket.outcome`); what it changed in the limit."""
        if ticket.outcome == "ok" and ticket.latency is not None:
            self._latencies.append(ticket.latency)
        return None

    def give_back(self, ticket: Ticket) -> None:
        """The call's slot is free again: the next waiter gets it."""
        self._finished(ticket)
        self.in_flight -= 1
        self._wake()

    def _release(self, ticket: Ticket) -> None:
        try:
            self.learn(ticket)
        finally:  # the slot goes back whatever the learning did
            self.give_back(ticket)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Ticket]:
        """Hold a slot while the body runs (waiting for one in FIFO order)."""
        ticket = await self.acquire()
        try:
            yield ticket
        finally:
            self._release(ticket)

    def try_slot(self) -> AbstractAsyncContextManager[Ticket] | None:
        """A slot now if one is free and nobody waits for it, else None (for hedging)."""
        ticket = self.try_acquire()
        if ticket is None:
            return None

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


@dataclass(frozen=True, slots=True)
class Change:
    """What an adaptive limit learned since it was last asked, for a limit shared by several
    processes (`stores.redis_limits`), which applies the same to the shared value: first
    `grow`, then (when the call that taught it was sent after the last cut) `cut_to`."""

    grow: float = 0.0
    cut_to: float | None = None
    slow_start: bool = True
    """False: slow start is over (a 429, or the first sign of a queue)."""
    pause: float = 0.0
    """Seconds no call may start (the provider's Retry-After)."""


class AdaptiveLimiter(Limiter):
    """A limit between 1 and `capacity` (the ceiling) learned from the provider: see the
    module docstring. `initial` is where it starts (the provider's capacity is unknown)."""

    WINDOW = 8  # recent successes whose latency is judged together
    FAST = 0.25  # the quantile of the window that stands for "how fast calls are now"
    GROW_TOLERANCE = 1.5  # grow only while calls are at most this × the normal latency
    LATENCY_TOLERANCE = 2.5  # beyond this × the normal latency: congestion, cut
    CUT = 0.9  # a cut on a 429/503 or a timeout keeps this share
    LATENCY_CUT = 0.75  # a cut on latency keeps this share: enough to tell who was slow
    REBASE = 0.9  # after a latency cut, calls at least this × as slow: the provider is slower
    HOLD_PROBE = 32  # successes held in a row (latency a little high): cut once, to see why
    PROBE_EVERY = 8  # round trips per +1 near the level that last overloaded the provider
    TAKEN_AFTER = 0.1  # seconds without a refusal: the provider took the call (while the
    # round trip to it is not known yet; then twice that, at least TAKEN_MIN)
    TAKEN_MIN = 0.02
    LATE = 1.5  # a call running longer than this × the normal latency is late: a queue

    def __init__(
        self,
        name: str,
        capacity: int,
        *,
        initial: int | None = None,
        refuses: bool = False,
        round_trip: Callable[[], float | None] | None = None,
    ) -> None:
        """`refuses`: the provider turns away what it cannot take at once (429) instead of
        queueing it (a hosted API with per-key rate limits), so slow start need not wait
        for answers: see `_taken`. `round_trip`: the network round trip to the provider
        (its client's fastest connection set-up), None while unknown."""
        super().__init__(name, capacity, initial=initial)
        self.refuses = refuses
        self.round_trip = round_trip
        self._running: dict[Ticket, asyncio.TimerHandle | None] = {}
        """Calls holding a slot, oldest first (with `refuses`: each with its timer)."""
        self._refused_within = 0.0  # twice the slowest refusal seen
        self._slow_start = True
        self._overload_level: int | None = None
        """In-flight count that last overloaded the provider (None: unknown or outgrown)."""
        self._last_cut = 0.0
        self._window: deque[tuple[float, int]] = deque(maxlen=self.WINDOW)
        """(latency, calls in flight when it was sent) of the last successful calls sent
        since the last cut."""
        self._normal: float | None = None
        """Normal latency: what the fast calls take when nothing makes them wait."""
        self._cut_at: float | None = None
        """The fast latency that made the last latency cut (None: that cut is judged)."""
        self._holds = 0
        self._grown = 0.0  # growth since the last `learn`
        self._cut: float | None = None  # the cut since the last `learn`
        self._paused = 0.0  # the pause asked for since the last `learn`
        self.overloads = 0  # 429/503 answers seen (for logs, metrics, the bench)
        self.cuts = 0
        self.history: deque[tuple[float, int]] = deque(maxlen=4096)
        """(monotonic time, limit) at every change: the limit over time, for the bench."""
        self.history.append((time.monotonic(), self.limit))
        metrics.CONCURRENCY_LIMIT.labels(name).set(self.limit)

    @property
    def normal_latency(self) -> float | None:
        return self._normal

    def _set(self, value: float) -> None:
        before = self.limit
        self._limit = max(1.0, min(float(self.capacity), value))
        if self.limit != before:
            self.history.append((time.monotonic(), self.limit))
            metrics.CONCURRENCY_LIMIT.labels(self.name).set(self.limit)

    def _grow(self, delta: float) -> None:
        before = self._limit
        self._set(self._limit + delta)
        self._grown += self._limit - before

    def _cut_to(self, value: float, ticket: Ticket, *, overload: bool = True) -> bool:
        if ticket.started < self._last_cut:
            return False  # sent before the last cut: old news, already acted on
        self._last_cut = time.monotonic()
        if overload:  # the provider said so: no more doubling
            self._slow_start = False
        self.cuts += 1
        self._window.clear()  # judge the new limit afresh
        self._holds = 0
        self._set(min(self._limit, value))
        self._cut = self._limit
        return True

    def pause(self, seconds: float) -> None:
        super().pause(seconds)
        self._paused = max(self._paused, min(seconds, self.MAX_PAUSE))

    # --- slow start for a provider that refuses: calls taken, not answered ------------------

    def _started(self, ticket: Ticket) -> None:
        timer = None
        if self.refuses and self._slow_start:
            loop = asyncio.get_running_loop()
            timer = loop.call_later(self._taken_wait(), self._taken, ticket)
        self._running[ticket] = timer

    def _finished(self, ticket: Ticket) -> None:
        timer = self._running.pop(ticket, None)
        if timer is not None:
            timer.cancel()

    def _taken_wait(self) -> float:
        """How long a call runs without a refusal before it counts as taken: a refusal needs
        one network round trip, so twice the round trip to the provider (at least
        `TAKEN_MIN`; `TAKEN_AFTER` while the round trip is not known), plus what this
        process's event loop runs late (it reads the refusal); never less than twice the
        slowest refusal seen; at most 1 s."""
        rtt = self.round_trip() if self.round_trip is not None else None
        wait = self.TAKEN_AFTER if rtt is None else max(self.TAKEN_MIN, 2 * rtt)
        return min(1.0, max(wait + LoopLag.of().seconds, self._refused_within))

    def _taken(self, ticket: Ticket) -> None:
        """A provider that refuses does so at once (429), before it does any work: a call
        still running a network round trip or two after it was sent was taken
        (`_taken_wait`). In slow start every call still running counts as a success for
        growing once per that wait, so the limit doubles per wait rather than per answer (a
        burst of a hundred searches at 1 s each does not wait three answers for a limit that
        starts at 10), while the limit holds callers back and no call in flight is late
        (`LATE` x the normal latency: a queue after all)."""
        self._running[ticket] = None
        if not self._slow_start or ticket.outcome is not None or ticket.started < self._last_cut:
            return
        if self._normal is not None:
            oldest = next(iter(self._running))
            age = time.monotonic() - oldest.started - LoopLag.of().seconds
            if age > self.LATE * self._normal:
                return
        if self._in_demand(ticket):
            ticket.taken = True
            # a refusal costs the provider nothing and us one quick retry: while at least
            # twice as many calls wait as the limit lets run, each taken call makes room for
            # two more (the limit triples per wait), else for one (it doubles)
            self._grow(2 if len(self._waiters) >= 2 * self._limit else 1)
            self._wake()
        loop = asyncio.get_running_loop()  # still running: it counts again in a while
        self._running[ticket] = loop.call_later(self._taken_wait(), self._taken, ticket)

    def follow(self, value: float, *, slow_start: bool, pause: float = 0.0) -> None:
        """Take a shared limit's state: a limit shared by several processes is one value
        that every process follows (and one slow start, one pause)."""
        self._set(value)
        self._slow_start = self._slow_start and slow_start
        if pause > 0:
            Limiter.pause(self, pause)

    def learn(self, ticket: Ticket) -> Change | None:
        super().learn(ticket)
        was_slow_start = self._slow_start
        self._learn(ticket)
        change = Change(
            grow=self._grown, cut_to=self._cut, slow_start=self._slow_start, pause=self._paused
        )
        self._grown, self._cut, self._paused = 0.0, None, 0.0
        if change == Change(slow_start=was_slow_start):
            return None  # nothing learned
        return change

    def _learn(self, ticket: Ticket) -> None:
        if ticket.outcome == "overloaded":
            self.overloads += 1
            if ticket.latency is not None:  # a refusal takes this long: wait longer
                self._refused_within = min(1.0, max(self._refused_within, 2 * ticket.latency))
            if ticket.retry_after:
                self.pause(ticket.retry_after)
            level = max(1, ticket.in_flight)
            if ticket.started >= self._last_cut:
                self._overload_level = level
            self._cut_to(math.floor(level * self.CUT), ticket)
            return
        if ticket.latency is None:
            return
        if ticket.outcome == "timeout":
            self._cut_to(self._limit * self.CUT, ticket, overload=False)
            return
        if ticket.started < self._last_cut:
            return  # it ran at the level before the cut: nothing to say of this one
        verdict = self._judge_latency(ticket)
        if verdict == "cut":
            # to a share of the most calls in flight the slow calls were sent with (as a 429
            # does), so that the calls after the cut tell whether fewer calls are faster; slow
            # start goes on (a 429 ends it: the provider's word, not a guess)
            fast, level = self._fast()
            if self._cut_to(level * self.LATENCY_CUT, ticket, overload=False):
                self._cut_at = fast
            return
        if verdict == "hold":
            return
        if not self._in_demand(ticket):
            return  # the limit is not what holds callers back: no reason to raise it
        if self._slow_start:
            if not ticket.taken:  # grown for once already, when it was taken
                self._grow(1)
        elif self._overload_level is not None and self._limit + 1 >= self._overload_level:
            self._grow(1 / (self._limit * self.PROBE_EVERY))
            if self._limit >= self._overload_level + 2:
                self._overload_level = None  # outgrown: the provider has more room now
        else:
            self._grow(1 / self._limit)

    def _in_demand(self, ticket: Ticket) -> bool:
        """Whether the limit holds callers back: some wait, or the call was sent with at least
        half the limit in use."""
        return bool(self._waiters) or ticket.in_flight * 2 >= ticket.limit

    def _fast(self) -> tuple[float, int]:
        """The window's fast latency, and the most calls in flight any of them was sent with."""
        latencies = sorted(lat for lat, _ in self._window)
        return latencies[int(self.FAST * (len(latencies) - 1))], max(lvl for _, lvl in self._window)

    def _judge_latency(self, ticket: Ticket) -> str:
        """Judge the latency of the last successful calls: "grow", "hold" or "cut".

        The fast quarter of the last calls stands for how fast calls are now: a provider that
        queues delays every call, the fast ones too, while ordinary variation (a long answer,
        a slow query) does not move them much. The normal latency is the lowest that figure
        has been. It never rises because calls got slower under a higher limit (that is the
        very queueing to detect), only when a cut did not make the calls after it faster:
        then the provider got slower by itself. A limit held for `HOLD_PROBE` successes is
        cut once to find out which it is. The first sign of a queue ends slow start, as the
        first 429 does."""
        assert ticket.latency is not None
        # what the provider took: less what the call waited for this process's event loop
        # (latency also rises when this process is short of CPU, and more calls would not
        # worsen that at the provider)
        latency = max(ticket.latency - LoopLag.of().seconds, ticket.latency / 2)
        self._window.append((latency, ticket.in_flight))
        if len(self._window) < self.WINDOW:
            # too few to judge: the first calls grow (slow start), the first after a cut wait
            return "grow" if self._normal is None else "hold"
        fast, _ = self._fast()
        if self._cut_at is not None:
            if fast >= self.REBASE * self._cut_at:  # fewer calls were not faster
                self._normal = fast
            self._cut_at = None
        if self._normal is None or fast < self._normal:
            self._normal = fast
        normal = max(self._normal, 0.005)
        if fast > self.LATENCY_TOLERANCE * normal:
            return "cut"
        if fast > self.GROW_TOLERANCE * normal:
            self._slow_start = False
            self._holds += 1
            # held a while: cut once to find out whether fewer calls are faster
            return "cut" if self._holds >= self.HOLD_PROBE else "hold"
        self._holds = 0
        return "grow"


# --- the one retry policy, and the one back-off ------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    retryable: tuple[type[BackendError], ...] = RETRYABLE
    """The errors tried again (`errors.Overloaded`: HTTP 429 and 503)."""
    max_attempts: int = 10
    backoff_initial: float = 0.1
    backoff_max: float = 2.0
    margin: float = 0.05
    """Seconds the retried call must still have after its wait."""

    def wait(self, exc: BaseException | None, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        ra = getattr(exc, "retry_after", None)
        if ra is not None:
            return max(0.0, float(ra))
        # "full jitter": spread callers that were turned away together
        return random.uniform(0.0, min(self.backoff_max, self.backoff_initial * 2 ** (attempt - 1)))

    def should_retry(
        self, exc: BaseException | None, attempt: int, deadline: float | None
    ) -> bool:
        """Whether to try again after failed attempt `attempt`, given the deadline
        (`time.monotonic()` seconds, None: no deadline)."""
        if not isinstance(exc, self.retryable):
            return False
        if attempt >= self.max_attempts:
            return False
        if deadline is None:
            return True
        return self.wait(exc, attempt) + self.margin < deadline - time.monotonic()

    def retrying(
        self,
        deadline: Callable[[], float | None],
        before_sleep: Callable[[RetryCallState], None] | None = None,
    ) -> AsyncRetrying:
        """Attempts for `async for attempt in ...: with attempt: ...` (the last error is
        re-raised). `deadline()` is read after each failure: the call's clock may start late
        (after its first slot)."""

        def exc_of(state: RetryCallState) -> BaseException | None:
            return state.outcome.exception() if state.outcome is not None else None

        return AsyncRetrying(
            stop=stop_never,  # should_retry knows the attempts and the deadline
            retry=lambda s: self.should_retry(exc_of(s), s.attempt_number, deadline()),
            wait=lambda s: self.wait(exc_of(s), s.attempt_number),
            before_sleep=before_sleep,
            reraise=True,
        )


DEFAULT_POLICY = RetryPolicy()


class Backoff:
    """Waits that grow by `factor` from `first` up to `most` seconds; `jitter` spreads each
    over [0.5, 1.5) of itself, so callers turned away together do not come back together."""

    __slots__ = ("delay", "factor", "jitter", "most")

    def __init__(
        self, first: float, most: float, *, factor: float = 2.0, jitter: bool = False
    ) -> None:
        self.delay = first
        self.most = most
        self.factor = factor
        self.jitter = jitter

    def next(self) -> float:
        """The next wait (seconds)."""
        wait = self.delay * (0.5 + random.random()) if self.jitter else self.delay
        self.delay = min(self.most, self.delay * self.factor)
        return wait

    async def sleep(self) -> None:
        await asyncio.sleep(self.next())


# --- CPU work in lanes by size ----------------------------------------------------------------
#
# CPU work off the event loop, in lanes by size, so that a big plan never queues a small one.
#
# Reading a plan (the Markdown parse, its mentions, their ranking) and resolving its names
# against the code index cost time in proportion to the plan: ~10 ms for the example plan,
# ~0.3 s for a 250 KB one. In one queue, a small plan sent after four big ones waited for all
# of their reading, then shared the GIL with their name resolution (1.5 s, against 0.12 s
# alone). So the work goes to one of two lanes by the size of what it works on (the plan's
# length): `small` (under `SMALL` characters) and `big`. Each lane has executors of its own:
#
# * `in_thread(size, fn)`: work that needs this process's objects (the code index), in the
#   lane's threads (two for the small lane, one for the big: GIL-bound work gains nothing from
#   more, and each thread more takes the GIL from the event loop). The threads belong to the
#   module: they hold nothing of an event loop or a service.
# * `Lanes(N).in_process(size, fn, *args)`: picklable work in the lane's worker processes
#   (`parallizer.workers`), off the GIL: N for the small lane, where every request goes; one
#   for the big lane, started when the first big plan comes. A `Lanes` is owned by whoever
#   owns the event loop's lifetime (the `Runtime`): `warm()` starts the small lane's workers
#   at startup, `aclose()` ends them all and waits until they have exited (a job after it
#   starts new ones: a lifespan may run again with the same runtime). Without processes
#   (N = 0, none can start here, or the worker died mid-job) the job runs in the lane's thread
#   instead; a dead worker is replaced for the next job.
#
# Within a lane, first come first served: a big job waits for the big jobs before it, never
# for a small one, and a small job never waits for a big one (it shares the cores, and the GIL
# with at most one big thread).

SMALL = 32_000
"""Work on fewer characters than this goes to the small lane (the example plan: 2,400)."""


class Lane:
    """One lane's threads."""

    def __init__(self, name: str, threads: int) -> None:
        self.name = name
        self.threads = ThreadPoolExecutor(threads, thread_name_prefix=f"lane-{name}")
        self._lock = threading.Lock()
        self.waiting = 0
        """Jobs waiting for one of the lane's threads."""

    async def in_thread(self, fn: Callable[[], T]) -> T:
        ctx = contextvars.copy_context()
        started = False

        def begin() -> None:
            """Once, when the job starts or when its caller gives up on it before."""
            nonlocal started
            with self._lock:
                if not started:
                    started = True
                    self.waiting -= 1

        def run() -> T:
            begin()
            return ctx.run(fn)

        with self._lock:
            self.waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.threads, run)
        except asyncio.CancelledError:
            begin()  # a job cancelled before it started never will
            raise


_SMALL = Lane("small", threads=2)
_BIG = Lane("big", threads=1)


def lane(size: int) -> Lane:
    """The lane for work on `size` characters."""
    return _SMALL if size < SMALL else _BIG


async def in_thread(size: int, fn: Callable[[], T]) -> T:
    """`fn()` in a thread of the lane for `size` (the caller's context variables go along,
    as with `asyncio.to_thread`)."""
    return await lane(size).in_thread(fn)


class Lanes:
    """The lanes' worker processes: `workers` for the small lane, one for the big lane (none
    at all when `workers` is 0); `preload`: the modules each worker imports when it starts."""

    def __init__(
        self, workers: int, *, preload: Sequence[str] = (), python: str = sys.executable
    ) -> None:
        self.workers = workers
        self._new = partial(WorkerPool, preload=preload, python=python)
        self._pools = self._new_pools()
        self.no_processes: str | None = None
        """Why no worker process can run here; the work then runs in the lanes' threads."""

    def _new_pools(self) -> dict[Lane, WorkerPool]:
        if self.workers <= 0:
            return {}
        # a small job takes milliseconds: one given up on (a superseded request) finishes
        # rather than costing its worker; a big one may take seconds, and is stopped
        return {_SMALL: self._new(self.workers, finish_cancelled=True), _BIG: self._new(1)}

    def pool(self, size: int) -> WorkerPool | None:
        """The worker processes of the lane for `size` (None: that lane works in threads)."""
        return None if self.no_processes is not None else self._pools.get(lane(size))

    async def in_process(self, size: int, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a worker process of the lane for `size` (`fn` and its arguments
        and result must pickle); in the lane's thread when there are no worker processes,
        none can start here, or the worker died mid-job (another starts for the next)."""
        chosen = lane(size)
        pool = self.pool(size)
        if pool is None:
            return await chosen.in_thread(partial(fn, *args))
        try:
            return await pool.call(fn, *args)
        except NoWorkers as exc:
            self._no_processes(exc)
        except WorkerDied:
            if pool.closed:  # the lanes were closed under it: no thread starts it again
                raise
            log.warning("a worker process of the %s lane died; starting another", chosen.name)
        return await chosen.in_thread(partial(fn, *args))

    def _no_processes(self, exc: NoWorkers) -> None:
        if self.no_processes is None:
            self.no_processes = str(exc)
            log.warning("%s; working in threads", exc)

    async def warm(self) -> None:
        """Start the small lane's worker processes now (their imports take ~0.3 s), not on a
        request; the big lane's starts with the first big plan."""
        pool = self.pool(0)
        if pool is not None:
            try:
                await pool.start()
            except NoWorkers as exc:
                self._no_processes(exc)

    async def aclose(self) -> None:
        """End the lanes' worker processes and wait until they have exited. A job that was
        running in one fails (`WorkerDied`); a job after this starts new ones (a service
        whose lifespan runs again with the same runtime, as a test harness may do)."""
        pools, self._pools = self._pools, self._new_pools()
        await asyncio.gather(*(p.aclose() for p in pools.values()))

    async def __aenter__(self) -> Lanes:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
