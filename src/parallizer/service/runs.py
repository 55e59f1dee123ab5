"""The running service: the work behind each fulfill request, one run per user at a time,
and the `Service` every route depends on (`ServiceDep`: runtime, orchestrator, feed, runs).

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
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Depends, Path, Request

from ..config import Settings
from ..errors import Busy, ShuttingDown, StoreUnavailable
from ..fulfillers.base import Job
from ..limits import Backoff
from ..models import Card, FulfillRequest
from ..orchestrator import CardEvent, DoneEvent, EarlyEvent, Event, FulfillerEvent, Orchestrator
from ..planner.offline import read_and_plan
from ..runtime import Runtime
from . import metrics
from .feed import FeedStore
from .schemas import CachedFeed

if TYPE_CHECKING:
    from ..stores.redis_client import RedisLink

log = logging.getLogger("parallizer.service")

Mode = Literal["sync", "background", "stream"]
End = Literal["done", "superseded", "deleted", "disconnected", "shutdown", "error"]

#: how long a new run waits for the run it supersedes to finish cancelling (killing its rg
#: processes, closing its connections) before it begins anyway
SUPERSEDE_WAIT = 2.0
#: how long a finished run's cards wait for an unavailable feed to come back
LAND_WITHIN = 120.0
#: how long shutdown waits for cancelled runs to wind down
SHUTDOWN_WAIT = 5.0


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
    detached: bool = False
    """Its client hung up: the run goes on alone, its cards land in the feed."""
    feed_error: str | None = None
    """Why the feed could not be reached (shared state down), if it could not."""
    pending: list[list[Card]] = field(default_factory=list)
    """Batches of cards the feed could not take yet (landed later, see `_land_later`)."""
    task: asyncio.Task[None] = field(init=False)

    def detach(self) -> None:
        """Nobody waits for this run any more (it is not stopped: it lands in the feed)."""
        self.detached = True

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
        self,
        orchestrator: Orchestrator,
        store: FeedStore,
        max_runs: int = 1_000_000,
        *,
        announce: Callable[[str, int], Awaitable[None]] | None = None,
    ) -> None:
        """`announce(user, generation)`: tell other workers a request began (they stop
        their older run of the user: see `superseded_elsewhere`)."""
        self.orchestrator = orchestrator
        self.max_runs = max_runs
        self.store = store
        self.announce = announce
        self._latest: dict[str, Run] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._landing: set[asyncio.Task[None]] = set()
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

    def superseded_elsewhere(self, user_id: str, generation: int) -> None:
        """Another worker began a request of this user: stop ours if it is older."""
        run = self._latest.get(user_id)
        if run is not None and run.generation is not None and run.generation < generation:
            if run.stop("superseded"):
                log.info("user %s sent a newer request to another worker: cancelled", user_id)

    async def aclose(self) -> None:
        """Cancel every run and wait for them (and their rg processes) to be gone."""
        self._closing = True
        for t in self._landing:
            t.cancel()
        tasks = set(self._tasks) | self._landing
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
            try:
                run.generation = await self.store.begin(run.user_id)
            except StoreUnavailable as exc:
                # no feed: the cards still reach a waiting client, they cannot land
                run.feed_error = str(exc)
                log.warning("user %s's request runs without a feed: %s", run.user_id, exc)
            else:
                if self.announce is not None:
                    await self.announce(run.user_id, run.generation)
            run.began.set()
            batch: list[Card] = []
            async with aclosing(self.orchestrator.events(run.job)) as events:
                async for event in events:
                    if isinstance(event, CardEvent):
                        batch.append(event.card)
                    elif isinstance(event, EarlyEvent | FulfillerEvent):
                        # a fulfiller's early cards land as they come; its improved ones
                        # (the same ids) replace them when it is done
                        if run.generation is not None:
                            run.pending.append(batch)
                            await self._land(run)
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
            if run.pending and run.end == "done" and not self._closing:
                # the feed was away: land what it missed when it is back (bounded)
                landing = asyncio.create_task(self._land_later(run), name="land-later")
                self._landing.add(landing)
                landing.add_done_callback(self._landing.discard)
            elif not run.superseded:  # a superseding run takes over the processing flag
                try:
                    await self.store.finish(run.user_id, generation=run.generation)
                except StoreUnavailable as exc:
                    log.warning("could not mark the end of user %s's run: %s", run.user_id, exc)
                except Exception:  # pragma: no cover - a store failing while we clean up
                    log.exception("feed store failed to mark the end of a run")
            if run.listener is not None:
                run.listener.put_nowait(END_OF_RUN)
            metrics.RUNS_IN_FLIGHT.labels(run.mode).dec()

    async def _land(self, run: Run) -> bool:
        """Merge the run's pending batches into the feed, oldest first. False if the feed
        is unavailable (they stay pending)."""
        assert run.generation is not None
        while run.pending:
            try:
                merged = await self.store.merge(
                    run.user_id, run.pending[0], generation=run.generation
                )
            except StoreUnavailable as exc:
                if run.feed_error is None:
                    log.warning("user %s's cards wait for the feed: %s", run.user_id, exc)
                run.feed_error = str(exc)
                return False
            run.pending.pop(0)
            if not merged.accepted:
                log.info("late results of a superseded request dropped")
                run.pending.clear()
        run.feed_error = None
        return True

    async def _land_later(self, run: Run) -> None:
        """Retry landing a finished run's cards until the feed is back (or LAND_WITHIN)."""
        backoff = Backoff(0.2, 2.0)
        deadline = asyncio.get_running_loop().time() + LAND_WITHIN
        while asyncio.get_running_loop().time() < deadline:
            await backoff.sleep()
            if await self._land(run):
                try:
                    await self.store.finish(run.user_id, generation=run.generation)
                except StoreUnavailable:
                    pass  # the next request of the user resets `processing`
                log.info("user %s's cards landed once the feed was back", run.user_id)
                return
        log.error("user %s's cards were lost: the feed stayed unavailable", run.user_id)

    def _ended(self, run: Run) -> Callable[[asyncio.Task[None]], None]:
        def callback(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            if self._latest.get(run.user_id) is run:
                del self._latest[run.user_id]
            metrics.RUNS_ENDED.labels(run.mode, run.end or "shutdown").inc()
            if not task.cancelled() and (exc := task.exception()) is not None:
                # a waiting sync request re-raises it (and its handler logs it)
                if run.mode != "sync" or run.detached:
                    log.error("%s run of user %s failed", run.mode, run.user_id, exc_info=exc)

        return callback


# --- the running service, what every route depends on ---------------------------------


@dataclass
class Service:
    settings: Settings
    runtime: Runtime
    orchestrator: Orchestrator
    store: FeedStore
    runs: RunManager
    redis: RedisLink | None = None
    """The shared state's connection, when PARALLIZER_REDIS_URL is set."""

    async def active_users(self) -> int:
        """Users with a feed; 0 while the feed cannot be reached (/health says why)."""
        try:
            return await self.store.users()
        except StoreUnavailable:
            return 0

    async def prepare(self, request: FulfillRequest) -> Job:
        """Unknown fulfillers (422), document size (413), paths outside the roots (403).

        Path resolution touches the file system, so it runs off the event loop; the plan is
        read in a worker process (`planner.offline.read_and_plan`)."""
        job = await asyncio.to_thread(self.orchestrator.prepare, request, read=False)
        s = self.settings
        lanes = self.runtime.lanes
        await read_and_plan(job.document, s.max_queries, job.plan_relpath, lanes=lanes)
        return job

    def start(self, request: FulfillRequest, job: Job, **kw: Any) -> Run:
        """A new run; `Busy` or `ShuttingDown` (503, by the service's error handler)."""
        return self.runs.start(request, job, **kw)

    async def feed(self, user_id: str) -> CachedFeed:
        snap = await self.store.get(user_id)
        if snap is None:
            return CachedFeed()
        return CachedFeed(
            cards=snap.cards, last_updated=snap.last_updated, processing=snap.processing
        )


def get_service(request: Request) -> Service:
    svc = getattr(request.app.state, "service", None)
    if not isinstance(svc, Service):  # pragma: no cover - the lifespan did not run
        raise RuntimeError("the service was not started (lifespan not run)")
    return svc


ServiceDep = Annotated[Service, Depends(get_service)]
UserId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=256,
        pattern=r"^[^\x00-\x1f\x7f-\x9f]+$",
        description="any text without control characters",
    ),
]
