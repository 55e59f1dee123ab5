"""The work behind each fulfill request, one run per user at a time.

Every request (sync, background or stream) becomes a `Run`: a task that drives
`Orchestrator.events()` and merges each fulfiller's cards into the user's feed as that
fulfiller finishes. A user has at most one live run: a new request *supersedes* the previous
one, which is cancelled (its fan-out is cancelled, so its remote calls are aborted and its
`rg` processes killed) before the new one begins. Results are merged under the run's feed
generation, so even a run that ignored its cancellation cannot overwrite newer cards.

The manager owns every run task: on shutdown it cancels and awaits them all, so no task or
subprocess outlives the service.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Literal

from ..context import Job
from ..models import Card, FulfillRequest
from ..orchestrator import CardEvent, DoneEvent, Event, FulfillerEvent, Orchestrator
from . import metrics
from .feed import FeedStore

log = logging.getLogger("parallizer.service")

Mode = Literal["sync", "background", "stream"]
End = Literal["done", "superseded", "deleted", "disconnected", "shutdown", "error"]

#: how long a new run waits for the run it supersedes to finish cancelling (killing its rg
#: processes, closing its connections) before it begins anyway
SUPERSEDE_WAIT = 2.0
#: how long shutdown waits for cancelled runs to wind down
SHUTDOWN_WAIT = 5.0


class ShuttingDown(RuntimeError):
    """No new run once shutdown began."""


class Busy(RuntimeError):
    """As many runs in flight as the process takes (`PARALLIZER_MAX_RUNS`)."""


class _EndOfRun:
    pass


END_OF_RUN = _EndOfRun()
"""Put on a run's listener queue when the run has ended, however it ended."""


@dataclass(eq=False)
class Run:
    user_id: str
    mode: Mode
    request: FulfillRequest
    job: Job
    listener: asyncio.Queue[Event | _EndOfRun] | None = None
    generation: int | None = None
    done: DoneEvent | None = None
    end: End | None = None
    began: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] = field(init=False)

    def stop(self, why: End) -> bool:
        """Cancel the run (if still going) and record why. Returns whether it was going."""
        if self.task.done():
            return False
        if self.end is None:
            self.end = why
        self.task.cancel()
        return True

    @property
    def superseded(self) -> bool:
        return self.end == "superseded"


class RunManager:
    def __init__(
        self, orchestrator: Orchestrator, store: FeedStore, max_runs: int = 1_000_000
    ) -> None:
        self.orchestrator = orchestrator
        self.max_runs = max_runs
        self.store = store
        self._latest: dict[str, Run] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def start(
        self,
        request: FulfillRequest,
        job: Job,
        *,
        mode: Mode,
        listener: asyncio.Queue[Event | _EndOfRun] | None = None,
    ) -> Run:
        """Start a run for the request's user, superseding the user's previous run.

        Synchronous on purpose: the user's latest run is replaced without an await in
        between, so concurrent requests of one user form a chain in arrival order."""
        if self._closing:
            raise ShuttingDown("the server is shutting down")
        user = request.user_id
        previous = self._latest.get(user)
        # a user's new request replaces their running one, so it never counts twice
        replacing = previous is not None and not previous.task.done()
        if len(self._tasks) - replacing >= self.max_runs:
            raise Busy(f"the server is busy: {len(self._tasks)} requests in flight; retry soon")
        run = Run(user_id=user, mode=mode, request=request, job=job, listener=listener)
        self._latest[user] = run
        run.task = asyncio.create_task(self._drive(run, previous), name=f"run:{mode}:{user[:40]}")
        self._tasks.add(run.task)
        run.task.add_done_callback(self._ended(run))
        return run

    async def cancel_user(self, user_id: str, why: End = "deleted") -> bool:
        """Stop the user's run, if any, and wait (bounded) for it to wind down."""
        run = self._latest.pop(user_id, None)
        if run is None or not run.stop(why):
            return False
        await asyncio.wait({run.task}, timeout=SUPERSEDE_WAIT)
        return True

    async def aclose(self) -> None:
        """Cancel every run and wait for them (and their rg processes) to be gone."""
        self._closing = True
        tasks = set(self._tasks)
        if not tasks:
            return
        log.info("cancelling %d running fulfill run(s)", len(tasks))
        for run in list(self._latest.values()):
            run.stop("shutdown")
        for t in tasks:
            t.cancel()
        _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_WAIT)
        if pending:  # pragma: no cover - a run that ignores cancellation for that long
            log.error("%d run(s) did not stop within %.1f s", len(pending), SHUTDOWN_WAIT)

    # --- the run itself ---------------------------------------------------------------------

    async def _drive(self, run: Run, previous: Run | None) -> None:
        metrics.RUNS_IN_FLIGHT.labels(run.mode).inc()
        try:
            if previous is not None and previous.stop("superseded"):
                log.info(
                    "user %s sent a new request: cancelling the previous %s run",
                    run.user_id,
                    previous.mode,
                )
                await asyncio.wait({previous.task}, timeout=SUPERSEDE_WAIT)
            run.generation = await self.store.begin(run.user_id)
            run.began.set()
            batch: list[Card] = []
            async with aclosing(self.orchestrator.events(run.job)) as events:
                async for event in events:
                    if isinstance(event, CardEvent):
                        batch.append(event.card)
                    elif isinstance(event, FulfillerEvent):
                        merged = await self.store.merge(
                            run.user_id, batch, generation=run.generation
                        )
                        if not merged.accepted:
                            log.info("late results of a superseded request dropped")
                        batch = []
                    elif isinstance(event, DoneEvent):
                        run.done = event
                    if run.listener is not None:
                        run.listener.put_nowait(event)
            run.end = run.end or "done"
        except asyncio.CancelledError:
            run.end = run.end or "shutdown"
            raise
        except Exception:
            run.end = "error"
            raise
        finally:
            run.began.set()
            if not run.superseded:  # a superseding run takes over the processing flag
                try:
                    await self.store.finish(run.user_id, generation=run.generation)
                except Exception:  # pragma: no cover - a store failing while we clean up
                    log.exception("feed store failed to mark the end of a run")
            if run.listener is not None:
                run.listener.put_nowait(END_OF_RUN)
            metrics.RUNS_IN_FLIGHT.labels(run.mode).dec()

    def _ended(self, run: Run) -> Callable[[asyncio.Task[None]], None]:
        def callback(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            if self._latest.get(run.user_id) is run:
                del self._latest[run.user_id]
            metrics.RUNS_ENDED.labels(run.mode, run.end or "shutdown").inc()
            if not task.cancelled() and (exc := task.exception()) is not None:
                # sync requests re-raise it (and their handler logs it); nobody else will
                if run.mode != "sync":
                    log.error("%s run of user %s failed", run.mode, run.user_id, exc_info=exc)

        return callback
