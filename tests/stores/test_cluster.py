"""Several `parallizer serve` processes (as several hosts behind a load balancer) sharing one
real Redis behave as one service: a new connection per request, to any of them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from parallizer.emulators import running
from tests.redis_kit import RedisServer
from tests.service.kit import Server, body, metric_value, serve

pytestmark = pytest.mark.timeout(120)

NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)


@contextlib.asynccontextmanager
async def cluster(n: int, **env: str) -> AsyncIterator[list[Server]]:
    async with contextlib.AsyncExitStack() as stack:
        servers = await asyncio.gather(*(stack.enter_async_context(serve(**env)) for _ in range(n)))
        yield list(servers)


def client(server: Server) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base, timeout=30, limits=NO_KEEPALIVE)


async def settled(server: Server, user: str, within: float = 20.0) -> dict:
    """The user's feed on `server` once no request of theirs is processing."""
    async with client(server) as c, asyncio.timeout(within):
        while True:
            r = await c.get(f"/cached/{user}")
            if r.status_code == 200:  # 503 while Redis is away
                feed = r.json()
                if not feed["processing"] and feed["cards"]:
                    return feed
            await asyncio.sleep(0.05)


async def test_cards_and_deletes_are_seen_by_every_worker(tmp_path: Path, redis_server):
    env = {"PARALLIZER_REDIS_URL": redis_server.fresh_url(), "PARALLIZER_ALLOWED_ROOTS": str(tmp_path)}
    async with cluster(3, **env) as servers:
        users = [f"poll-{i}" for i in range(30)]
        for i, user in enumerate(users):
            async with client(servers[i % 3]) as c:
                r = await c.post(
                    "/fulfill", params={"background": "true"}, json=body(user, fulfillers=["echo"])
                )
                assert r.status_code == 200, r.text
        # polled on another worker than the one that did the work: never an empty feed
        feeds = await asyncio.gather(
            *(settled(servers[(i + 1) % 3], u) for i, u in enumerate(users))
        )
        assert all(f["cards"][0]["header"] == f"Question for {u}" for f, u in zip(feeds, users, strict=True))
        for i, user in enumerate(users[:10]):
            async with client(servers[i % 3]) as c:
                assert (await c.delete(f"/user/{user}/feed")).json()["status"] == "success"
        for server in servers:
            async with client(server) as c:
                for user in users[:10]:
                    assert (await c.get(f"/cached/{user}")).json()["cards"] == []
                health = (await c.get("/health")).json()
                assert health["redis"]["available"] and health["status"] == "healthy"
                assert health["active_users"] == 30


async def test_a_newer_request_on_another_worker_supersedes_the_running_one(
    tmp_path: Path, redis_server
):
    env = {
        "PARALLIZER_REDIS_URL": redis_server.fresh_url(),
        "PARALLIZER_ALLOWED_ROOTS": str(tmp_path),
        "PARALLIZER_TEST_DELAY": "30",
    }
    async with cluster(2, **env) as (a, b):
        async with client(a) as ca, client(b) as cb:
            r = await ca.post(
                "/fulfill", params={"background": "true"}, json=body("same", fulfillers=["slow"])
            )
            assert r.json()["processing"] is True
            r = await cb.post("/fulfill", json=body("same", fulfillers=["echo"]))
            assert r.status_code == 200
            # worker a heard of it and cancelled its (30 s) run at once
            async with asyncio.timeout(10):
                while True:
                    text = (await ca.get("/metrics")).text
                    if metric_value(
                        text, "parallizer_runs_total", mode="background", end="superseded"
                    ):
                        break
                    await asyncio.sleep(0.05)
            feed = (await ca.get("/cached/same")).json()
            assert [c["header"] for c in feed["cards"]] == ["Question for same"]
            assert feed["processing"] is False


async def test_identical_searches_make_one_remote_call_and_the_web_limit_holds(
    tmp_path: Path, redis_server
):
    (tmp_path / "plan.md").write_text("x")
    async with running("perplexity", latency=0.3, api_key="k-cluster") as emu:
        env = {
            "PARALLIZER_REDIS_URL": redis_server.fresh_url(),
            "PARALLIZER_ALLOWED_ROOTS": str(tmp_path),
            "PERPLEXITY_API_KEY": "k-cluster",
            "PARALLIZER_PERPLEXITY_URL": emu.url,
            "PARALLIZER_WEB_MAX_CONCURRENT": "3",
        }
        async with cluster(3, factory=None, **env) as servers:
            plan = "# Retry budget\n\nHow should `RetryPolicy` back off under load?\n"

            async def ask(i: int, text: str) -> dict:
                async with client(servers[i % 3]) as c:
                    r = await c.post(
                        "/fulfill",
                        json=body(f"web-{i}", text=text, fulfillers=["web_context"]),
                    )
                    assert r.status_code == 200, r.text
                    return r.json()

            await asyncio.gather(*(ask(i, plan) for i in range(24)))
            texts = emu.stats.texts()
            assert texts and len(texts) == len(set(texts))  # one call per distinct search
            emu.reset()
            plans = [f"# Topic {i}\n\nHow should `Shard{i}Router` rebalance?\n" for i in range(24)]
            await asyncio.gather(*(ask(i, p) for i, p in enumerate(plans)))
            assert len(emu.stats.texts()) >= 24
            assert emu.stats.peak <= 3  # the limit is the provider's, not each worker's


async def test_redis_stopped_and_started_mid_run_loses_nothing_acknowledged(tmp_path: Path):
    redis = RedisServer(tmp_path / "redis", persist=True)
    (tmp_path / "redis").mkdir()
    redis.start()
    env = {
        "PARALLIZER_REDIS_URL": redis.url,
        "PARALLIZER_ALLOWED_ROOTS": str(tmp_path),
        "PARALLIZER_TEST_DELAY": "1.0",
    }
    try:
        async with cluster(2, **env) as servers:
            users = [f"outage-{i}" for i in range(6)]
            for i, user in enumerate(users):
                async with client(servers[i % 2]) as c:
                    r = await c.post(
                        "/fulfill",
                        params={"background": "true"},
                        json=body(user, fulfillers=["slow"]),
                    )
                    assert r.status_code == 200  # acknowledged: it must land
            redis.stop()  # while every run is still going
            async with client(servers[0]) as c:
                r = await c.get(f"/cached/{users[0]}")
                assert r.status_code == 503 and "unavailable" in r.json()["detail"]
                r = await c.post("/fulfill", json=body("during", fulfillers=["echo"]))
                assert r.status_code == 200  # answered, with its own cards
                assert [card["header"] for card in r.json()["cards"]] == ["Question for during"]
                r = await c.post(
                    "/fulfill",
                    params={"background": "true"},
                    json=body("during-bg", fulfillers=["echo"]),
                )
                assert r.status_code == 503  # nowhere to land: not acknowledged
                health = (await c.get("/health")).json()
                assert health["status"] == "degraded" and not health["redis"]["available"]
            await asyncio.sleep(1.5)  # the runs finish while Redis is away
            redis.start()
            try:
                feeds = await asyncio.gather(*(settled(servers[1], u, within=30) for u in users))
            except TimeoutError:
                print("\n".join([*servers[0].lines, "-----", *servers[1].lines]))  # for CI
                raise
            assert all(f["cards"] and f["cards"][0]["type"] == "completion" for f in feeds)
            async with client(servers[1]) as c:
                assert (await c.get("/health")).json()["status"] == "healthy"
    finally:
        redis.stop()
