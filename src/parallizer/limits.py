"""A per-backend concurrency limit that also knows how busy it is (for logs, metrics, tests)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Limiter:
    """An `asyncio.Semaphore` with counters: in flight now, peak in flight, waiting now.

    One instance per backend per process, so every user's queries share the budget (the
    seed's semaphore, made observable). Excess callers queue in FIFO order.
    """

    def __init__(self, name: str, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.name = name
        self.capacity = capacity
        self._sem = asyncio.Semaphore(capacity)
        self.in_flight = 0
        self.peak = 0
        self.waiting = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        self.waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self.waiting -= 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            yield
        finally:
            self.in_flight -= 1
            self._sem.release()

    def reset_peak(self) -> None:
        self.peak = self.in_flight

    def __repr__(self) -> str:
        return f"Limiter({self.name!r}, {self.in_flight}/{self.capacity}, peak={self.peak})"
