"""The adaptive limit and the one retry policy against emulators in capacity mode, over real
loopback HTTP. Every assertion is structural (what the emulator's record says: peak in flight,
429s, when requests arrived), never how fast something ran."""

from __future__ import annotations

import aiohttp
import pytest

from parallizer.backends.perplexity import PerplexityBackend
from parallizer.config import Settings
from parallizer.emulators import running
from parallizer.fanout import fan_out
from parallizer.limits import AdaptiveLimiter
from parallizer.llm import LLMClient

from .webkit import PPLX_KEY, web_calls


def adaptive(emu, *, ceiling: int = 64, start: int = 2, timeout: float = 10.0):
    return PerplexityBackend(
        api_key=PPLX_KEY,
        base_url=emu.url,
        timeout=timeout,
        max_concurrent=ceiling,
        start_concurrent=start,
    )


async def _search_all(backend, n: int, tag: str):
    return await fan_out(web_calls(backend, [f"{tag} topic {i}" for i in range(n)]))


async def test_emulator_capacity_turns_away_the_excess_with_429_and_retry_after():
    async with running("perplexity", latency=0.2, capacity=2, retry_after=0.5) as emu:
        async with aiohttp.ClientSession() as http:

            async def ask(i: int) -> tuple[int, str | None]:
                body = {"model": "m", "messages": [{"role": "user", "content": f"q{i}"}]}
                async with http.post(emu.url + "/chat/completions", json=body) as r:
                    return r.status, r.headers.get("Retry-After")

            import asyncio

            answers = await asyncio.gather(*(ask(i) for i in range(5)))
            async with http.get(emu.root + "/_stats") as r:
                stats = await r.json()
            async with http.post(emu.root + "/_config", json={"capacity": 0}) as r:
                assert r.status == 422  # a capacity must be >= 1
    assert sorted(s for s, _ in answers) == [200, 200, 429, 429, 429]
    assert {ra for s, ra in answers if s == 429} == {"0.5"}
    assert stats["peak"] == 2 and stats["rejected"] == 3 and stats["rate_limited"] == 3
    assert stats["config"]["capacity"] == 2


async def test_emulator_capacity_with_queue_makes_the_excess_wait_for_its_turn():
    import asyncio

    async with running("llm", latency=0.1, capacity=2, queue=True) as emu:
        async with aiohttp.ClientSession() as http:

            async def ask(i: int) -> int:
                body = {"model": "m", "messages": [{"role": "user", "content": f"q{i}"}]}
                async with http.post(emu.url + "/chat/completions", json=body) as r:
                    return r.status

            statuses = await asyncio.gather(*(ask(i) for i in range(5)))
            async with http.get(emu.root + "/_stats") as r:
                stats = await r.json()
    assert statuses == [200] * 5 and stats["rejected"] == 0  # no 429: a queue
    assert stats["peak"] == 5 and stats["peak_queued"] == 3  # two served, three waited
    waits = sorted(r["queued_ms"] for r in stats["requests"])
    assert waits[:2] == [0.0, 0.0] and min(waits[2:]) >= 50  # a turn after one answer


async def test_the_limit_converges_under_the_capacity_and_no_query_fails():
    async with running("perplexity", latency=0.03, capacity=6, retry_after=0.02) as emu:
        b = adaptive(emu, start=2)
        try:
            outs = await _search_all(b, 150, "converge")
        finally:
            await b.aclose()
    assert all(o.ok for o in outs)  # every 429 was retried within the deadline
    assert emu.stats.peak == 6  # it found and used the whole capacity
    assert b.limiter.peak > 2  # it grew from its start
    rejected = emu.stats.rejected
    assert 0 < rejected <= 0.25 * 150  # probing costs a few 429s, not a storm
    assert b.limiter.overloads == rejected
    late = emu.stats.requests[len(emu.stats.requests) // 2 :]
    assert sum(r.fault == "capacity" for r in late) <= 0.1 * len(late)  # settled
    assert 3 <= b.limiter.limit <= 8


async def test_starting_far_above_the_capacity_costs_one_wave_of_429s_not_one_a_round_trip():
    async with running("perplexity", latency=0.2, capacity=6, retry_after=0.05) as emu:
        b = adaptive(emu, ceiling=64, start=64)
        try:
            outs = await _search_all(b, 64, "burst")
        finally:
            await b.aclose()
    assert all(o.ok for o in outs)
    first_wave = 64 - 6
    # the first rejection of the wave (a call sent with 7 in flight) cuts it to 6: its
    # retries go out under the capacity, not 10% fewer a round trip
    assert first_wave <= emu.stats.rejected <= first_wave + 12
    assert min(limit for _, limit in b.limiter.history) <= 6


async def test_the_limit_grows_again_when_the_provider_has_more_room():
    async with running("perplexity", latency=0.02, capacity=4, retry_after=0.02) as emu:
        b = adaptive(emu, start=2)
        try:
            assert all(o.ok for o in await _search_all(b, 80, "small"))
            assert emu.stats.peak == 4
            async with aiohttp.ClientSession() as http:
                async with http.post(emu.root + "/_config", json={"capacity": 16}) as r:
                    assert r.status == 200 and (await r.json())["capacity"] == 16
            emu.reset()
            for round_ in range(40):  # until it uses the new room (bounded)
                assert all(o.ok for o in await _search_all(b, 60, f"big{round_}"))
                if emu.stats.peak >= 12:
                    break
        finally:
            await b.aclose()
    assert emu.stats.peak >= 12
    assert b.limiter.limit > 4


async def test_retry_after_pauses_the_whole_backend():
    async with running("perplexity", latency=0.1, capacity=1, retry_after=0.4) as emu:
        b = adaptive(emu, start=2)
        try:
            outs = await _search_all(b, 6, "pause")
        finally:
            await b.aclose()
    assert all(o.ok for o in outs)
    reqs = sorted(emu.stats.requests, key=lambda r: r.seq)
    assert [r.status for r in reqs[:2]].count(429) == 1  # two sent at once, one turned away
    first_429 = next(r.start_s for r in reqs if r.status == 429)
    # nobody (not only the caller turned away) sent anything during the pause it asked for
    assert min(r.start_s for r in reqs[2:]) >= first_429 + 0.4 - 0.01
    assert b.limiter.limit == 1


async def test_a_429_is_retried_within_the_deadline_and_fails_only_when_it_runs_out():
    async with running(
        "perplexity", latency=0.01, fault_on=["busy=429", "flaky=429*2"], retry_after=0.2
    ) as emu:
        b = adaptive(emu, start=4, timeout=1.0)
        try:
            flaky, busy = await fan_out(web_calls(b, ["flaky topic", "busy topic"]))
        finally:
            await b.aclose()
    assert flaky.ok  # two 429s, then an answer: not a failed query
    assert not busy.ok and busy.kind == "rate_limited" and "attempts" in (busy.error or "")
    busy_reqs = [r for r in emu.stats.requests if r.text == "busy topic"]
    # waits of 0.2 s inside a 1 s budget: at most 5 tries, the last sent before the deadline
    assert 3 <= len(busy_reqs) <= 5
    assert busy_reqs[-1].start_s - busy_reqs[0].start_s <= 1.0
    assert [r.status for r in emu.stats.requests if r.text == "flaky topic"] == [429, 429, 200]


async def test_a_retry_after_longer_than_the_budget_fails_at_once():
    async with running("perplexity", fault_on=["busy=429"], retry_after=30) as emu:
        b = adaptive(emu, timeout=1.0)
        try:
            (out,) = await fan_out(web_calls(b, ["busy topic"]))
        finally:
            await b.aclose()
    assert not out.ok and out.kind == "rate_limited" and emu.stats.total == 1


async def test_llm_calls_use_the_same_retry_policy():
    async with running("llm", latency=0.01, fault_on=["flaky=429*1"], retry_after=0.05) as emu:
        async with LLMClient(base_url=emu.url, model="m", timeout=5, max_concurrent=4) as c:
            (out,) = await fan_out(
                [c.call("flaky", lambda: c.complete_text(system="s", user="flaky line"))]
            )
    assert out.ok and out.value
    assert [r.status for r in emu.stats.requests] == [429, 200]


async def test_llm_limit_adapts_to_the_emulator_capacity():
    async with running("llm", latency=0.03, capacity=5, retry_after=0.02) as emu:
        async with LLMClient(
            base_url=emu.url, model="m", timeout=10, max_concurrent=64, start_concurrent=2
        ) as c:
            outs = await fan_out(
                [c.call(f"c{i}", lambda i=i: c.complete_text(system="s", user=f"line {i}"))
                 for i in range(80)]
            )  # fmt: skip
    assert all(o.ok for o in outs)
    assert emu.stats.peak == 5 and c.limiter.peak > 2
    assert emu.stats.rejected <= 0.25 * 80


@pytest.mark.parametrize(
    ("capacity", "says"),
    [("0", "capacity must be a whole number >= 1"), ("-3", "capacity must be a whole number >= 1"),
     ("x", "Invalid value for '--capacity'")],
)  # fmt: skip
def test_emulate_cli_rejects_a_bad_capacity(
    capacity: str, says: str, capsys: pytest.CaptureFixture[str]
):
    # through `main`, the entry point, which registers every command: `app` alone has none
    # until some test has called `main`, and its "no such command" was an exit 2 too
    from parallizer.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["emulate", "perplexity", "--capacity", capacity])
    assert exited.value.code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("parallizer: error: ") and says in line


# --- hedging ------------------------------------------------------------------------------


async def _hedge_run(ceiling: int):
    from parallizer.fulfillers.web_context import web_call

    async with running("perplexity", latency=0.02, fault_on=["slowpoke=hang*1"], hang_s=30) as emu:
        b = adaptive(emu, ceiling=ceiling, start=ceiling, timeout=2.0)
        try:
            # enough answers for the backend to know its normal latency (p95)
            warm = await fan_out([web_call(b, f"warm {i}") for i in range(25)])
            assert all(o.ok for o in warm)
            (out,) = await fan_out([web_call(b, "slowpoke topic")])
        finally:
            await b.aclose()
    return out, [r for r in emu.stats.requests if r.text == "slowpoke topic"]


async def test_a_slow_search_is_hedged_with_a_second_copy_and_the_first_answer_wins():
    out, reqs = await _hedge_run(ceiling=4)
    assert out.ok and out.value.sources  # the hung first copy did not make it fail
    assert [r.fault for r in reqs] == ["hang", None]
    assert reqs[1].status == 200
    assert reqs[0].status is None  # the hung copy was cancelled (its connection dropped)


async def test_no_hedge_without_a_free_slot():
    out, reqs = await _hedge_run(ceiling=1)
    assert not out.ok and out.kind == "timeout"
    assert len(reqs) == 1


async def test_a_call_past_its_deadline_cuts_the_limit():
    async with running("perplexity", latency=0.01, fault_on=["stuck=hang"], hang_s=30) as emu:
        b = adaptive(emu, ceiling=20, start=10, timeout=0.3)
        try:
            (out,) = await fan_out(web_calls(b, ["stuck topic"]))
        finally:
            await b.aclose()
    assert not out.ok and out.kind == "timeout"
    assert b.limiter.limit == 9 and b.limiter.cuts == 1  # the provider may be drowning


# --- defaults that find the capacity (issue 20) ---------------------------------------------


def _defaults(emu) -> PerplexityBackend:
    """The web backend as a user gets it: the limit's start and ceiling from the defaults."""
    s = Settings(_env_file=None)
    return adaptive(emu, ceiling=s.web_max_concurrent, start=s.web_start_concurrent)


def _llm(emu, *, start: int, ceiling: int = 64) -> LLMClient:
    return LLMClient(
        base_url=emu.url, model="m", timeout=10, max_concurrent=ceiling, start_concurrent=start
    )


async def _complete_all(c: LLMClient, n: int, tag: str):
    return await fan_out(
        [c.call(f"{tag}{i}", lambda i=i: c.complete_text(system="s", user=f"{tag} {i}"))
         for i in range(n)]
    )  # fmt: skip


async def test_the_default_web_limit_grows_from_its_start_to_a_capacity_above_it():
    async with running("perplexity", latency=0.05, capacity=24, retry_after=0.05) as emu:
        b = _defaults(emu)
        try:
            outs = await _search_all(b, 400, "grow")
        finally:
            await b.aclose()
    limits = [limit for _, limit in b.limiter.history]
    assert limits[0] == 10 and b.limiter.capacity == 64  # SPEC's start and ceiling
    assert all(o.ok for o in outs)
    assert emu.stats.peak == 24  # it found the provider's whole capacity, 2.4 x its start
    assert max(limits) >= 24
    assert b.limiter.limit <= 30  # and settled there, not at the ceiling


async def test_the_limit_cuts_back_when_the_capacity_is_exceeded():
    async with running("perplexity", latency=0.05, capacity=24, retry_after=0.05) as emu:
        b = _defaults(emu)
        try:
            assert all(o.ok for o in await _search_all(b, 300, "before"))
            assert emu.stats.peak == 24
            async with aiohttp.ClientSession() as http:  # the provider now takes fewer
                async with http.post(emu.root + "/_config", json={"capacity": 6}) as r:
                    assert r.status == 200
            emu.reset()
            outs = await _search_all(b, 200, "after")
        finally:
            await b.aclose()
    assert all(o.ok for o in outs)  # the 429s were retried
    assert emu.stats.rejected > 0  # it was told
    assert b.limiter.limit <= 8  # and it came down to what the provider takes
    late = emu.stats.requests[len(emu.stats.requests) // 2 :]
    assert sum(r.fault == "capacity" for r in late) <= 0.15 * len(late)


async def test_the_limit_does_not_grow_into_a_provider_that_queues():
    """A local model server takes 4 at once and queues the rest: nothing says 429, only the
    latency rises with the calls in flight. The limit grows from its start while calls take
    their normal time and stops near where the queue begins, far below its ceiling.

    The answers take 0.1 s: on a busy machine this process's event loop (the emulator's too)
    runs some 20 ms late, and with 40 ms answers that noise alone broke a bound in six runs
    of twenty-five (slow start overshooting, or the normal latency taken as risen)."""
    async with running("llm", latency=0.1, capacity=4, queue=True) as emu:
        async with _llm(emu, start=2) as c:
            outs = await _complete_all(c, 200, "queue")
    assert all(o.ok for o in outs)
    limits = [limit for _, limit in c.limiter.history]
    assert max(limits) >= 4  # it grew to the provider's capacity
    assert max(limits) <= 32  # slow start overshoots by a round trip or two, no more
    assert c.limiter.limit <= 12  # held within 3 x the capacity
    assert emu.stats.peak_queued <= 28


async def test_latency_blowing_up_cuts_and_a_provider_slower_by_itself_costs_one_cut():
    async with running("llm", latency=0.05) as emu:
        async with _llm(emu, start=4, ceiling=32) as c:
            assert all(o.ok for o in await _complete_all(c, 200, "fast"))
            grown, cuts = c.limiter.limit, c.limiter.cuts
            normal = c.limiter.normal_latency
            assert grown >= 16 and normal is not None and normal < 0.1
            async with aiohttp.ClientSession() as http:  # every answer now takes 5 x as long
                async with http.post(emu.root + "/_config", json={"latency": 0.25}) as r:
                    assert r.status == 200
            assert all(o.ok for o in await _complete_all(c, 200, "slow"))
    assert 1 <= c.limiter.cuts - cuts <= 2  # latency blew up: cut (once more, on a busy machine)
    # fewer calls were not faster: the new latency is the normal one, and the limit grows
    # back instead of being cut again and again
    assert c.limiter.normal_latency is not None and c.limiter.normal_latency >= 0.2
    assert c.limiter.limit >= grown // 2


async def test_a_provider_that_refuses_lets_slow_start_grow_before_the_first_answer():
    """Perplexity answers 429 at once when it cannot take a call: a call still running after
    a moment was taken, so a burst does not wait a round trip per doubling."""
    async with running("perplexity", latency=1.2) as emu:
        b = _defaults(emu)
        try:
            outs = await _search_all(b, 80, "burst")
        finally:
            await b.aclose()
    assert all(o.ok for o in outs)
    first_answer = min(r.start_s + (r.ms or 0) / 1000 for r in emu.stats.requests)
    sent_before = sum(r.start_s < first_answer for r in emu.stats.requests)
    # 10 at first, then doubling while nothing had come back yet, up to the ceiling (64);
    # growing by the calls taken once each would have sent 50 at most, on answers alone 10
    assert sent_before >= 60


async def test_slow_start_counts_a_call_taken_after_twice_the_round_trip_to_the_provider():
    """A refusal needs one network round trip: the web client measures the fastest connection
    set-up (over loopback, well under a millisecond), and slow start counts a call still
    running after twice that (at least `TAKEN_MIN`) as taken, instead of the 0.1 s it
    assumes while the round trip is unknown; a slow refusal makes it wait longer again."""
    async with running("perplexity", latency=0.3, fault_on=["slow=429*1"]) as emu:
        b = _defaults(emu)
        try:
            assert b.http.round_trip is None
            assert b.limiter._taken_wait() >= AdaptiveLimiter.TAKEN_AFTER  # unknown: 0.1 s
            [out] = await _search_all(b, 1, "fast")
            assert out.ok
            rtt = b.http.round_trip
            assert rtt is not None and 0 < rtt < 0.05  # a loopback connect, not the answer
            wait = b.limiter._taken_wait()
            assert AdaptiveLimiter.TAKEN_MIN <= wait < AdaptiveLimiter.TAKEN_AFTER
            # a refusal that came 0.3 s after the call left: the wait is twice that now
            [out] = await _search_all(b, 1, "slow")
            assert out.ok and sum(r.status == 429 for r in emu.stats.requests) == 1
            assert b.limiter._taken_wait() >= 0.6
        finally:
            await b.aclose()
