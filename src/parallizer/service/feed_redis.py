"""The per-user feed in Redis, for several workers or hosts serving as one.

Same rules and protocol as `MemoryFeedStore` (service/runs.py): generations from one
counter (`INCR`), the one merge (`runs.merge_cards`), idle expiry, `processing` and `last_updated`.
Each user's feed is one JSON value with a TTL (refreshed by every touch, so only idle users
expire); a sorted set of users by last touch counts active users. Every change is a
read-modify-write under `WATCH`/`MULTI`: when two workers merge into the same feed at once,
one of them retries on the fresh value, so no merge is lost.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis import exceptions as rexc

from ..limits import Backoff
from ..models import Card
from ..stores.redis_client import RedisLink
from . import metrics
from .runs import FeedSnapshot, MergeResult, merge_cards

MAX_RETRIES = 64  # optimistic transactions lost to a concurrent writer before giving up


@dataclass
class _Feed:
    generation: int
    cards: list[Card] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    processing: bool = False
    last_updated: float | None = None

    def encode(self) -> bytes:
        return json.dumps(
            {
                "g": self.generation,
                "c": [c.model_dump(mode="json") for c in self.cards],
                "k": self.keys,
                "p": self.processing,
                "u": self.last_updated,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, raw: bytes | None) -> _Feed | None:
        if raw is None:
            return None
        d = json.loads(raw)
        return cls(
            generation=int(d["g"]),
            cards=[Card.model_validate(c) for c in d["c"]],
            keys=list(d["k"]),
            processing=bool(d["p"]),
            last_updated=d["u"],
        )


class RedisFeedStore:
    def __init__(
        self,
        link: RedisLink,
        *,
        max_per_type: int = 3,
        ttl: float = 3600.0,
        similarity: float = 90.0,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.time,
    ) -> None:
        """`clock` dates `last_updated`; `timer` (wall time: shared by every host) dates
        activity, for counting active users."""
        if max_per_type < 1:
            raise ValueError("max_per_type must be >= 1")
        self.link = link
        self.max_per_type = max_per_type
        self.ttl_ms = max(1, int(ttl * 1000))
        self.ttl = ttl
        self.similarity = similarity
        self._clock = clock
        self._timer = timer
        self._gen_key = link.key("feed-generation")
        self._users_key = link.key("feed-users")

    def _key(self, user_id: str) -> str:
        return self.link.key("feed", user_id)

    async def _update(
        self, user_id: str, change: Callable[[_Feed | None], _Feed | None]
    ) -> _Feed | None:
        """Read the feed, apply `change` (None: write nothing), write it back atomically."""
        key = self._key(user_id)

        async def transact(r: Any) -> _Feed | None:
            backoff = Backoff(0.001, 0.01, jitter=True)  # writers that raced: not in step
            async with r.pipeline(transaction=True) as pipe:
                for _ in range(MAX_RETRIES):
                    try:
                        await pipe.watch(key)
                        feed = change(_Feed.decode(await pipe.get(key)))
                        if feed is None:
                            await pipe.unwatch()
                            return None
                        pipe.multi()
                        pipe.set(key, feed.encode(), px=self.ttl_ms)
                        pipe.zadd(self._users_key, {user_id: self._timer()})
                        await pipe.execute()
                        return feed
                    except rexc.WatchError:
                        await backoff.sleep()
                raise rexc.ConnectionError("too many concurrent writers to one feed")

        return await self.link.call(transact)

    async def _next_generation(self) -> int:
        return int(await self.link.call(lambda r: r.incr(self._gen_key)))

    # --- the FeedStore protocol -------------------------------------------------------------

    async def begin(self, user_id: str) -> int:
        gen = await self._next_generation()

        def change(feed: _Feed | None) -> _Feed | None:
            if feed is not None and feed.generation > gen:
                return None  # a newer request began in between: this one is superseded
            feed = feed or _Feed(generation=gen)
            feed.generation = gen
            feed.processing = True
            return feed

        await self._update(user_id, change)
        return gen

    async def merge(self, user_id: str, cards: Sequence[Card], *, generation: int) -> MergeResult:
        outcome: list[MergeResult] = []

        def change(feed: _Feed | None) -> _Feed | None:
            outcome.clear()
            if feed is None:  # expired while its request ran: still the latest one
                feed = _Feed(generation=generation, processing=True)
            if feed.generation != generation:
                outcome.append(MergeResult(accepted=False))
                return None
            feed.cards, feed.keys, result = merge_cards(
                feed.cards,
                feed.keys,
                cards,
                max_per_type=self.max_per_type,
                similarity=self.similarity,
            )
            if result.changed:
                feed.last_updated = self._clock()
            outcome.append(result)
            return feed

        await self._update(user_id, change)
        result = outcome[0]
        if not result.accepted:
            metrics.FEED_EVENTS.labels("stale").inc(len(cards) or 1)
        for event in ("added", "duplicates", "replaced", "evicted"):
            if n := getattr(result, event):
                metrics.FEED_EVENTS.labels(event).inc(n)
        return result

    async def finish(self, user_id: str, *, generation: int | None) -> None:
        def change(feed: _Feed | None) -> _Feed | None:
            if feed is None or not feed.processing:
                return None
            if generation is not None and generation != feed.generation:
                return None
            feed.processing = False
            return feed

        await self._update(user_id, change)

    async def get(self, user_id: str) -> FeedSnapshot | None:
        key = self._key(user_id)

        async def read(r: Any) -> bytes | None:
            async with r.pipeline(transaction=True) as pipe:
                pipe.get(key)
                pipe.pexpire(key, self.ttl_ms)  # a polling editor keeps its feed alive
                pipe.zadd(self._users_key, {user_id: self._timer()}, xx=True)
                raw, *_ = await pipe.execute()
                return raw if isinstance(raw, bytes) else None

        feed = _Feed.decode(await self.link.call(read))
        if feed is None:
            metrics.FEED_EVENTS.labels("miss").inc()
            return None
        metrics.FEED_EVENTS.labels("hit").inc()
        return FeedSnapshot(
            cards=feed.cards, last_updated=feed.last_updated, processing=feed.processing
        )

    async def clear(self, user_id: str) -> bool:
        gen = await self._next_generation()
        had: list[bool] = []

        def change(feed: _Feed | None) -> _Feed:
            had[:] = [feed is not None and bool(feed.cards or feed.processing)]
            # a tombstone with a fresh generation: results of requests begun before are refused
            return _Feed(generation=gen, last_updated=self._clock() if had[0] else None)

        await self._update(user_id, change)
        metrics.FEED_EVENTS.labels("cleared").inc()
        return had[0]

    async def users(self) -> int:
        cutoff = self._timer() - self.ttl

        async def count(r: Any) -> int:
            async with r.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(self._users_key, "-inf", cutoff)
                pipe.zcard(self._users_key)
                _, n = await pipe.execute()
                return int(n)

        n = await self.link.call(count)
        metrics.FEED_USERS.set(n)
        return n

    async def aclose(self) -> None:
        """The feeds stay in Redis for the other workers; the link is closed by its owner."""
