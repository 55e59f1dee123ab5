"""A new request of a user cancels the user's running one (its rg processes killed), and
late results never overwrite newer ones: sync, background and stream."""

from __future__ import annotations

import asyncio
import re

import httpx

from parallizer.models import Card, CardType
from parallizer.service.runs import MemoryFeedStore

from ..conftest import children_named
from .kit import (
    Echo,
    Grep,
    Sleepy,
    app_with,
    asgi_client,
    body,
    eventually,
    read_sse,
    settings_for,
    uvicorn_server,
)


async def _settled(client: httpx.AsyncClient, user: str) -> dict:
    """The user's feed once their request is done."""
    last: dict = {}

    async def idle() -> bool:
        last.update((await client.get(f"/cached/{user}")).json())
        return not last["processing"]

    await eventually(idle, within=10)
    return last


async def test_newer_request_kills_the_older_ones_rg_and_only_its_cards_land(
    code_tree, slow_rg, rg_binary
):
    app = app_with(settings_for(code_tree.parent), Echo(), Grep(), rg_binary=slow_rg)
    async with asgi_client(app) as client:
        r = await client.post(
            "/fulfill?background=true", json=body("s1", scope=code_tree, fulfillers=["grep"])
        )
        assert r.json()["processing"] is True
        # the old request's rg pass is running (it sleeps 5 s on every file; its two
        # searches share one rg process)
        await eventually(lambda: len(children_named(rg_binary)) == 1, what="rg running")
        r = await client.post("/fulfill", json=body("s1", fulfillers=["echo"]))
        assert r.status_code == 200
        assert [c["metadata"]["source"] for c in r.json()["cards"]] == ["echo"]
        # the superseded request's rg processes were killed and reaped
        assert children_named(rg_binary) == []
        feed = await _settled(client, "s1")
        assert [c["metadata"]["source"] for c in feed["cards"]] == ["echo"]
        metrics = (await client.get("/metrics")).text
    assert 'parallizer_runs_total{end="superseded",mode="background"}' in metrics


async def test_a_superseded_sync_request_answers_with_the_feed_and_says_so(code_tree):
    slow = Sleepy(delay=10)
    app = app_with(settings_for(code_tree.parent), Echo(), slow)
    async with asgi_client(app) as client:
        old = asyncio.create_task(client.post("/fulfill", json=body("s2", fulfillers=["slow"])))
        await eventually(lambda: slow.meter.started)
        new = await client.post("/fulfill", json=body("s2", fulfillers=["echo"]))
        old = await old
    assert new.status_code == 200 and "x-parallizer-cancelled" not in new.headers
    assert old.status_code == 200
    assert old.headers["x-parallizer-cancelled"] == "superseded"
    assert set(old.json()) == {"cards", "processing"} and old.json()["processing"] is True
    assert slow.meter.cancelled == ["s2:# Retry plan"] and slow.meter.finished == []


async def test_rapid_requests_of_one_user_only_the_last_one_lands(code_tree):
    slow = Sleepy(delay=0.2)
    app = app_with(settings_for(code_tree.parent), slow)
    async with asgi_client(app) as client:
        for i in range(5):
            text = f"draft {i}\nmore"
            r = await client.post("/fulfill?background=true", json=body("s3", text=text))
            assert r.json()["processing"] is True
        feed = await _settled(client, "s3")
    assert [c["text"] for c in feed["cards"]] == ["s3 continues 'draft 4' after 0.2s"]
    assert slow.meter.finished == ["s3:draft 4"]
    # the older ones were cancelled while sleeping, or before they even began
    assert set(slow.meter.cancelled) <= {f"s3:draft {i}" for i in range(4)}
    assert set(slow.meter.started) == set(slow.meter.cancelled) | {"s3:draft 4"}


async def test_concurrent_requests_of_one_user_leave_a_consistent_feed(code_tree):
    slow = Sleepy(delay=0.05)
    app = app_with(settings_for(code_tree.parent), Echo(), slow)
    async with asgi_client(app) as client:
        rs = await asyncio.gather(
            *(
                client.post("/fulfill", json=body("same", text=f"v{i}\nline {i}\n"))
                for i in range(20)
            )
        )
        assert all(r.status_code == 200 for r in rs)
        done = [r for r in rs if "x-parallizer-cancelled" not in r.headers]
        assert len(done) >= 1
        feed = await _settled(client, "same")
    # both cards in the feed come from one and the same request, one that was not cancelled
    texts = sorted(c["text"] for c in feed["cards"])
    assert len(texts) == 2
    [i] = {int(m) for m in re.findall(r"(?:line |'v)(\d+)", " ".join(texts))}
    assert texts == sorted(
        [f"What does same mean by: line {i}?", f"same continues 'v{i}' after 0.05s"]
    )
    assert "x-parallizer-cancelled" not in rs[i].headers


async def test_a_superseded_stream_ends_with_a_superseded_event(code_tree):
    slow = Sleepy(delay=10)
    app = app_with(settings_for(code_tree.parent), Echo(), slow)
    async with uvicorn_server(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:

        async def stream() -> list:
            async with client.stream(
                "POST", "/fulfill/stream", json=body("s4", fulfillers=["echo", "slow"])
            ) as r:
                return await read_sse(r)

        old = asyncio.create_task(stream())
        await eventually(lambda: slow.meter.started)
        new = await client.post("/fulfill", json=body("s4", fulfillers=["echo"]))
        events = await old
    assert new.status_code == 200
    assert [e.event for e in events] == ["card", "fulfiller", "superseded"]
    assert slow.meter.cancelled == ["s4:# Retry plan"]


async def test_results_of_an_older_generation_are_refused_by_the_store():
    store = MemoryFeedStore()
    card = Card.make(type=CardType.question, header="Q", text="old", source="t")
    newer = Card.make(type=CardType.question, header="Q", text="a newer question", source="t")
    g1 = await store.begin("u")
    g2 = await store.begin("u")
    assert g2 > g1
    assert (await store.merge("u", [newer], generation=g2)).accepted
    late = await store.merge("u", [card], generation=g1)
    assert not late.accepted
    await store.finish("u", generation=g1)  # the old one ending does not stop `processing`
    snap = await store.get("u")
    assert snap is not None and snap.processing
    assert [c.text for c in snap.cards] == ["a newer question"]
    await store.finish("u", generation=g2)
    assert not (await store.get("u")).processing
    # after a clear, a request begun before it cannot bring its cards back
    g3 = await store.begin("u")
    await store.clear("u")
    assert not (await store.merge("u", [card], generation=g3)).accepted
    assert (await store.get("u")).cards == []
