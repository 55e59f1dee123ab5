"""Limits, answers and superseding shared through a real Redis by several "workers" (each
with its own connection), and what each does when Redis is not there."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import aiohttp
import pytest

from parallizer.limits import Limiter
from parallizer.stores.redis_client import RedisLink, RedisUnavailable
from parallizer.stores.redis_limits import RedisLimiter
from parallizer.stores.registry import RequestRegistry
from parallizer.stores.shared_cache import SharedFlights
from tests.redis_kit import RedisServer, free_port

Links = Callable[[int], list[RedisLink]]


@pytest.fixture
async def links(redis_server: RedisServer) -> AsyncIterator[Links]:
    made: list[RedisLink] = []
    prefix = RedisServer.prefix()

    def make(n: int) -> list[RedisLink]:
        out = [RedisLink(redis_server.url, prefix=prefix) for _ in range(n)]
        made.extend(out)
        return out

    yield make
    for link in made:
        await link.aclose()


def dead_link() -> RedisLink:
    return RedisLink(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.5)


async def test_a_limit_holds_across_workers(links: Links):
    # three workers, each with a local limit of 3: together never more than 3 either
    workers = [RedisLimiter(link, Limiter("web", 3)) for link in links(3)]
    now = peak = 0

    async def call(limiter: RedisLimiter) -> None:
        nonlocal now, peak
        async with limiter.slot():
            now += 1
            peak = max(peak, now)
            await asyncio.sleep(0.03)
            now -= 1

    await asyncio.gather(*(call(workers[i % 3]) for i in range(18)))
    assert peak == 3  # never more than the limit, and the limit was used
    assert await workers[0].held() == 0  # every slot given back


async def test_a_crashed_workers_slot_comes_back_when_its_lease_expires(links: Links):
    a, b = links(2)
    crashed = RedisLimiter(a, Limiter("llm", 1), lease_ms=300)
    await crashed._take("dead-worker")  # taken and never given back nor renewed
    alive = RedisLimiter(b, Limiter("llm", 1))
    assert await alive.held() == 1
    async with asyncio.timeout(5):
        async with alive.slot():
            assert await alive.held() == 1
    assert await alive.held() == 0


async def test_a_limit_with_redis_gone_falls_back_to_the_process_limit():
    link = dead_link()
    limiter = RedisLimiter(link, Limiter("web", 2))
    try:
        async with asyncio.timeout(10):
            async with limiter.slot(), limiter.slot():
                assert limiter.in_flight == 2  # the local limit's slots alone
        assert not link.state.available and "unavailable" in link.state.reason
    finally:
        await link.aclose()


async def test_an_adaptive_limit_is_one_limit_for_every_worker(links: Links):
    """Three workers, each with the web backend's adaptive limit (start 2) shared through
    Redis, against a provider that takes 12 at once: together they grow the one shared
    limit to the provider's capacity (not each its own to 12, which would be 36 in flight),
    and when the provider takes fewer, one worker's 429s cut it for all of them."""
    from parallizer.backends.perplexity import PerplexityBackend
    from parallizer.emulators import running
    from parallizer.fanout import fan_out
    from tests.webkit import web_calls

    async with running("perplexity", latency=0.1, capacity=12, retry_after=0.1) as emu:
        workers, limiters = [], []
        for link in links(3):
            b = PerplexityBackend(
                api_key="k", base_url=emu.url, timeout=10, max_concurrent=64, start_concurrent=2
            )
            limiters.append(RedisLimiter(link, b.limiter, scope="shared-test"))
            workers.append(b)
        try:

            async def burst(tag: str, n: int) -> None:
                calls = [  # each worker's calls through its shared limit
                    replace(web_calls(workers[i % 3], [f"{tag} {i}"])[0], limiter=limiters[i % 3])
                    for i in range(n)
                ]
                failed = [(o.label, o.kind, o.error) for o in await fan_out(calls) if not o.ok]
                assert not failed, failed  # which calls, and why (it failed once in a full run)

            await burst("grow", 200)
            grown = await limiters[0].shared_limit()
            assert emu.stats.peak == 12  # grown from 2 to the capacity together, never past it
            assert grown is not None and grown <= 16  # one limit, not three of 12 each
            # a worker follows the shared limit at each call: one call per worker, one after
            # the other (a call of another worker may still change it afterwards; in CI one
            # did, a latency cut to 6 while the first worker's call had already ended)
            for i in range(3):
                one = replace(web_calls(workers[i], [f"one more {i}"])[0], limiter=limiters[i])
                [out] = await fan_out([one])
                assert out.ok, out.error
                now = await limiters[0].shared_limit()
                assert now is not None and abs(limiters[i].limit - now) <= 1
            async with aiohttp.ClientSession() as http:
                async with http.post(emu.root + "/_config", json={"capacity": 4}) as r:
                    assert r.status == 200
            await burst("cut", 80)
            # cut to what the provider takes now (4) for every worker: successes after the
            # cut may probe it up by a step or two before the burst ends (how many depends on
            # the machine's timing), never back toward the 12 of before
            cut = await limiters[0].shared_limit()
            assert cut is not None and cut <= 8  # not back to the 12 of before
            assert max(lim.limit for lim in limiters) <= 8
        finally:
            for b in workers:
                await b.aclose()


async def test_identical_searches_of_several_workers_make_one_call(links: Links):
    calls = 0

    async def search() -> dict[str, str]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.1)
        return {"answer": "forty-two"}

    def flights(link: RedisLink) -> SharedFlights[dict[str, str]]:
        return SharedFlights(link, encode=lambda v: json.dumps(v).encode(), decode=json.loads)

    workers = [flights(link) for link in links(3)]
    for ttl in (60.0, 0.0):  # with the cache on, and off (in-flight sharing only)
        calls = 0
        key = ("web", "perplexity", f"what is the answer (ttl {ttl})")
        got = await asyncio.gather(*(workers[i % 3].run(key, ttl, search) for i in range(12)))
        assert calls == 1
        assert {v["answer"] for v, _ in got} == {"forty-two"}
        assert sorted(h for _, h in got).count("own") == 1
    _, how = await workers[1].run(
        ("web", "perplexity", "what is the answer (ttl 60.0)"), 60, search
    )
    assert how == "cached" and calls == 1


async def test_a_failed_answer_is_not_shared_and_the_next_caller_retries(links: Links):
    a, b = links(2)
    results = iter([{"ok": False}, {"ok": True}])

    async def search() -> dict[str, bool]:
        return next(results)

    def flights(link: RedisLink) -> SharedFlights[dict[str, bool]]:
        return SharedFlights(
            link, encode=lambda v: json.dumps(v).encode(), decode=json.loads, ok=lambda v: v["ok"]
        )

    first, _ = await flights(a).run("k", 60, search)
    second, how = await flights(b).run("k", 60, search)
    assert (first["ok"], second["ok"], how) == (False, True, "own")


async def test_shared_answers_with_redis_gone_call_directly():
    link = dead_link()

    async def search() -> str:
        return "direct"

    flights = SharedFlights(link, encode=str.encode, decode=bytes.decode)
    try:
        assert await flights.run("k", 60, search) == ("direct", "own")
    finally:
        await link.aclose()


async def test_identical_calls_in_one_process_share_one_run_even_with_redis_gone():
    """Within a process the shared cache is a waiter-owned single flight: concurrent
    identical calls make one call (with Redis down too), and one caller cancelled leaves
    it to the others."""
    link = dead_link()
    calls = 0
    started, gate = asyncio.Event(), asyncio.Event()

    async def search() -> str:
        nonlocal calls
        calls += 1
        started.set()
        await gate.wait()
        return "direct"

    flights = SharedFlights(link, encode=str.encode, decode=bytes.decode)
    try:
        callers = [asyncio.create_task(flights.run("k", 60, search)) for _ in range(3)]
        await started.wait()
        callers[0].cancel()
        with pytest.raises(asyncio.CancelledError):
            await callers[0]
        gate.set()
        got = await asyncio.gather(*callers[1:])
        assert calls == 1
        # the first caller started the run and went away: it went on for the other two
        assert got == [("direct", "joined"), ("direct", "joined")]
        assert callers[0].cancelled()
    finally:
        await link.aclose()


async def test_a_newer_request_on_another_worker_is_heard(links: Links):
    a, b = links(2)
    heard: list[tuple[str, int]] = []
    got = asyncio.Event()

    def on_newer(user: str, gen: int) -> None:
        heard.append((user, gen))
        got.set()

    mine: list[tuple[str, int]] = []
    reg_a = RequestRegistry(a, lambda u, g: mine.append((u, g)))
    reg_b = RequestRegistry(b, on_newer)
    reg_a.start()
    reg_b.start()
    try:
        async with asyncio.timeout(5):
            await reg_a.ready.wait()
            await reg_b.ready.wait()
            await reg_a.announce("u1", 7)
            await got.wait()
        assert heard == [("u1", 7)]
        assert mine == []  # a worker does not supersede itself through Redis
    finally:
        await reg_a.aclose()
        await reg_b.aclose()


async def test_redis_state_goes_down_and_comes_back(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    link = RedisLink(server.url, socket_timeout=0.5)
    try:
        await link.ping()
        assert link.health()["available"]
        server.stop()
        with pytest.raises(RedisUnavailable):
            await link.ping()
        assert not link.health()["available"]
        server.start()
        async with asyncio.timeout(10):
            while True:
                try:
                    await link.ping()
                    break
                except RedisUnavailable:
                    await asyncio.sleep(0.05)
        assert link.health()["available"]
    finally:
        await link.aclose()
        server.stop()


async def test_the_lease_keeper_holds_a_lease_past_its_expiry_and_lets_it_lapse_after(
    links: Links,
):
    """`RedisLink.renewing`, the one lease keeper of the shared lock and the shared limit."""
    [link] = links(1)
    key = link.key("lease-test")
    await link.call(lambda r: r.set(key, b"held", px=600))
    async with link.renewing(lambda r: r.pexpire(key, 600), 600, "lease-test"):
        await asyncio.sleep(1.5)  # well past the lease: kept only by its renewals
        assert await link.call(lambda r: r.exists(key))
    await asyncio.sleep(1.0)
    assert not await link.call(lambda r: r.exists(key))  # no keeper left: it lapsed
