"""The in-memory feed store: caps, newest first, near duplicates, expiry, generations."""

from __future__ import annotations

import asyncio

from parallizer.models import Card, CardType
from parallizer.service.feed import FeedStore, MemoryFeedStore

from ..conftest import FakeTimer


def card(text: str, type: CardType = CardType.question, header: str = "Q") -> Card:
    return Card.make(type=type, header=header, text=text, source="t")


async def _merge(store: MemoryFeedStore, user: str, *cards: Card):
    gen = await store.begin(user)
    result = await store.merge(user, list(cards), generation=gen)
    await store.finish(user, generation=gen)
    return result


async def test_it_is_a_feed_store():
    assert isinstance(MemoryFeedStore(), FeedStore)


async def test_at_most_max_per_type_newest_first_per_type():
    store = MemoryFeedStore(max_per_type=3)
    await _merge(store, "u", card("alpha one"), card("beta two"), card("ctx", CardType.context))
    r = await _merge(store, "u", card("gamma three"), card("delta four"))
    assert r.added == 2 and r.evicted == 1
    snap = await store.get("u")
    assert [c.text for c in snap.cards] == ["gamma three", "delta four", "alpha one", "ctx"]
    # another type never pushes questions out
    words = ["retry budget", "config loader", "metrics names", "auth header", "feed expiry"]
    await _merge(store, "u", *(card(f"note on the {w}", CardType.context) for w in words))
    snap = await store.get("u")
    assert [c.text for c in snap.cards if c.type == CardType.question] == [
        "gamma three",
        "delta four",
        "alpha one",
    ]
    assert [c.text for c in snap.cards if c.type == CardType.context] == [
        "note on the retry budget",
        "note on the config loader",
        "note on the metrics names",
    ]


async def test_near_duplicates_are_dropped_within_a_batch_and_replace_older_cards():
    store = MemoryFeedStore()
    r = await _merge(
        store,
        "u",
        card("Where is RetryPolicy configured?"),
        card("where is RetryPolicy configured"),  # case and punctuation only
        card("Who calls load_config at startup?"),
    )
    assert (r.added, r.duplicates) == (2, 1)
    r = await _merge(store, "u", card("Where is the RetryPolicy configured?"))
    assert (r.added, r.replaced) == (0, 1)
    snap = await store.get("u")
    assert [c.text for c in snap.cards] == [
        "Where is the RetryPolicy configured?",
        "Who calls load_config at startup?",
    ]


async def test_similar_text_of_another_type_or_different_meaning_is_kept():
    store = MemoryFeedStore()
    await _merge(
        store,
        "u",
        card("RetryPolicy is defined in src/app/retry.py:5", CardType.context),
        card("RetryPolicy is defined in src/app/retry.py:5", CardType.question),
        card("How many retries before giving up?"),
        card("How long to wait between two retries?"),
    )
    snap = await store.get("u")
    assert len(snap.cards) == 4


async def test_idle_users_expire_and_activity_keeps_a_feed_alive():
    timer = FakeTimer()
    store = MemoryFeedStore(ttl=60, timer=timer)
    await _merge(store, "idle", card("a question for idle"))
    await _merge(store, "busy", card("a question for busy"))
    for _ in range(3):
        timer.now += 40
        assert await store.get("busy") is not None  # polling is activity
    assert await store.get("idle") is None
    assert await store.users() == 1
    timer.now += 61
    assert await store.get("busy") is None
    assert await store.users() == 0


async def test_last_updated_and_processing():
    clock = iter([100.0, 200.0, 300.0])
    store = MemoryFeedStore(clock=lambda: next(clock))
    gen = await store.begin("u")
    snap = await store.get("u")
    assert snap.processing and snap.last_updated is None and snap.cards == []
    await store.merge("u", [card("first question here")], generation=gen)
    assert (await store.get("u")).last_updated == 100.0
    same = await store.merge("u", [card("first question here")], generation=gen)
    assert (same.changed, same.added, same.replaced) == (False, 0, 1)
    assert (await store.get("u")).last_updated == 100.0
    await store.finish("u", generation=gen)
    assert not (await store.get("u")).processing
    assert await store.clear("u") is True
    snap = await store.get("u")
    assert snap.cards == [] and snap.last_updated == 200.0


async def test_concurrent_requests_for_one_user_keep_the_invariants():
    store = MemoryFeedStore(max_per_type=3)

    async def request(i: int) -> None:
        gen = await store.begin("u")
        for k in range(3):
            await asyncio.sleep(0)  # interleave with the other requests
            text = ["Where does module {} live?", "Who owns budget line {}", "Drop feature {}?"][k]
            await store.merge("u", [card(text.format(i))], generation=gen)
        await store.finish("u", generation=gen)

    await asyncio.gather(*(request(i) for i in range(30)))
    snap = await store.get("u")
    assert not snap.processing
    assert len(snap.cards) == 3
    # only the latest request's cards: every other one was superseded before it merged
    assert sorted(c.text for c in snap.cards) == [
        "Drop feature 29?",
        "Where does module 29 live?",
        "Who owns budget line 29",
    ]
