"""The one retry policy for remote calls (web searches and LLM calls alike).

Only an overloaded provider is retried (`errors.Overloaded`): HTTP 429 (`RateLimited`) and 503, after the wait it
asked for (`Retry-After`), or after a short jittered exponential backoff when it named none.
A retry happens only while the wait still fits inside the call's deadline (its remaining time
budget), so a 429 is not a failed query unless the deadline runs out first. Anything else
(a 500, a hang, a dropped connection, a malformed body) fails at once: trying again would only
spend the time the user is waiting on.

`Backoff` is the one growing wait of the loops that poll or try again on their own (a waiter
for a shared lock or lease in Redis, an optimistic transaction that lost a race, landing a
run's cards once the feed is back): each `await backoff.sleep()` waits longer, up to a cap.

The fan-out applies it around each attempt (each attempt takes a fresh slot of the backend's
limit, which a `Retry-After` pauses for every caller); backends and the LLM client raise
`BackendError` and never retry on their own.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState, stop_never

from .errors import RETRYABLE, BackendError


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
