"""The one worker-process pool (`parallizer.workers`), with real subprocesses: an error in
the work comes back as that error, a worker killed mid-job fails only that job, a cancelled
job kills its worker (a pool of short jobs lets it finish), and closing the pool leaves no
process behind."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import sys
import time
from pathlib import Path

import pytest

from parallizer.errors import NoWorkers, WorkerDied
from parallizer.workers import WorkerPool

from .conftest import children, eventually

HANG_GUARD = 60.0  # seconds: only so that a broken pool fails the test instead of hanging it


def _held_until(gate: str, started: str) -> int:
    """In a worker: say it started, then wait until the test opens the gate."""
    Path(started).touch()
    deadline = time.monotonic() + HANG_GUARD
    while not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.getpid()


def _fails(text: str) -> None:
    raise LookupError(text)


def _gone(pid: int) -> bool:
    """Exited and reaped: no process (not even a zombie) has this pid."""
    return not Path(f"/proc/{pid}").exists()


def _our_children() -> set[int]:
    return {pid for pid, _ in children()}


def _load_when_open(gate: str, pad: bytes) -> bytes:
    """Where the answer is rebuilt (the caller's process): wait until the test opens the gate."""
    deadline = time.monotonic() + HANG_GUARD
    while not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return pad


class _SlowToLoad:
    def __init__(self, gate: str) -> None:
        self.gate = gate

    def __reduce__(self) -> tuple[object, tuple[str, bytes]]:
        return _load_when_open, (self.gate, b"x" * 8192)  # big: rebuilt in a thread


def _slow_to_load(gate: str) -> _SlowToLoad:
    return _SlowToLoad(gate)


async def test_a_worker_takes_the_next_job_while_its_answer_is_rebuilt(tmp_path: Path):
    """The answer's pickle is the caller's to load: the worker is free once it is sent (under
    50 users, a worker held until its answer was loaded sat idle half the time)."""
    gate, started = tmp_path / "gate", tmp_path / "started"
    async with WorkerPool(1) as pool:
        first = asyncio.create_task(pool.call(_slow_to_load, str(gate)))
        second = asyncio.create_task(pool.call(Path.touch, started))
        await eventually(started.exists, within=20, what="the second job started")
        assert not first.done()
        gate.touch()
        assert await asyncio.wait_for(first, HANG_GUARD) == b"x" * 8192
        await asyncio.wait_for(second, HANG_GUARD)


def _next_job_waiting(seconds: float) -> bool:
    """In a worker: whether another job is already waiting in its pipe (stdin readable)
    while this one runs."""
    return bool(select.select([sys.stdin], [], [], seconds)[0])


async def test_a_busy_worker_finds_its_next_job_already_in_its_pipe():
    """Jobs for a busy worker are written to its pipe at once: it starts the next as soon as
    it has answered, not when the event loop gets round to handing it over."""
    async with WorkerPool(1) as pool:
        await pool.start()
        first = asyncio.ensure_future(pool.call(_next_job_waiting, 10.0))
        second = asyncio.ensure_future(pool.call(_next_job_waiting, 0.0))
        assert await first is True
        assert await second is False  # nothing after it


async def test_jobs_waiting_behind_a_killed_worker_run_on_another(tmp_path: Path):
    gate = tmp_path / "gate"  # never opens
    async with WorkerPool(1) as pool:
        running = asyncio.ensure_future(pool.call(_held_until, str(gate), str(tmp_path / "s")))
        await eventually((tmp_path / "s").exists, within=HANG_GUARD, what="the job running")
        (victim,) = pool.pids()
        waiting = [asyncio.ensure_future(pool.call(os.getpid)) for _ in range(3)]
        await asyncio.sleep(0)
        os.kill(victim, signal.SIGKILL)
        with pytest.raises(WorkerDied):
            await running  # the one that ran fails
        pids = await asyncio.gather(*waiting)  # the ones that had not started run elsewhere
        assert victim not in pids and len(set(pids)) == 1
        assert _gone(victim)


async def test_an_error_in_the_work_comes_back_and_the_worker_goes_on():
    async with WorkerPool(1) as pool:
        first = await pool.call(os.getpid)
        with pytest.raises(LookupError, match="no such thing") as raised:
            await pool.call(_fails, "no such thing")
        assert "in the worker process" in "".join(raised.value.__notes__)
        with pytest.raises(ValueError):
            await pool.call(int, "seven")
        assert await pool.call(int, "7") == 7
        assert await pool.call(os.getpid) == first  # the same worker served them all
        assert await pool.call(print, "printed, not an answer") is None  # stdout stays ours
        assert await pool.call(os.getpid) == first


async def test_a_worker_killed_mid_job_fails_that_job_only(tmp_path: Path):
    gate = tmp_path / "gate"
    async with WorkerPool(2) as pool:
        jobs = [
            asyncio.ensure_future(pool.call(_held_until, str(gate), str(tmp_path / f"s{i}")))
            for i in range(2)
        ]
        await eventually(
            lambda: all((tmp_path / f"s{i}").exists() for i in range(2)),
            within=HANG_GUARD,
            what="both jobs running",
        )
        victim, other = pool.pids()
        os.kill(victim, signal.SIGKILL)  # the OOM killer, an operator, a crash in C
        done, _ = await asyncio.wait(jobs, return_when=asyncio.FIRST_COMPLETED)
        (dead,) = done
        with pytest.raises(WorkerDied):
            dead.result()
        gate.touch()
        (alive,) = [j for j in jobs if j is not dead]
        assert await alive == other  # the other job was not touched
        assert _gone(victim)  # reaped
        # four at once: one finds the live worker idle, the next starts a fresh one
        fresh = set(await asyncio.gather(*(pool.call(os.getpid) for _ in range(4))))
        assert victim not in fresh and other in fresh  # the dead one was replaced
        assert len(pool.pids()) == 2


async def _cancel_a_running_job(pool: WorkerPool, gate: Path, started: Path) -> int:
    """Start a job held at `gate` in the pool's one worker, cancel it while it runs; the
    worker's pid."""
    job = asyncio.ensure_future(pool.call(_held_until, str(gate), str(started)))
    await eventually(started.exists, within=HANG_GUARD, what="the job running")
    (worker,) = pool.pids()
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    return worker


async def test_a_cancelled_job_kills_its_worker_and_leaves_no_process(tmp_path: Path):
    gate, started = tmp_path / "gate", tmp_path / "started"  # the gate never opens
    async with WorkerPool(1) as pool:
        worker = await _cancel_a_running_job(pool, gate, started)
        assert _gone(worker) and worker not in _our_children()
        assert pool.pids() == []
        assert await pool.call(os.getpid) != worker  # a fresh worker for the next job


async def test_a_pool_of_short_jobs_lets_a_cancelled_job_finish_and_keeps_its_worker(
    tmp_path: Path,
):
    gate, started = tmp_path / "gate", tmp_path / "started"
    async with WorkerPool(1, finish_cancelled=True) as pool:
        worker = await _cancel_a_running_job(pool, gate, started)
        assert pool.pids() == [worker]  # not killed: still running the job
        nxt = asyncio.ensure_future(pool.call(os.getpid))  # waits behind it in the pipe
        await asyncio.sleep(0.2)
        assert not nxt.done()
        gate.touch()
        # the cancelled job's answer is dropped; the next job gets its own
        assert await asyncio.wait_for(nxt, HANG_GUARD) == worker
        assert pool.pids() == [worker]


async def test_a_hung_job_is_cut_short_by_a_timeout(tmp_path: Path):
    async with WorkerPool(1) as pool:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(
                pool.call(_held_until, str(tmp_path / "gate"), str(tmp_path / "s")), 0.5
            )
        assert pool.pids() == []  # killed, not left running its job
        assert await pool.call(int, "3") == 3


async def test_closing_the_pool_waits_until_every_worker_has_exited():
    pool = WorkerPool(3)
    await pool.start()
    pids = pool.pids()
    assert len(pids) == 3 and set(pids) <= _our_children()
    assert await pool.call(int, "1") == 1
    await pool.aclose()
    assert all(_gone(pid) for pid in pids)
    assert not set(pids) & _our_children()
    with pytest.raises(RuntimeError, match="closed"):
        await pool.call(int, "1")


async def test_no_worker_can_start_is_its_own_error(tmp_path: Path):
    async with WorkerPool(1, python=str(tmp_path / "no-python")) as pool:
        with pytest.raises(NoWorkers):
            await pool.call(int, "1")
        with pytest.raises(NoWorkers):
            await pool.start()
