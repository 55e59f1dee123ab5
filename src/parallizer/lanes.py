"""CPU work off the event loop, in lanes by size, so that a big plan never queues a small one.

Reading a plan (the Markdown parse, its mentions, their ranking) and resolving its names
against the code index cost time in proportion to the plan: ~10 ms for the example plan,
~0.3 s for a 250 KB one. In one queue, a small plan sent after four big ones waited for all
of their reading, then shared the GIL with their name resolution (1.5 s, against 0.12 s
alone). So the work goes to one of two lanes by the size of what it works on (the plan's
length): `small` (under `SMALL` characters) and `big`. Each lane has executors of its own:

* `in_process(size, fn, *args, workers=N)`: picklable work in the lane's worker processes,
  off the GIL (N for the small lane, where every request goes; one for the big lane, started
  when the first big plan comes). Without processes (N = 0, none can start here, or the
  lane's pool broke: a worker killed) the job runs in the lane's thread instead, and a
  broken pool is replaced for the next job;
* `in_thread(size, fn)`: work that needs this process's objects (the code index), in the
  lane's threads (two for the small lane, one for the big: GIL-bound work gains nothing from
  more, and each thread more takes the GIL from the event loop).

Within a lane, first come first served: a big job waits for the big jobs before it, never
for a small one, and a small job never waits for a big one (it shares the cores, and the GIL
with at most one big thread). The pools use the `spawn` method (the server has threads; a
forked child could inherit a held lock) and are shut down with the service (`shutdown`),
waiting for their workers to exit: a uvicorn worker is a multiprocessing child, which joins
its children before the interpreter's own exit would stop a pool.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any, TypeVar

log = logging.getLogger("parallizer.lanes")

T = TypeVar("T")

SMALL = 32_000
"""Work on fewer characters than this goes to the small lane (the example plan: 2,400)."""


class Lane:
    """One lane's executors: threads, and worker processes started when first asked for."""

    def __init__(self, name: str, threads: int, processes: int | None) -> None:
        """`processes`: the pool's size; None: as many as the caller asks for."""
        self.name = name
        self.threads = ThreadPoolExecutor(threads, thread_name_prefix=f"lane-{name}")
        self._processes = processes
        self._pool: ProcessPoolExecutor | None = None
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

    def pool(self, workers: int) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                size = self._processes or workers
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(size, mp_context=context)
            return self._pool

    def discard(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    async def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


_SMALL = Lane("small", threads=2, processes=None)
_BIG = Lane("big", threads=1, processes=1)
_NO_PROCESSES: str | None = None
"""Why this process cannot run worker processes (no working semaphores, say: some containers
have no /dev/shm); the work then runs in the lanes' threads."""


def lane(size: int) -> Lane:
    """The lane for work on `size` characters."""
    return _SMALL if size < SMALL else _BIG


async def in_thread(size: int, fn: Callable[[], T]) -> T:
    """`fn()` in a thread of the lane for `size` (the caller's context variables go along,
    as with `asyncio.to_thread`)."""
    return await lane(size).in_thread(fn)


async def in_process(size: int, fn: Callable[..., T], *args: Any, workers: int) -> T:
    """`fn(*args)` in a worker process of the lane for `size` (`fn` and its arguments and
    result must pickle); in the lane's thread when `workers` is 0, when no process can run
    here, or when the lane's pool broke (it is replaced for the next job)."""
    global _NO_PROCESSES
    chosen = lane(size)
    if workers <= 0 or _NO_PROCESSES is not None:
        return await in_thread(size, partial(fn, *args))
    loop = asyncio.get_running_loop()
    pool: ProcessPoolExecutor | None = None
    try:
        pool = chosen.pool(workers)
        work = loop.run_in_executor(pool, fn, *args)
    except BrokenProcessPool:
        work = None
    except (OSError, NotImplementedError, ImportError) as exc:
        _NO_PROCESSES = f"{type(exc).__name__}: {exc}"
        log.warning("cannot start worker processes (%s); working in threads", _NO_PROCESSES)
        return await in_thread(size, partial(fn, *args))
    try:
        if work is None:
            raise BrokenProcessPool("the pool was broken before this job")
        return await work
    except BrokenProcessPool:
        log.warning("a worker process of the %s lane died; starting another", chosen.name)
        if pool is not None:
            chosen.discard(pool)
        return await in_thread(size, partial(fn, *args))


def warm(workers: int) -> None:
    """Start the small lane's worker processes now (their imports take ~0.3 s), not on a
    request; the big lane's starts with the first big plan."""
    if workers > 0 and _NO_PROCESSES is None:
        pool = _SMALL.pool(workers)
        for _ in range(workers):
            pool.submit(int)


async def shutdown() -> None:
    """Stop the lanes' worker processes and wait until they have exited (each finishes what
    it holds); the next job starts others."""
    await _SMALL.shutdown()
    await _BIG.shutdown()
