"""Lanes by size: CPU work on a big plan never queues the work on a small one. Structural, no
time measured: the big lane is held (its job waits for a gate the test opens last) and the
small plan's work goes through anyway; big jobs take turns in their lane; the plan reader
and the fulfiller that resolves a plan's names send their work to the plan's lane."""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from pathlib import Path

import pytest

from parallizer import assembly, limits
from parallizer.config import Settings
from parallizer.document import Document
from parallizer.errors import WorkerDied
from parallizer.models import FulfillRequest, GlobalContext
from parallizer.planner import offline, plan_for
from parallizer.runtime import Runtime

from .conftest import children, eventually

PLAN = (Path(__file__).resolve().parents[1] / "examples" / "plan.md").read_text()
BIG = limits.SMALL  # a plan of this many characters goes to the big lane
HANG_GUARD = 60.0  # seconds: only so that a broken lane fails the test instead of hanging it


def _held_until(gate: str, started: str) -> str:
    """In a worker process: say it started, then wait until the test opens the gate."""
    Path(started).touch()
    while not Path(gate).exists():
        time.sleep(0.01)
    return "released"


async def test_a_small_plan_is_read_while_the_big_lane_is_held(tmp_path: Path):
    gate, started = tmp_path / "gate", tmp_path / "started"
    async with limits.Lanes(1) as lanes_:
        held = asyncio.ensure_future(lanes_.in_process(BIG, _held_until, str(gate), str(started)))
        try:
            await eventually(started.exists, within=HANG_GUARD, what="the big lane's job started")
            doc = Document(PLAN, (3, 0))
            reads = offline.read_and_plan(doc, 8, None, lanes=lanes_)
            await asyncio.wait_for(reads, HANG_GUARD)
            assert plan_for(doc, 8, None).queries  # read in full, in a worker of its own lane
            small = lanes_.pool(len(PLAN))
            assert small is not None and len(small.pids()) == 1
            assert not held.done()  # while the big lane was still held
        finally:
            gate.touch()
        assert await held == "released"


def _alive(pid: int) -> bool:
    """A process (a zombie too: not reaped) has this pid."""
    return Path(f"/proc/{pid}").exists()


async def test_the_runtime_owns_the_lanes_processes_and_ends_them_with_it():
    """Warmed at startup (the service's lifespan does it), all exited once the runtime is
    closed: none left behind, even one in the middle of a job."""
    settings = Settings(read_workers=2)
    async with Runtime(settings, web=None, llm=None) as rt:
        await rt.lanes.warm()
        small, big = rt.lanes.pool(0), rt.lanes.pool(BIG)
        assert small is not None and big is not None
        warmed = small.pids()
        assert len(warmed) == 2 and big.pids() == []  # the big lane's starts with a big plan
        gate = Path(tempfile.mkdtemp()) / "gate"  # never opened: the job is cut by the close
        started = gate.with_name("started")
        held = asyncio.ensure_future(rt.lanes.in_process(BIG, _held_until, str(gate), str(started)))
        await eventually(started.exists, within=HANG_GUARD, what="the big lane's job started")
        everyone = warmed + big.pids()
        assert set(everyone) <= {pid for pid, _ in children()}
    assert not any(_alive(pid) for pid in everyone)  # exited and reaped
    with pytest.raises(WorkerDied):
        await held  # not run again in a thread: the lanes are closed


async def test_big_jobs_take_turns_in_their_lane_and_a_small_one_passes_them():
    gate = threading.Event()
    running = peak = 0
    lock = threading.Lock()

    def big_job() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        gate.wait()
        with lock:
            running -= 1

    bigs = [asyncio.ensure_future(limits.in_thread(BIG, big_job)) for _ in range(3)]
    try:
        await eventually(lambda: running == 1, within=HANG_GUARD, what="a big job running")
        where = await asyncio.wait_for(
            limits.in_thread(len(PLAN), lambda: threading.current_thread().name), HANG_GUARD
        )
        assert where.startswith("lane-small")
        assert running == 1 and not any(b.done() for b in bigs)  # the others wait their turn
    finally:
        gate.set()
    await asyncio.gather(*bigs)
    assert peak == 1  # one at a time: a small job shares the GIL with one big job at most


async def test_the_names_of_a_big_plan_are_resolved_in_the_big_lane(code_tree: Path):
    """Ambiguities resolves a plan's names in the plan's lane: with the big lane held, a big
    plan's resolution waits in it, and a small plan's whole request goes through."""
    settings = Settings(allowed_roots=str(code_tree.parent), read_workers=0)
    gate = threading.Event()

    def body(size: int) -> FulfillRequest:
        text = PLAN + "\n" + "Filler prose about `RetryPolicy` and `load_config`.\n" * (size // 50)
        return FulfillRequest(
            user_id=f"u{size}",
            document_text=text,
            cursor_position=(3, 0),
            global_context=GlobalContext(scope_root=str(code_tree)),
            fulfillers=["ambiguities"],
        )

    async with Runtime(settings, web=None, llm=None) as rt:
        orch = assembly.orchestrator(rt)
        await orch.fulfill(orch.prepare(body(0)))  # the code index is built
        held = asyncio.ensure_future(limits.in_thread(BIG, gate.wait))
        big_lane = limits.lane(BIG)
        try:
            big = asyncio.ensure_future(orch.fulfill(orch.prepare(body(BIG))))
            await eventually(
                lambda: big_lane.waiting == 1,
                within=HANG_GUARD,
                what="the big plan's resolution queued in the big lane",
            )
            small = await asyncio.wait_for(orch.fulfill(orch.prepare(body(0))), HANG_GUARD)
            assert small.timings is not None and small.timings.fulfillers["ambiguities"].ok
            assert not big.done()
        finally:
            gate.set()
        await held
        assert (await big).timings is not None
