"""Against a real uvicorn on loopback: the event stream (order, shape, disconnect) and 50
concurrent users."""

from __future__ import annotations

import asyncio

import httpx

from ..conftest import children_named
from .kit import (
    Echo,
    Grep,
    Sleepy,
    app_with,
    body,
    eventually,
    read_sse,
    settings_for,
    uvicorn_server,
)


async def test_stream_sends_each_fulfillers_cards_as_it_finishes_then_done(code_tree):
    slow = Sleepy(delay=0.4)
    app = app_with(settings_for(code_tree.parent), Echo(), Grep(), slow)
    seen_while_slow_ran: list[str] = []

    def on_event(ev) -> None:
        if slow.meter.now > 0:  # the slow fulfiller is still sleeping right now
            seen_while_slow_ran.append(ev.event)

    async with uvicorn_server(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        async with client.stream("POST", "/fulfill/stream", json=body("st", scope=code_tree)) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            assert r.headers["cache-control"] == "no-cache"
            events = await read_sse(r, on_event)
        feed = (await client.get("/cached/st")).json()

    kinds = [e.event for e in events]
    assert kinds[-1] == "done" and kinds.count("done") == 1
    assert kinds.count("fulfiller") == 3
    # ids increase by one
    assert [int(e.id) for e in events] == list(range(1, len(events) + 1))
    # a fulfiller's cards come right before its own `fulfiller` event
    order: list[str] = []
    for e in events:
        if e.event == "card":
            order.append(e.data["metadata"]["source"])
        elif e.event == "fulfiller":
            order.append("/" + e.data["name"])
    assert order.index("/slow") == len(order) - 1
    assert order[order.index("slow") :] == ["slow", "/slow"]
    for name in ("echo", "grep"):
        assert order.index(name) < order.index("/" + name) < order.index("slow")
    # the fast fulfillers' cards reached the client while the slow one was still running
    assert "card" in seen_while_slow_ran and "fulfiller" in seen_while_slow_ran
    # shapes: a card is a card; `fulfiller` has the timing; `done` is POST /fulfill's body
    card = next(e.data for e in events if e.event == "card")
    assert set(card) == {"header", "text", "type", "metadata"}
    timing = next(e.data for e in events if e.event == "fulfiller" and e.data["name"] == "grep")
    assert timing["timing"]["ok"] is True and timing["timing"]["queries"]
    done = events[-1].data
    assert set(done) == {"cards", "processing", "timings"}
    assert done["processing"] is False
    assert len(done["cards"]) == kinds.count("card") == 4
    assert list(done["timings"]["fulfillers"]) == ["echo", "grep", "slow"]
    # the streamed cards landed in the feed too
    assert sorted(c["text"] for c in feed["cards"]) == sorted(c["text"] for c in done["cards"])
    assert feed["processing"] is False


async def test_closing_the_stream_cancels_the_work_and_kills_rg(code_tree, slow_rg, rg_binary):
    slow = Sleepy(delay=10)
    app = app_with(settings_for(code_tree.parent), Grep(), slow, rg_binary=slow_rg)
    async with uvicorn_server(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        async with client.stream("POST", "/fulfill/stream", json=body("dc", scope=code_tree)) as r:
            assert r.status_code == 200
            await eventually(lambda: len(children_named(rg_binary)) == 1 and slow.meter.started)
        # the client hung up: the fulfillers are cancelled and the rg processes reaped
        await eventually(lambda: not children_named(rg_binary) and slow.meter.cancelled)

        async def idle() -> bool:
            return not (await client.get("/cached/dc")).json()["processing"]

        await eventually(idle)
        metrics = (await client.get("/metrics")).text
    assert slow.meter.finished == []
    assert 'parallizer_runs_total{end="disconnected",mode="stream"}' in metrics


async def test_a_sync_request_whose_client_hangs_up_stops_and_kills_rg(
    code_tree, slow_rg, rg_binary
):
    slow = Sleepy(delay=10)
    app = app_with(settings_for(code_tree.parent), Grep(), slow, rg_binary=slow_rg)
    async with uvicorn_server(app) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            pending = asyncio.create_task(client.post("/fulfill", json=body("hu", scope=code_tree)))
            await eventually(lambda: len(children_named(rg_binary)) == 1 and slow.meter.started)
            pending.cancel()  # the client gives up: its connection closes
            try:
                await pending
            except asyncio.CancelledError:
                pass
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            await eventually(lambda: not children_named(rg_binary) and slow.meter.cancelled)
            metrics = (await client.get("/metrics")).text
    assert slow.meter.finished == []
    assert 'parallizer_runs_total{end="disconnected",mode="sync"}' in metrics


async def test_fifty_concurrent_users_get_their_own_cards(code_tree):
    slow = Sleepy(delay=0.2)
    app = app_with(settings_for(code_tree.parent), Echo(), Grep(), slow)
    users = [f"user-{i:02d}" for i in range(50)]

    def plan(user: str) -> str:
        return f"{user} plan\nuse `RetryPolicy` here\nnotes of {user}\n"

    async with uvicorn_server(app) as base:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
            responses = await asyncio.gather(
                *(
                    client.post("/fulfill", json=body(u, text=plan(u), scope=code_tree))
                    for u in users
                )
            )
            feeds = await asyncio.gather(*(client.get(f"/cached/{u}") for u in users))
    # the users' requests really ran at the same time (not one after another)
    assert slow.meter.peak >= 10
    for user, r, f in zip(users, responses, feeds, strict=True):
        assert r.status_code == 200, r.text
        cards = r.json()["cards"]
        assert {c["metadata"]["source"] for c in cards} == {"echo", "grep", "slow"}
        others = [u for u in users if u != user]
        for c in cards:
            if c["metadata"]["source"] != "grep":
                assert user in c["text"]
            assert not any(o in c["text"] for o in others), c["text"]
        assert sorted(c["text"] for c in f.json()["cards"]) == sorted(c["text"] for c in cards)
