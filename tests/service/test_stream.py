"""Against a real uvicorn on loopback: the event stream (order, shape, disconnect) and 50
concurrent users."""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from ..conftest import children_named
from .kit import (
    Echo,
    Grep,
    Sleepy,
    app_with,
    body,
    eventually,
    metric_value,
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
    assert set(card) == {"header", "text", "type", "metadata", "new"} and card["new"] is True
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


async def test_closing_the_stream_leaves_the_work_running_into_the_feed(code_tree, rg_binary):
    slow = Sleepy(delay=1.0)
    app = app_with(settings_for(code_tree.parent), Grep(), slow, rg_binary=rg_binary)
    async with uvicorn_server(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        async with client.stream("POST", "/fulfill/stream", json=body("dc", scope=code_tree)) as r:
            assert r.status_code == 200
            await eventually(lambda: slow.meter.started)
        # the client hung up: the run goes on, its cards land in the feed, rg is reaped

        async def landed() -> bool:
            feed = (await client.get("/cached/dc")).json()
            return not feed["processing"] and len(feed["cards"]) == 3

        await eventually(landed, within=15)
        assert not children_named(rg_binary)
        metrics = (await client.get("/metrics")).text
    assert slow.meter.cancelled == [] and len(slow.meter.finished) == 1
    assert 'parallizer_runs_total{end="done",mode="stream"}' in metrics


async def test_a_sync_request_whose_client_hangs_up_still_lands_in_the_feed(code_tree, rg_binary):
    slow = Sleepy(delay=1.0)
    app = app_with(settings_for(code_tree.parent), Grep(), slow, rg_binary=rg_binary)
    async with uvicorn_server(app) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            before = (await client.get("/metrics")).text
            pending = asyncio.create_task(client.post("/fulfill", json=body("hu", scope=code_tree)))
            await eventually(lambda: slow.meter.started)
            pending.cancel()  # the client gives up (as the TUI does after 10 s)
            with contextlib.suppress(asyncio.CancelledError):
                await pending
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:

            async def landed() -> bool:
                feed = (await client.get("/cached/hu")).json()
                return not feed["processing"] and len(feed["cards"]) == 3

            await eventually(landed, within=15)
            assert not children_named(rg_binary)
            metrics = (await client.get("/metrics")).text
    assert slow.meter.cancelled == [] and len(slow.meter.finished) == 1
    assert 'parallizer_runs_total{end="done",mode="sync"}' in metrics

    # the hung-up request is counted as closed by the client (499), never as a 500
    def delta(**labels: str) -> float:
        name = "parallizer_http_request_seconds_count"
        return metric_value(metrics, name, **labels) - metric_value(before, name, **labels)

    assert delta(endpoint="/fulfill", status="499") == 1
    assert delta(status="500") == 0


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


async def test_an_improved_card_replaces_the_early_one_over_sse_and_in_the_feed(code_tree):
    """A fulfiller's early card goes out at once and lands in the feed; its improved card,
    with the same `metadata.id`, goes out again and takes the early one's place."""
    from ..test_streaming import Improving

    app = app_with(settings_for(code_tree.parent), Improving(pause=0.6))
    async with uvicorn_server(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        seen_in_feed: set[str] = set()

        async def watch_feed() -> None:  # what a polling client (the Parallax TUI) sees
            while True:
                feed = (await client.get("/cached/im")).json()
                seen_in_feed.update(c["header"] for c in feed["cards"])
                await asyncio.sleep(0.02)

        poller = asyncio.create_task(watch_feed())
        try:
            async with client.stream(
                "POST", "/fulfill/stream", json=body("im", scope=code_tree)
            ) as r:
                events = await read_sse(r)
        finally:
            poller.cancel()
        feed = (await client.get("/cached/im")).json()
    cards = [e.data for e in events if e.event == "card"]
    assert [c["header"] for c in cards] == ["early", "improved"]
    assert cards[0]["metadata"]["id"] == cards[1]["metadata"]["id"]
    assert "early" in seen_in_feed, "the early card landed while the fulfiller went on"
    assert [c["header"] for c in feed["cards"]] == ["improved"]
    done = next(e.data for e in events if e.event == "done")
    assert [c["header"] for c in done["cards"]] == ["improved"]
