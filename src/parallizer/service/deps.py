"""What every route depends on: the running `Service` (runtime, orchestrator, feed, runs)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Path, Request

from ..config import Settings
from ..context import Job
from ..errors import StoreUnavailable
from ..models import FulfillRequest
from ..orchestrator import Orchestrator
from ..planner.offline import read_and_plan
from ..runtime import Runtime
from .feed import FeedStore
from .runs import Run, RunManager
from .schemas import CachedFeed

if TYPE_CHECKING:
    from ..stores.redis_client import RedisLink


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
