"""The fan-out primitive: order, isolation, timeouts, limits, cancellation, single-flight."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from parallizer.backends.base import CodeQuery
from parallizer.backends.ripgrep import RipgrepBackend
from parallizer.errors import HttpError
from parallizer.fanout import Call, Clock, Flights, Memo, fan_out
from parallizer.limits import Limiter

from .conftest import FakeTimer, children_named, eventually


class Instrumented:
    """A backend stand-in that counts how many of its calls run at the same time."""

    def __init__(self, name: str = "inst", capacity: int = 100) -> None:
        self.name = name
        self.limiter = Limiter(name, capacity)
        self.now = 0
        self.peak = 0
        self.started: list[str] = []
        self.cancelled: list[str] = []

    def call(
        self,
        label: str,
        delay: float = 0.05,
        *,
        fail: Exception | None = None,
        timeout: float | None = None,
        key: object = None,
    ) -> Call[str]:
        async def run() -> str:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.started.append(label)
            try:
                await asyncio.sleep(delay)
                if fail is not None:
                    raise fail
                return label.upper()
            except asyncio.CancelledError:
                self.cancelled.append(label)
                raise
            finally:
                self.now -= 1

        return Call(
            label=label, backend=self.name, run=run, limiter=self.limiter, timeout=timeout, key=key
        )


async def test_outcomes_keep_call_order_whatever_finishes_first():
    b = Instrumented()
    calls = [b.call("slow", 0.15), b.call("fast", 0.0), b.call("mid", 0.05)]
    outs = await fan_out(calls)
    assert [o.label for o in outs] == ["slow", "fast", "mid"]
    assert [o.value for o in outs] == ["SLOW", "FAST", "MID"]
    assert all(o.ok and o.error is None for o in outs)


async def test_one_failure_does_not_sink_the_others():
    b = Instrumented()
    calls = [
        b.call("a"),
        b.call("boom", fail=HttpError(500, "server said 500: overloaded")),
        b.call("bug", fail=ValueError("unexpected shape")),
        b.call("d"),
    ]
    outs = await fan_out(calls)
    assert [o.ok for o in outs] == [True, False, False, True]
    assert outs[1].kind == "http_500" and outs[1].error == "server said 500: overloaded"
    assert outs[2].kind == "internal" and outs[2].error == "ValueError: unexpected shape"
    assert outs[1].value is None and outs[1].ms > 0


async def test_timeout_is_a_failed_outcome_and_the_rest_finish():
    b = Instrumented()
    outs = await fan_out([b.call("hang", 5.0, timeout=0.1), b.call("ok", 0.01, timeout=1.0)])
    assert not outs[0].ok and outs[0].kind == "timeout"
    assert outs[0].error == "timed out after 0.1s"
    assert outs[1].ok
    assert b.cancelled == ["hang"]  # the hanging call was really cancelled, not abandoned


@pytest.mark.parametrize(("n", "capacity", "expected_peak"), [(5, 10, 5), (5, 2, 2), (3, 4, 3)])
async def test_peak_in_flight_is_min_of_calls_and_backend_limit(n, capacity, expected_peak):
    b = Instrumented(capacity=capacity)
    outs = await fan_out([b.call(f"q{i}", 0.05) for i in range(n)])
    assert all(o.ok for o in outs)
    assert b.peak == expected_peak
    assert b.limiter.peak == expected_peak


async def test_backend_limit_is_shared_by_concurrent_fan_outs():
    b = Instrumented(capacity=3)
    await asyncio.gather(
        *(fan_out([b.call(f"u{u}q{i}", 0.05) for i in range(4)]) for u in range(5))
    )
    assert b.peak == 3


async def test_serial_mode_is_limit_one_and_starts_follow_each_other():
    b = Instrumented()
    clock = Clock()
    outs = await fan_out([b.call(f"q{i}", 0.03) for i in range(3)], limit=1, clock=clock)
    assert b.peak == 1
    starts = [o.start_ms for o in outs]
    assert starts == sorted(starts)
    for prev, nxt in itertools.pairwise(outs):
        assert nxt.start_ms >= prev.start_ms + prev.ms - 1.0  # no overlap


async def test_parallel_starts_overlap():
    b = Instrumented()
    outs = await fan_out([b.call(f"q{i}", 0.05) for i in range(4)], clock=Clock())
    latest_start = max(o.start_ms for o in outs)
    earliest_end = min(o.start_ms + o.ms for o in outs)
    assert latest_start < earliest_end  # every call was running at one common instant


async def test_queueing_for_a_slot_is_not_charged_to_the_timeout():
    b = Instrumented(capacity=1)
    outs = await fan_out([b.call(f"q{i}", 0.05, timeout=0.5) for i in range(4)])
    assert all(o.ok for o in outs)
    assert outs[-1].queued_ms > outs[0].queued_ms


async def test_cancelling_the_caller_cancels_every_call():
    b = Instrumented(capacity=2)
    task = asyncio.create_task(fan_out([b.call(f"q{i}", 5.0) for i in range(4)]))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(b.cancelled) == ["q0", "q1"]  # the two running; the queued two never started
    assert b.now == 0 and b.limiter.in_flight == 0 and b.limiter.waiting == 0


async def test_identical_keys_run_once_and_are_marked_shared():
    b = Instrumented()
    memo = Memo()
    outs = await fan_out(
        [b.call("x", 0.05, key="k"), b.call("x again", 0.05, key="k"), b.call("y", key="j")],
        memo=memo,
    )
    assert b.started == ["x", "y"]
    assert [o.shared for o in outs] == [False, True, False]
    assert outs[1].value == "X" and outs[1].label == "x again"
    more = await fan_out([b.call("x later", key="k")], memo=memo)  # same request, later stage
    assert more[0].shared and more[0].value == "X" and b.started == ["x", "y"]


async def test_on_outcome_sees_each_result_as_it_lands():
    b = Instrumented()
    seen: list[str] = []
    await fan_out(
        [b.call("slow", 0.1), b.call("fast", 0.0)], on_outcome=lambda i, o: seen.append(o.label)
    )
    assert seen == ["fast", "slow"]


async def test_empty_fan_out():
    assert await fan_out([]) == []


# --- with the real rg binary -------------------------------------------------------------


async def test_cancellation_kills_the_rg_process(code_tree: Path, slow_rg: str):
    rg = RipgrepBackend(binary=slow_rg, timeout=30, batch_window=None)  # a process each
    q = CodeQuery(pattern="RetryPolicy")
    call = Call(label="slow", backend="ripgrep", run=lambda: rg.search(q, code_tree))
    task = asyncio.create_task(fan_out([call, call]))
    await eventually(lambda: len(children_named("rg")) == 2, what="both rg processes running")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert children_named("rg") == []


async def test_cancelled_while_rg_is_being_started_it_is_killed_and_reaped_before_the_end(
    code_tree: Path, slow_rg: str
):
    """The process exists before its spawn returns (asyncio still connects its pipes): a
    cancellation in that window waits for the spawn, then kills and reaps the process,
    before the cancelled caller goes on."""
    rg = RipgrepBackend(binary=slow_rg, timeout=30, batch_window=None)
    q = CodeQuery(pattern="RetryPolicy")
    call = Call(label="slow", backend="ripgrep", run=lambda: rg.search(q, code_tree))
    task = asyncio.create_task(fan_out([call]))
    for _ in range(20_000):  # the first loop turn that sees it: still spawning
        if children_named("rg"):
            break
        await asyncio.sleep(0)
    assert children_named("rg"), "rg never started"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert children_named("rg") == []


async def test_timeout_kills_the_rg_process_and_reports_it(code_tree: Path, slow_rg: str):
    slow = RipgrepBackend(binary=slow_rg)
    fast = RipgrepBackend()
    q = CodeQuery(pattern="RetryPolicy")
    outs = await fan_out(
        [
            Call(
                label="slow", backend="ripgrep", run=lambda: slow.search(q, code_tree), timeout=0.3
            ),
            Call(label="fast", backend="ripgrep", run=lambda: fast.search(q, code_tree), timeout=5),
        ]
    )
    assert not outs[0].ok and outs[0].kind == "timeout"
    assert outs[1].ok and outs[1].results and outs[1].results >= 3
    assert children_named("rg") == []


# --- across requests: Flights ------------------------------------------------------------


async def test_identical_calls_of_concurrent_requests_share_one_run():
    b = Instrumented()
    flights = Flights()
    first, second = await asyncio.gather(
        fan_out([b.call("q", 0.1, key="k")], flights=flights, clock=Clock()),
        fan_out([b.call("q too", 0.1, key="k"), b.call("r", key="r")], flights=flights),
    )
    assert b.started.count("q") == 1 and "q too" not in b.started
    assert first[0].ok and not first[0].shared
    assert second[0].ok and second[0].shared and second[0].value == "Q"
    assert second[0].label == "q too" and second[1].value == "R"
    assert len(flights) == 0  # nothing left flying
    again = await fan_out([b.call("q", 0.0, key="k")], flights=flights)
    assert not again[0].shared and b.started.count("q") == 2  # no ttl: finished runs are not kept


async def test_a_shared_run_outlives_one_cancelled_waiter_and_dies_with_the_last():
    b = Instrumented()
    flights = Flights()
    one = asyncio.create_task(fan_out([b.call("q", 0.3, key="k")], flights=flights))
    await asyncio.sleep(0.02)
    two = asyncio.create_task(fan_out([b.call("q", 0.3, key="k")], flights=flights))
    await asyncio.sleep(0.02)
    one.cancel()
    outs = await two
    assert outs[0].ok and outs[0].value == "Q" and b.cancelled == []
    three = asyncio.create_task(fan_out([b.call("z", 5.0, key="z")], flights=flights))
    four = asyncio.create_task(fan_out([b.call("z", 5.0, key="z")], flights=flights))
    await asyncio.sleep(0.05)
    three.cancel()
    four.cancel()
    for t in (three, four):
        with pytest.raises(asyncio.CancelledError):
            await t
    assert b.cancelled == ["z"] and b.now == 0 and len(flights) == 0


async def test_answers_are_kept_for_their_ttl_and_failures_never():
    b = Instrumented()
    timer = FakeTimer()
    flights = Flights(timer=timer)
    await fan_out([b.call("q", key="k")], flights=flights)  # no ttl: not kept
    ok = Call(label="w", backend="web", run=b.call("w").run, key="w", cache_ttl=30)
    first = await fan_out([ok], flights=flights)
    timer.now += 29.9
    hit = await fan_out([ok], flights=flights)
    assert not first[0].shared and hit[0].shared and hit[0].value == "W"
    assert b.started.count("w") == 1
    timer.now += 0.2
    expired = await fan_out([ok], flights=flights)
    assert not expired[0].shared and b.started.count("w") == 2
    bad = Call(
        label="x",
        backend="web",
        run=b.call("x", fail=HttpError(500, "no")).run,
        key="x",
        cache_ttl=60,
    )
    await fan_out([bad], flights=flights)
    retried = await fan_out([bad], flights=flights)
    assert not retried[0].ok and not retried[0].shared and b.started.count("x") == 2


async def test_two_requests_asking_rg_the_same_share_one_process(code_tree: Path, slow_rg: str):
    rg = RipgrepBackend(binary=slow_rg, timeout=30)
    flights = Flights()
    q = CodeQuery(pattern="RetryPolicy")

    def call() -> Call:
        return Call(
            label="slow",
            backend="ripgrep",
            run=lambda: rg.search(q, code_tree),  # the backend holds its own slot
            key=("code", str(code_tree), q),
        )

    tasks = [asyncio.create_task(fan_out([call()], flights=flights)) for _ in range(3)]
    await eventually(lambda: children_named("rg"), what="rg running")
    await asyncio.sleep(0.1)
    assert len(children_named("rg")) == 1 and rg.limiter.in_flight == 1
    for t in tasks:
        t.cancel()
    for t in tasks:
        with pytest.raises(asyncio.CancelledError):
            await t
    assert children_named("rg") == []


async def test_joining_a_run_whose_waiters_all_left_starts_it_afresh():
    """The last waiter of a shared run is cancelled; while the run is winding down, another
    request asks the same: it must get its own run, not the dying one's cancellation."""
    b = Instrumented()
    flights = Flights()
    slow_exit = asyncio.Event()

    async def stubborn() -> str:  # takes a moment to wind down once cancelled, like rg reaping
        b.started.append("s")
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            await slow_exit.wait()
            raise
        return "never"

    def call() -> Call[str]:
        return Call(label="s", backend="inst", run=stubborn, key="s")

    first = asyncio.create_task(fan_out([call()], flights=flights))
    await asyncio.sleep(0.02)
    first.cancel()
    await asyncio.sleep(0.02)  # the first run is cancelled but has not finished yet
    second = asyncio.create_task(fan_out([call()], flights=flights))
    await asyncio.sleep(0.02)
    slow_exit.set()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert b.started == ["s", "s"]  # the second request got a run of its own
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
