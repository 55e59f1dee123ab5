"""The one single flight (`parallizer.fanout`): one run per key, who owns it, what waiters see."""

from __future__ import annotations

import asyncio

import pytest

from parallizer.fanout import SingleFlight


class Work:
    """A run that waits for a gate, counting its starts and noting its cancellation."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.gate = asyncio.Event()
        self.started = 0
        self.cancelled = False
        self.fail = fail

    async def __call__(self) -> str:
        self.started += 1
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        if self.fail is not None:
            raise self.fail
        return "answer"


async def _until(cond) -> None:  # type: ignore[no-untyped-def]
    for _ in range(1000):
        if cond():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def test_concurrent_callers_of_one_key_share_one_run():
    flights: SingleFlight[str] = SingleFlight()
    work = Work()
    callers = [asyncio.create_task(flights.run("k", work)) for _ in range(3)]
    await _until(lambda: work.started)
    work.gate.set()
    answers = await asyncio.gather(*callers)
    assert work.started == 1
    assert sorted(joined for _, joined in answers) == [False, True, True]
    assert {value for value, _ in answers} == {"answer"}
    assert len(flights) == 0  # a landed run is forgotten: the next caller runs afresh


async def test_a_waiter_owned_run_outlives_one_waiter_and_dies_with_the_last():
    flights: SingleFlight[str] = SingleFlight(owner="waiters")
    work = Work()
    a = asyncio.create_task(flights.run("k", work))
    b = asyncio.create_task(flights.run("k", work))
    await _until(lambda: work.started)
    flight = flights.get("k")
    assert flight is not None
    a.cancel()
    with pytest.raises(asyncio.CancelledError):
        await a
    assert not work.cancelled and not flight.task.done()  # b still wants it
    b.cancel()
    with pytest.raises(asyncio.CancelledError):
        await b
    # the last waiter's cancellation returns only once the run is gone
    assert work.cancelled and flight.task.cancelled() and flight.abandoned
    assert flights.get("k") is None
    # an abandoned run takes no new waiters: the next caller starts another
    again = Work()
    again.gate.set()
    assert await flights.run("k", again) == ("answer", False)
    assert again.started == 1


async def test_a_store_owned_run_survives_its_waiters_going_away():
    flights: SingleFlight[str] = SingleFlight(owner="store")
    work = Work()
    a = asyncio.create_task(flights.run("k", work))
    await _until(lambda: work.started)
    a.cancel()
    with pytest.raises(asyncio.CancelledError):
        await a
    flight = flights.get("k")
    assert flight is not None and not work.cancelled and not flight.abandoned
    # a later caller joins the very run the first one started
    later = asyncio.create_task(flights.run("k", Work()))
    await asyncio.sleep(0)
    work.gate.set()
    assert await later == ("answer", True)
    assert work.started == 1
    # the store cancels what it owns when it closes
    closing = Work()
    flights.start("c", closing)
    await _until(lambda: closing.started)
    await flights.aclose()
    assert closing.cancelled


async def test_a_failure_of_the_run_reaches_every_waiter():
    flights: SingleFlight[str] = SingleFlight()
    boom = ValueError("boom")
    work = Work(fail=boom)
    callers = [asyncio.create_task(flights.run("k", work)) for _ in range(3)]
    await _until(lambda: work.started)
    work.gate.set()
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert results == [boom, boom, boom]
    assert work.started == 1


async def test_a_run_cancelled_by_another_hand_is_started_afresh_for_its_waiters():
    """A waiter-owned run cancelled by someone else (a closing store) is not the waiter's
    cancellation: it gets a fresh run instead of a CancelledError it did not ask for."""
    flights: SingleFlight[str] = SingleFlight(owner="waiters")
    runs: list[Work] = []

    def start():  # type: ignore[no-untyped-def]
        work = Work()
        runs.append(work)
        return work()

    caller = asyncio.create_task(flights.run("k", start))
    await _until(lambda: runs and runs[0].started)
    first = flights.get("k")
    assert first is not None
    first.task.cancel()
    await _until(lambda: len(runs) == 2 and runs[1].started)
    runs[1].gate.set()
    assert await caller == ("answer", False)
