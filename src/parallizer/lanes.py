"""CPU work off the event loop, in lanes by size, so that a big plan never queues a small one.

Reading a plan (the Markdown parse, its mentions, their ranking) and resolving its names
against the code index cost time in proportion to the plan: ~10 ms for the example plan,
~0.3 s for a 250 KB one. In one queue, a small plan sent after four big ones waited for all
of their reading, then shared the GIL with their name resolution (1.5 s, against 0.12 s
alone). So the work goes to one of two lanes by the size of what it works on (the plan's
length): `small` (under `SMALL` characters) and `big`. Each lane has executors of its own:

* `in_thread(size, fn)`: work that needs this process's objects (the code index), in the
  lane's threads (two for the small lane, one for the big: GIL-bound work gains nothing from
  more, and each thread more takes the GIL from the event loop). The threads belong to the
  module: they hold nothing of an event loop or a service.
* `Lanes(N).in_process(size, fn, *args)`: picklable work in the lane's worker processes
  (`parallizer.workers`), off the GIL: N for the small lane, where every request goes; one
  for the big lane, started when the first big plan comes. A `Lanes` is owned by whoever
  owns the event loop's lifetime (the `Runtime`): `warm()` starts the small lane's workers
  at startup, `aclose()` ends them all and waits until they have exited (a job after it
  starts new ones: a lifespan may run again with the same runtime). Without processes
  (N = 0, none can start here, or the worker died mid-job) the job runs in the lane's thread
  instead; a dead worker is replaced for the next job.

Within a lane, first come first served: a big job waits for the big jobs before it, never
for a small one, and a small job never waits for a big one (it shares the cores, and the GIL
with at most one big thread).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from .errors import NoWorkers, WorkerDied
from .workers import WorkerPool

log = logging.getLogger("parallizer.lanes")

T = TypeVar("T")

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
        return {_SMALL: self._new(self.workers), _BIG: self._new(1)}

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
