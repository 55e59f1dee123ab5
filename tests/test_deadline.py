"""A request's deadline in the fan-out: it caps each call's own timeout and bounds the wait
for a backend slot, so no call outlives the request however long its own timeout is."""

from __future__ import annotations

import asyncio

from parallizer.fanout import Call, Deadline, fan_out
from parallizer.limits import Limiter


async def _never() -> str:
    await asyncio.Event().wait()
    return "unreachable"


async def _quick() -> str:
    return "ok"


async def test_the_deadline_caps_a_longer_call_timeout_and_bounds_queueing():
    one_slot = Limiter("slow-remote", 1)
    calls = [
        # holds the only slot: its own timeout (60 s) is capped by the deadline
        Call(label="hangs", backend="slow-remote", run=_never, limiter=one_slot, timeout=60),
        # waits for that slot until the deadline passes, then never runs
        Call(label="queued", backend="slow-remote", run=_quick, limiter=one_slot, timeout=60),
        # no limiter, quick: unaffected
        Call(label="fine", backend="local", run=_quick, timeout=60),
    ]
    hangs, queued, fine = await asyncio.wait_for(fan_out(calls, deadline=Deadline(0.3)), 10)
    assert not hangs.ok and hangs.kind == "timeout"
    assert hangs.error == "the request's deadline (0.3s) passed while it ran"
    assert not queued.ok and queued.kind == "timeout"
    assert queued.error == "the request's deadline (0.3s) passed before it ran"
    assert fine.ok and fine.value == "ok"


async def test_a_call_after_the_deadline_does_not_start():
    started: list[str] = []

    async def run() -> str:
        started.append("x")
        return "late"

    deadline = Deadline(0.0)
    [out] = await fan_out([Call(label="late", backend="b", run=run, timeout=5)], deadline=deadline)
    assert not out.ok and out.kind == "timeout" and started == []


async def test_without_a_deadline_the_call_timeout_applies():
    [out] = await fan_out([Call(label="hangs", backend="b", run=_never, timeout=0.05)])
    assert not out.ok and out.kind == "timeout" and out.error == "timed out after 0.05s"
