"""Reading a plan off the event loop and off the GIL: the Markdown parse, the plan's facts
and its ranked queries (`plan_for`) computed in a worker process.

Reading the example plan costs ~10 ms of Python; in a thread it holds the GIL that the event
loop needs, so under a burst of requests every request's first remote call waited for the
others' reading. In a process it runs on another core, and what comes back (the blocks, the
facts and the plan, ~13 KB pickled) takes under a millisecond to load. The results go into the
same per-document caches `read()` and `plan_for()` fill in process, so the fulfillers find the
very objects they would have computed.

One pool per process (like asyncio's default thread pool), started with the service (or on
first use) with the `spawn` method (the server has threads; a forked child could inherit a
held lock), and shut down with the service, waiting for its workers to exit: a uvicorn
worker is a multiprocessing child, which joins its children before the interpreter's own exit
would stop the pool. A pool that
breaks (a worker killed) is replaced, and that request reads in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ..document import Document
from ..document.markdown import Blocks
from ..document.reader import PlanFacts, read, remember
from .offline import Plan, plan_for, remember_plan

log = logging.getLogger("parallizer.planner")

_POOL: ProcessPoolExecutor | None = None
_LOCK = threading.Lock()
_NO_POOL: str | None = None
"""Why this process cannot run a pool (no working semaphores, say: some containers have no
/dev/shm); plans are then read in a thread, as with PARALLIZER_READ_WORKERS=0."""


def _read_text(
    text: str, cursor: tuple[int, int], max_queries: int, exclude: str | None
) -> tuple[Blocks, PlanFacts, Plan]:
    """In the worker: what `plan_for` computes for this document."""
    doc = Document(text, cursor)
    plan = plan_for(doc, max_queries, exclude)
    return doc.blocks, read(doc), plan


def _pool(workers: int) -> ProcessPoolExecutor:
    global _POOL
    with _LOCK:
        if _POOL is None:
            _POOL = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        return _POOL


def _discard(pool: ProcessPoolExecutor) -> None:
    global _POOL
    with _LOCK:
        if _POOL is pool:
            _POOL = None
    pool.shutdown(wait=False, cancel_futures=True)


async def read_plan(
    doc: Document, max_queries: int, exclude: str | None, *, workers: int
) -> None:
    """Fill `doc`'s reading caches (`read(doc)`, `plan_for(doc, max_queries, exclude)`): in
    a worker process when `workers` > 0, else in a thread."""
    global _NO_POOL
    if workers <= 0 or _NO_POOL is not None:
        await asyncio.to_thread(plan_for, doc, max_queries, exclude)
        return
    loop = asyncio.get_running_loop()
    pool: ProcessPoolExecutor | None = None
    try:
        pool = _pool(workers)
        work = loop.run_in_executor(pool, _read_text, doc.text, doc.cursor, max_queries, exclude)
    except BrokenProcessPool:
        work = None
    except (OSError, NotImplementedError, ImportError) as exc:
        _NO_POOL = f"{type(exc).__name__}: {exc}"
        log.warning("cannot start plan reader processes (%s); reading plans in a thread", _NO_POOL)
        await asyncio.to_thread(plan_for, doc, max_queries, exclude)
        return
    try:
        if work is None:
            raise BrokenProcessPool("the pool was broken before this read")
        blocks, facts, plan = await work
    except BrokenProcessPool:
        log.warning("the plan reader's worker process died; starting another")
        if pool is not None:
            _discard(pool)
        await asyncio.to_thread(plan_for, doc, max_queries, exclude)
        return
    remember(doc, blocks, facts)
    remember_plan(doc, max_queries, exclude, plan)


async def shutdown() -> None:
    """Stop the pool and wait until its workers have exited (each finishes what it holds);
    the next read starts another. Waiting matters: a uvicorn worker is a multiprocessing
    child, whose exit joins its children, and a pool left to stop on its own may never get
    its workers the word to exit."""
    global _POOL
    with _LOCK:
        pool, _POOL = _POOL, None
    if pool is not None:
        await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


def warm(workers: int) -> None:
    """Start the pool's workers now (their imports take ~0.3 s), not on a request."""
    if workers > 0:
        pool = _pool(workers)
        for _ in range(workers):
            pool.submit(int)
