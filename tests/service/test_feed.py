"""The feed stores, in memory and in a real Redis: caps, newest first, near duplicates,
expiry, generations. One behaviour suite runs against both (`make_store`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from parallizer.models import Card, CardType
from parallizer.service.feed_redis import RedisFeedStore
from parallizer.service.runs import FeedStore, MemoryFeedStore
from parallizer.stores.redis_client import RedisLink
from tests.redis_kit import RedisServer

from ..conftest import FakeTimer

MakeStore = Callable[..., FeedStore]


@pytest.fixture(params=["memory", "redis"])
async def make_store(request: pytest.FixtureRequest) -> AsyncIterator[MakeStore]:
    links: list[RedisLink] = []

    def make(**kw) -> FeedStore:
        if request.param == "memory":
            return MemoryFeedStore(**kw)
        server: RedisServer = request.getfixturevalue("redis_server")
        link = RedisLink(server.url, prefix=RedisServer.prefix())
        links.append(link)
        return RedisFeedStore(link, **kw)

    yield make
    for link in links:
        await link.aclose()


def card(text: str, type: CardType = CardType.question, header: str = "Q") -> Card:
    return Card.make(type=type, header=header, text=text, source="t")


async def _merge(store: FeedStore, user: str, *cards: Card):
    gen = await store.begin(user)
    result = await store.merge(user, list(cards), generation=gen)
    await store.finish(user, generation=gen)
    return result


async def test_it_is_a_feed_store(make_store: MakeStore):
    assert isinstance(make_store(), FeedStore)


async def test_at_most_max_per_type_newest_first_per_type(make_store: MakeStore):
    store = make_store(max_per_type=3)
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


async def test_near_duplicates_are_dropped_within_a_batch_and_replace_older_cards(make_store: MakeStore):
    store = make_store()
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


async def test_similar_text_of_another_type_or_different_meaning_is_kept(make_store: MakeStore):
    store = make_store()
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


async def test_last_updated_and_processing(make_store: MakeStore):
    clock = iter([100.0, 200.0, 300.0])
    store = make_store(clock=lambda: next(clock))
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


async def test_concurrent_requests_for_one_user_keep_the_invariants(make_store: MakeStore):
    store = make_store(max_per_type=3)

    gens: dict[int, int] = {}

    async def request(i: int) -> None:
        gen = gens[i] = await store.begin("u")
        for k in range(3):
            await asyncio.sleep(0)  # interleave with the other requests
            text = ["Where does module {} live?", "Who owns budget line {}", "Drop feature {}?"][k]
            await store.merge("u", [card(text.format(i))], generation=gen)
        await store.finish("u", generation=gen)

    await asyncio.gather(*(request(i) for i in range(30)))
    snap = await store.get("u")
    assert not snap.processing
    assert len(snap.cards) == 3
    # only the latest request's cards (the last to begin: in memory the last one started,
    # in Redis the last to reach it): every other one was superseded before it merged
    last = max(gens, key=gens.__getitem__)
    assert sorted(c.text for c in snap.cards) == [
        f"Drop feature {last}?",
        f"Where does module {last} live?",
        f"Who owns budget line {last}",
    ]


async def test_redis_feed_expires_by_ttl_and_polling_renews_it(redis_server: RedisServer):
    link = RedisLink(redis_server.url, prefix=RedisServer.prefix())
    store = RedisFeedStore(link, ttl=60)
    try:
        await _merge(store, "u", card("a question for u"))
        key = link.key("feed", "u")
        await link.client.pexpire(key, 5_000)  # as if it had idled for 55 s
        assert await store.get("u") is not None
        assert 55_000 < await link.client.pttl(key) <= 60_000  # polling renewed the TTL
        await link.client.delete(key)  # what expiry does
        assert await store.get("u") is None
    finally:
        await link.aclose()


async def test_two_stores_on_one_redis_are_one_feed(redis_server: RedisServer):
    """Two workers: merges from both land, none is lost, generations are shared."""
    prefix = RedisServer.prefix()
    links = [RedisLink(redis_server.url, prefix=prefix) for _ in range(2)]
    a, b = (RedisFeedStore(link, max_per_type=50) for link in links)
    try:
        gen = await a.begin("u")
        words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
        texts = [f"{w} {v}" for w in words for v in ("quota", "ledger", "cache")]
        await asyncio.gather(
            *(
                (a if i % 2 else b).merge("u", [card(t)], generation=gen)
                for i, t in enumerate(texts)
            )
        )
        snap = await b.get("u")
        assert sorted(c.text for c in snap.cards) == sorted(texts)
        newer = await b.begin("u")
        assert newer > gen
        stale = await a.merge("u", [card("late answer of the old request")], generation=gen)
        assert not stale.accepted
        await a.finish("u", generation=gen)  # the old request ending does not clear it
        assert (await b.get("u")).processing
        assert await a.clear("u") is True
        assert (await b.get("u")).cards == []
    finally:
        for link in links:
            await link.aclose()


async def test_a_card_sent_again_with_its_id_replaces_the_earlier_one(make_store: MakeStore):
    """An improved card (same `metadata.id`, new text) takes the place of the early one, even
    when the texts are not alike; two new cards with one id keep the first."""
    store = make_store(max_per_type=3)
    early = Card.make(type=CardType.context, header="`Cart`", text="found by rg", source="t",
                      key="Cart")  # fmt: skip
    other = card("Which rounding?")
    await _merge(store, "u", early, other)
    better = Card.make(type=CardType.context, header="`Cart` — class cart.py:6",
                       text="Class `Cart` at `src/shop/cart.py:6`, used in 3 files", source="t",
                       key="Cart")  # fmt: skip
    twin = better.model_copy(update={"text": "a second version in the same batch"})
    r = await _merge(store, "u", better, twin)
    assert (r.replaced, r.duplicates) == (1, 1)
    snap = await store.get("u")
    assert [c.text for c in snap.cards] == [better.text, other.text]
    assert snap.cards[0].metadata.id == early.metadata.id
