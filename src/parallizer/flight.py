"""The one single flight: one run of a piece of work, awaited by everyone who wants it.

`Flight` is one run (an asyncio task) and the count of those waiting for it. Who owns it is
an explicit choice:

* `owner="waiters"` (the default): the run belongs to the callers waiting for it. One of them
  cancelled leaves it to the others; the last one cancelled cancels the run and waits until it
  is gone (its subprocess killed and reaped) before its own cancellation goes on. Used by the
  fan-out (`fanout.Flights`, `Memo`), the rg batcher (`backends.ripgrep.Batcher`) and the
  shared web cache (`stores.shared_cache.SharedFlights`).
* `owner="store"`: the run belongs to whoever started it (the code index store builds a
  scope): a waiter that goes away never cancels it, the next caller will want it; the store
  cancels it when it closes (`SingleFlight.aclose`).

`SingleFlight` keeps at most one live flight per key: `run(key, start)` joins the key's flight
or starts one; a failure of the run reaches every waiter (each gets the same exception).
A flight abandoned by its last waiter takes no new waiters: the next caller starts afresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable, Iterable, Iterator
from typing import Any, Generic, Literal, TypeVar

T = TypeVar("T")
Owner = Literal["waiters", "store"]


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel every task of `tasks` not done yet and wait until each is over (its cleanup
    ran: subprocesses killed and reaped). The one way an owner stops the work it started."""
    pending = [t for t in tasks if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.wait(pending)


class Flight(Generic[T]):
    """One run and its waiters."""

    __slots__ = ("abandoned", "owner", "task", "waiters")

    def __init__(self, task: asyncio.Task[T], owner: Owner = "waiters") -> None:
        self.task = task
        self.owner = owner
        self.waiters = 0
        self.abandoned = False
        """Its last waiter went away and cancelled it (only when the waiters own it)."""

    @property
    def live(self) -> bool:
        """It may still take a waiter: not over, not abandoned."""
        return not self.task.done() and not self.abandoned

    async def join(self) -> None:
        """Wait until the run is over, however it ends; only the caller's own cancellation
        raises here. The last waiter of a waiter-owned run cancels it on its way out."""
        self.waiters += 1
        try:
            # asyncio.wait: the run's own exception or cancellation does not raise here
            await asyncio.wait({self.task})
        except asyncio.CancelledError:
            self.waiters -= 1
            if self.waiters == 0 and self.owner == "waiters" and not self.task.done():
                self.abandoned = True
                self.task.cancel()
                await asyncio.wait({self.task})  # gone (its subprocess reaped) on return
            raise
        self.waiters -= 1

    async def wait(self) -> T:
        """The run's value; its exception if it failed; `CancelledError` if it was cancelled
        by someone else than this caller."""
        await self.join()
        return self.result()

    def result(self) -> T:
        """`wait`'s answer once the run is over."""
        if self.task.cancelled():
            raise asyncio.CancelledError("the shared run was cancelled")
        return self.task.result()


class SingleFlight(Generic[T]):
    """At most one live `Flight` per key."""

    def __init__(self, *, owner: Owner = "waiters") -> None:
        self.owner: Owner = owner
        self._flights: dict[Hashable, Flight[T]] = {}

    def get(self, key: Hashable) -> Flight[T] | None:
        """The key's flight, if one is under way or has just landed (until its done callbacks
        have run, a landed run still answers: its value is not kept anywhere else yet)."""
        flight = self._flights.get(key)
        return flight if flight is not None and not flight.abandoned else None

    def start(
        self, key: Hashable, start: Callable[[], Coroutine[Any, Any, T]], *, name: str | None = None
    ) -> tuple[Flight[T], bool]:
        """(the key's flight, whether this call started it): a new run of `start()` unless
        one is under way."""
        flight = self.get(key)
        if flight is not None:
            return flight, False
        task = asyncio.get_running_loop().create_task(start(), name=name)
        flight = self._flights[key] = Flight(task, self.owner)

        def landed(_: asyncio.Task[T]) -> None:
            if self._flights.get(key) is flight:
                del self._flights[key]

        task.add_done_callback(landed)
        return flight, True

    async def run(
        self,
        key: Hashable,
        start: Callable[[], Coroutine[Any, Any, T]],
        *,
        landed: Callable[[asyncio.Task[T]], object] | None = None,
    ) -> tuple[T, bool]:
        """(the value of the key's run, whether this call joined another's run rather than
        starting it). A run cancelled by another hand than the caller's (its waiters gone just
        as this call joined, the store closing) is started afresh for a waiter-owned flight.
        `landed(task)` is called when a run this call started is over."""
        while True:
            flight, started = self.start(key, start)
            if started and landed is not None:
                flight.task.add_done_callback(landed)
            await flight.join()
            if flight.task.cancelled() and self.owner == "waiters":
                if self._flights.get(key) is flight:
                    del self._flights[key]
                continue
            return flight.result(), not started

    def tasks(self) -> Iterator[asyncio.Task[T]]:
        return (f.task for f in self._flights.values())

    async def aclose(self) -> None:
        """Cancel every run and wait until they are over."""
        await cancel_and_wait([f.task for f in self._flights.values()])
        self._flights.clear()

    def __len__(self) -> int:
        return len(self._flights)
