"""Plans read in a worker process: the caches fulfillers use get what reading in process
would have computed, and a dead worker costs one request a thread, not an error."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from parallizer import lanes
from parallizer.document import Document
from parallizer.document.reader import read
from parallizer.planner import plan_for, reading

from .conftest import eventually

PLAN = (Path(__file__).resolve().parents[1] / "examples" / "plan.md").read_text()


def _same_reading(doc: Document) -> None:
    fresh = Document(doc.text, doc.cursor)
    assert doc.blocks == fresh.blocks
    assert read(doc) == read(fresh)
    assert plan_for(doc, 8, "examples/plan.md") == plan_for(fresh, 8, "examples/plan.md")


async def test_a_plan_read_in_a_worker_process_fills_the_in_process_caches():
    doc = Document(PLAN, (12, 4))
    await reading.read_and_plan(doc, 8, "examples/plan.md", workers=1)
    # installed, not computed again: plan_for hands back the very object the worker sent
    assert "blocks" in doc.__dict__
    installed = plan_for(doc, 8, "examples/plan.md")
    assert plan_for(doc, 8, "examples/plan.md") is installed
    assert installed.queries  # a real plan, with queries
    _same_reading(doc)


@pytest.mark.parametrize("noticed", [True, False], ids=["pool-marked-broken", "at-once"])
async def test_a_dead_reader_process_is_replaced_and_the_request_still_reads(noticed: bool):
    await reading.read_and_plan(Document(PLAN, (3, 0)), 8, None, workers=1)  # the pool is up
    pool = lanes.lane(len(PLAN)).pool(1)
    for pid in list(pool._processes):  # the worker dies (OOM killer, an operator)
        os.kill(pid, signal.SIGKILL)
    if noticed:  # the pool has marked itself broken: submitting fails at once
        await eventually(lambda: pool._broken, what="the pool marked broken")
    doc = Document(PLAN + "\nOne more line.\n", (5, 2))
    await reading.read_and_plan(doc, 8, "examples/plan.md", workers=1)
    _same_reading(doc)
    assert lanes.lane(len(PLAN)).pool(1) is not pool  # a new pool for the next request
    again = Document(PLAN, (20, 0))
    await reading.read_and_plan(again, 8, "examples/plan.md", workers=1)
    assert "blocks" in again.__dict__ and plan_for(again, 8, "examples/plan.md").queries


async def test_where_no_process_pool_can_start_plans_are_read_in_a_thread(monkeypatch):
    def no_semaphores(*args: object, **kwargs: object) -> None:
        raise NotImplementedError("sem_open is not available (no /dev/shm)")

    small = lanes.lane(len(PLAN))
    await small.shutdown()  # no pool yet: the next read starts one
    monkeypatch.setattr(lanes, "_NO_PROCESSES", None)
    monkeypatch.setattr(lanes, "ProcessPoolExecutor", no_semaphores)
    for line in (3, 9):
        doc = Document(PLAN, (line, 0))
        await reading.read_and_plan(doc, 8, None, workers=1)
        _same_reading(doc)
    assert lanes._NO_PROCESSES is not None and "sem_open" in lanes._NO_PROCESSES


async def test_no_workers_reads_in_a_thread():
    doc = Document(PLAN, (7, 1))
    await reading.read_and_plan(doc, 8, None, workers=0)
    _same_reading(doc)
