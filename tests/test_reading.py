"""Plans read in a worker process: the caches fulfillers use get what reading in process
would have computed, a dead worker costs one request a thread, not an error, and a reading
that fails (read inside the run) fails the fulfillers waiting for it, not the request."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parallizer import assembly
from parallizer.config import Settings
from parallizer.document import Document
from parallizer.document.reader import read
from parallizer.limits import Lanes
from parallizer.models import FulfillRequest, GlobalContext
from parallizer.planner import offline, plan_for
from parallizer.runtime import Runtime

PLAN = (Path(__file__).resolve().parents[1] / "examples" / "plan.md").read_text()


def _same_reading(doc: Document) -> None:
    fresh = Document(doc.text, doc.cursor)
    assert doc.blocks == fresh.blocks
    assert read(doc) == read(fresh)
    assert plan_for(doc, 8, "examples/plan.md") == plan_for(fresh, 8, "examples/plan.md")


@pytest.fixture
async def lanes() -> AsyncIterator[Lanes]:
    async with Lanes(1, preload=("parallizer.planner.offline",)) as lanes:
        yield lanes


async def test_a_plan_read_in_a_worker_process_fills_the_in_process_caches(lanes: Lanes):
    doc = Document(PLAN, (12, 4))
    await offline.read_and_plan(doc, 8, "examples/plan.md", lanes=lanes)
    pool = lanes.pool(len(doc.text))
    assert pool is not None and len(pool.pids()) == 1  # read in a worker process
    # installed, not computed again: plan_for hands back the very object the worker sent
    assert "blocks" in doc.__dict__
    installed = plan_for(doc, 8, "examples/plan.md")
    assert plan_for(doc, 8, "examples/plan.md") is installed
    assert installed.queries  # a real plan, with queries
    _same_reading(doc)


async def test_a_dead_reader_process_is_replaced_and_the_request_still_reads(lanes: Lanes):
    await offline.read_and_plan(Document(PLAN, (3, 0)), 8, None, lanes=lanes)  # a worker is up
    pool = lanes.pool(len(PLAN))
    assert pool is not None
    (dead,) = pool.pids()
    os.kill(dead, signal.SIGKILL)  # the worker dies (OOM killer, an operator)
    doc = Document(PLAN + "\nOne more line.\n", (5, 2))
    await offline.read_and_plan(doc, 8, "examples/plan.md", lanes=lanes)  # read in a thread
    _same_reading(doc)
    again = Document(PLAN, (20, 0))
    await offline.read_and_plan(again, 8, "examples/plan.md", lanes=lanes)
    assert "blocks" in again.__dict__ and plan_for(again, 8, "examples/plan.md").queries
    (fresh,) = pool.pids()
    assert fresh != dead  # a new worker for the next request


async def test_where_no_process_can_start_plans_are_read_in_a_thread(tmp_path: Path):
    async with Lanes(1, python=str(tmp_path / "no-python")) as lanes:
        for line in (3, 9):
            doc = Document(PLAN, (line, 0))
            await offline.read_and_plan(doc, 8, None, lanes=lanes)
            _same_reading(doc)
        assert lanes.no_processes is not None and "cannot start" in lanes.no_processes
        assert lanes.pool(len(PLAN)) is None  # not tried again for every request


async def test_no_workers_reads_in_a_thread():
    doc = Document(PLAN, (7, 1))
    async with Lanes(0) as lanes:
        await offline.read_and_plan(doc, 8, None, lanes=lanes)
        assert lanes.pool(len(PLAN)) is None
    _same_reading(doc)


async def test_a_reading_that_fails_fails_the_fulfillers_that_wait_for_it_not_the_request(
    tmp_path: Path,
):
    """The service reads the plan inside the run (`Job.reader`): when the reading fails, each
    fulfiller that waits for it reports the error in its timing; the request still ends with
    its report, and the reading runs once however many fulfillers wait."""
    calls = 0

    async def broken_reader() -> None:
        nonlocal calls
        calls += 1
        raise OSError("the reader is gone")

    runtime = Runtime(Settings(allowed_roots=str(tmp_path)))
    async with runtime:
        orch = assembly.orchestrator(runtime)
        request = FulfillRequest(
            user_id="t",
            document_text=PLAN,
            cursor_position=(3, 0),
            global_context=GlobalContext(scope_root=str(tmp_path)),
            fulfillers=["ambiguities", "code_search"],
        )
        job = await asyncio.to_thread(orch.prepare, request, read=False)
        job.reader = broken_reader
        response = await orch.fulfill(job)
    assert calls == 1
    fts = response.timings.fulfillers
    for name in ("ambiguities", "code_search"):
        assert not fts[name].ok and "the reader is gone" in (fts[name].error or "")
    assert response.cards == []
