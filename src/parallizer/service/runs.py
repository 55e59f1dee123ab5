"""The running service: the work behind each fulfill request, one run per user at a time,
the per-user feed its cards land in, and the `Service` every route depends on (`ServiceDep`:
runtime, orchestrator, feed, runs).

Every request (sync, background or stream) becomes a `Run`: a task that drives
`Orchestrator.events()` and merges each fulfiller's cards into the user's feed as that
fulfiller finishes. A user has at most one live run: a new request *supersedes* the previous
one, which is cancelled (its fan-out is cancelled, so its remote calls are aborted and its
`rg` processes killed) before the new one begins. Results are merged under the run's feed
generation, so even a run that ignored its cancellation cannot overwrite newer cards.

The manager owns every run task: on shutdown it cancels and awaits them all, so no task or
subprocess outlives the service.

The per-user feed: the cards a user's editor shows, kept between requests. A feed holds at
most `max_per_type` cards of each type, newest first. A card sent again with
its `metadata.id` (improved), or a near duplicate of a card already kept (same type, similar
header and text by rapidfuzz), replaces the older one: `merge_cards`, the one merge the
memory and the Redis store (`feed_redis.py`) both apply. Idle feeds expire after `ttl`
seconds.

Every request of a user gets a *generation* from `begin()`; results are merged with their
generation and only the latest generation of that user is accepted, so a superseded
request's late results can never overwrite newer ones. `processing` is true while the
latest generation runs.

`FeedStore` is the protocol (async, so a Redis store can implement it); `MemoryFeedStore` is
the in-process implementation. Its methods never await while they read or change a feed, so
each one is atomic on the event loop: concurrent requests for the same user cannot interleave
inside a merge.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol, runtime_checkable

from cachetools import TTLCache
from fastapi import Depends, Path, Request
from rapidfuzz import fuzz, process, utils

from ..config import Settings
from ..errors import Busy, ShuttingDown, StoreUnavailable
from ..fulfillers.base import Job
from ..limits import Backoff
from ..models import Card, CardType, FulfillRequest
from ..orchestrator import CardEvent, DoneEvent, EarlyEvent, Event, FulfillerEvent, Orchestrator
from ..planner.offline import read_and_plan
from ..runtime import Runtime
from . import metrics
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


# --- the merge every feed store applies ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MergeResult:
    accepted: bool
    """False when the generation is not the user's latest (a superseded request)."""
    changed: bool = False
    """The feed's cards (or their order) changed."""
    added: int = 0
    duplicates: int = 0
    replaced: int = 0
    evicted: int = 0


def dedupe_key(card: Card) -> str:
    """What two cards are compared on: header and text, lower-cased, punctuation folded."""
    return utils.default_process(f"{card.header}\n{card.text}")


def _match(key: str, others: list[str], similarity: float) -> int | None:
    """Index of the most similar of `others` at or above the cut-off, or None."""
    if not others:
        return None
    hit = process.extractOne(
        key, others, scorer=fuzz.ratio, processor=None, score_cutoff=similarity
    )
    return None if hit is None else hit[2]


def merge_cards(
    old: Sequence[Card],
    old_keys: Sequence[str],
    cards: Sequence[Card],
    *,
    max_per_type: int,
    similarity: float,
) -> tuple[list[Card], list[str], MergeResult]:
    """The feed after `cards` (best first) joined `old` (with its `dedupe_key`s)."""
    keys: dict[CardType, list[str]] = {}  # the new cards' keys, by type
    where: dict[CardType, list[int]] = {}  # ... and their index in `new`
    new: list[tuple[Card, str]] = []
    ids: dict[str, int] = {}  # a new card's metadata.id -> its index in `new`
    duplicates = 0
    for card in cards:
        key = dedupe_key(card)
        ident = card.metadata.id
        if (ident and ident in ids) or _match(key, keys.get(card.type, []), similarity) is not None:
            duplicates += 1
            continue
        keys.setdefault(card.type, []).append(key)
        where.setdefault(card.type, []).append(len(new))
        if ident:
            ids[ident] = len(new)
        new.append((card, key))
    kept_old: list[tuple[Card, str]] = []
    replacing: set[int] = set()  # new cards that stand in for an old one
    for card, key in zip(old, old_keys, strict=True):
        same = ids.get(card.metadata.id) if card.metadata.id else None
        if same is not None:
            replacing.add(same)
            continue
        hit = _match(key, keys.get(card.type, []), similarity)
        if hit is not None:
            replacing.add(where[card.type][hit])
            continue
        kept_old.append((card, key))
    per_type: Counter[CardType] = Counter()
    out: list[tuple[Card, str]] = []
    added = replaced = evicted = 0
    combined = [(c, k, i) for i, (c, k) in enumerate(new)] + [(c, k, -1) for c, k in kept_old]
    for card, key, i in combined:
        if per_type[card.type] >= max_per_type:
            evicted += 1
            continue
        per_type[card.type] += 1
        if i >= 0:
            if i in replacing:
                replaced += 1
            else:
                added += 1
        out.append((card, key))
    merged = [c for c, _ in out]
    result = MergeResult(
        accepted=True,
        changed=merged != list(old),
        added=added,
        duplicates=duplicates,
        replaced=replaced,
        evicted=evicted,
    )
    return merged, [k for _, k in out], result


# --- the stores ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedSnapshot:
    cards: list[Card]
    last_updated: float | None
    """Wall-clock time (epoch seconds) the feed's cards last changed; None if never."""
    processing: bool


@runtime_checkable
class FeedStore(Protocol):
    async def begin(self, user_id: str) -> int:
        """Start a new request for the user: returns its generation, marks processing."""
        ...

    async def merge(self, user_id: str, cards: Sequence[Card], *, generation: int) -> MergeResult:
        """Add cards (best first) made by the request of `generation`, if it is the latest."""
        ...

    async def finish(self, user_id: str, *, generation: int | None) -> None:
        """The request of `generation` ended (None: one that never began); processing stops
        if it is the latest."""
        ...

    async def get(self, user_id: str) -> FeedSnapshot | None:
        """The user's feed, or None for a user without one (never seen or expired)."""
        ...

    async def clear(self, user_id: str) -> bool:
        """Forget the user's cards; results of requests already begun are refused. Returns
        whether the user had cards or a request running."""
        ...

    async def users(self) -> int: ...

    async def aclose(self) -> None: ...


@dataclass
class _Feed:
    generation: int
    cards: list[Card] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # normalised text, parallel to cards
    processing: bool = False
    last_updated: float | None = None


class MemoryFeedStore:
    def __init__(
        self,
        *,
        max_per_type: int = 3,
        ttl: float = 3600.0,
        max_users: int = 100_000,
        similarity: float = 90.0,
        timer: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_per_type < 1:
            raise ValueError("max_per_type must be >= 1")
        self.max_per_type = max_per_type
        self.similarity = similarity
        self._clock = clock
        # TTLCache: an entry not written for `ttl` seconds is gone; every touch re-writes it,
        # so only idle users expire. Past max_users the least recently used goes first.
        self._feeds: TTLCache[str, _Feed] = TTLCache(maxsize=max_users, ttl=ttl, timer=timer)
        # one counter for all users: a generation is never reused, even after expiry
        self._generations = itertools.count(1)

    # --- the protocol -----------------------------------------------------------------------

    async def begin(self, user_id: str) -> int:
        gen = next(self._generations)
        feed = self._feeds.get(user_id)
        if feed is None:
            feed = _Feed(generation=gen)
        feed.generation = gen
        feed.processing = True
        self._touch(user_id, feed)
        return gen

    async def merge(self, user_id: str, cards: Sequence[Card], *, generation: int) -> MergeResult:
        feed = self._feeds.get(user_id)
        if feed is None:
            # expired or evicted while its request ran: the request is still the latest one
            # unless a newer generation was handed out since
            feed = _Feed(generation=generation, processing=True)
        if generation != feed.generation:
            metrics.FEED_EVENTS.labels("stale").inc(len(cards) or 1)
            return MergeResult(accepted=False)
        result = self._merge(feed, cards)
        if result.changed:
            feed.last_updated = self._clock()
        self._touch(user_id, feed)
        for event in ("added", "duplicates", "replaced", "evicted"):
            n = getattr(result, event)
            if n:
                metrics.FEED_EVENTS.labels(event).inc(n)
        return result

    async def finish(self, user_id: str, *, generation: int | None) -> None:
        feed = self._feeds.get(user_id)
        if feed is not None and (generation is None or generation == feed.generation):
            feed.processing = False

    async def get(self, user_id: str) -> FeedSnapshot | None:
        feed = self._feeds.get(user_id)
        if feed is None:
            metrics.FEED_EVENTS.labels("miss").inc()
            return None
        metrics.FEED_EVENTS.labels("hit").inc()
        self._touch(user_id, feed)  # a polling editor keeps its feed alive
        return FeedSnapshot(
            cards=list(feed.cards), last_updated=feed.last_updated, processing=feed.processing
        )

    async def clear(self, user_id: str) -> bool:
        feed = self._feeds.get(user_id)
        had = feed is not None and bool(feed.cards or feed.processing)
        # a tombstone with a fresh generation: results of requests already begun are refused
        self._touch(
            user_id,
            _Feed(generation=next(self._generations), last_updated=self._clock() if had else None),
        )
        metrics.FEED_EVENTS.labels("cleared").inc()
        return had

    async def users(self) -> int:
        self._feeds.expire()
        return len(self._feeds)

    async def aclose(self) -> None:
        self._feeds.clear()
        metrics.FEED_USERS.set(0)

    # --- internals --------------------------------------------------------------------------

    def _touch(self, user_id: str, feed: _Feed) -> None:
        self._feeds[user_id] = feed
        metrics.FEED_USERS.set(len(self._feeds))

    def _merge(self, feed: _Feed, cards: Sequence[Card]) -> MergeResult:
        feed.cards, feed.keys, result = merge_cards(
            feed.cards, feed.keys, cards, max_per_type=self.max_per_type, similarity=self.similarity
        )
        return result


def memory_store_from_settings(settings: Settings) -> MemoryFeedStore:
    return MemoryFeedStore(max_per_type=settings.feed_max_per_type, ttl=settings.feed_ttl)


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
        read in a worker process (`planner.offline.read_and_plan`) once the run has started,
        while its first LLM calls are out (`Job.reader`)."""
        job = await asyncio.to_thread(self.orchestrator.prepare, request, read=False)
        s = self.settings
        job.reader = partial(
            read_and_plan, job.document, s.max_queries, job.plan_relpath, lanes=self.runtime.lanes
        )
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


async def get_service(request: Request) -> Service:
    """The app's service. A coroutine: FastAPI runs a plain function dependency in its
    thread pool, a thread hop per request (under 50 requests at once, 39 new threads and
    their GIL handoffs in the first 0.45 s)."""
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
