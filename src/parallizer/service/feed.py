"""The per-user feed: the cards a user's editor shows, kept between requests.

A feed holds at most `max_per_type` cards of each type, newest first. A card sent again with
its `metadata.id` (improved), or a near duplicate of a card already kept (same type, similar
header and text by rapidfuzz), replaces the older one: `merge_cards`, the one merge the
memory and the Redis store (`feed_redis.py`) both apply. Idle feeds expire after `ttl`
seconds.

Every request of a user gets a *generation* from `begin()`; results are merged with their
generation and only the latest generation of that user is accepted, so a superseded
request's late results can never overwrite newer ones. `processing` is true while the
latest generation runs.

`FeedStore` is the protocol (async, so a Redis store can implement it); `MemoryFeedStore` is
the in-process implementation. Its methods never await while they read or change a feed, so
each one is atomic on the event loop: concurrent requests for the same user cannot interleave
inside a merge.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from cachetools import TTLCache
from rapidfuzz import fuzz, process, utils

from ..config import Settings
from ..models import Card, CardType
from . import metrics

__all__ = ["FeedSnapshot", "FeedStore", "MemoryFeedStore", "MergeResult", "dedupe_key"]


# --- the merge every feed store applies ------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MergeResult:
    accepted: bool
    """False when the generation is not the user's latest (a superseded request)."""
    changed: bool = False
    """The feed's cards (or their order) changed."""
    added: int = 0
    duplicates: int = 0
    replaced: int = 0
    evicted: int = 0


def dedupe_key(card: Card) -> str:
    """What two cards are compared on: header and text, lower-cased, punctuation folded."""
    return utils.default_process(f"{card.header}\n{card.text}")


def _match(key: str, others: list[str], similarity: float) -> int | None:
    """Index of the most similar of `others` at or above the cut-off, or None."""
    if not others:
        return None
    hit = process.extractOne(
        key, others, scorer=fuzz.ratio, processor=None, score_cutoff=similarity
    )
    return None if hit is None else hit[2]


def merge_cards(
    old: Sequence[Card],
    old_keys: Sequence[str],
    cards: Sequence[Card],
    *,
    max_per_type: int,
    similarity: float,
) -> tuple[list[Card], list[str], MergeResult]:
    """The feed after `cards` (best first) joined `old` (with its `dedupe_key`s)."""
    keys: dict[CardType, list[str]] = {}  # the new cards' keys, by type
    where: dict[CardType, list[int]] = {}  # ... and their index in `new`
    new: list[tuple[Card, str]] = []
    ids: dict[str, int] = {}  # a new card's metadata.id -> its index in `new`
    duplicates = 0
    for card in cards:
        key = dedupe_key(card)
        ident = card.metadata.id
        if (ident and ident in ids) or _match(
            key, keys.get(card.type, []), similarity
        ) is not None:
            duplicates += 1
            continue
        keys.setdefault(card.type, []).append(key)
        where.setdefault(card.type, []).append(len(new))
        if ident:
            ids[ident] = len(new)
        new.append((card, key))
    kept_old: list[tuple[Card, str]] = []
    replacing: set[int] = set()  # new cards that stand in for an old one
    for card, key in zip(old, old_keys, strict=True):
        same = ids.get(card.metadata.id) if card.metadata.id else None
        if same is not None:
            replacing.add(same)
            continue
        hit = _match(key, keys.get(card.type, []), similarity)
        if hit is not None:
            replacing.add(where[card.type][hit])
            continue
        kept_old.append((card, key))
    per_type: Counter[CardType] = Counter()
    out: list[tuple[Card, str]] = []
    added = replaced = evicted = 0
    combined = [(c, k, i) for i, (c, k) in enumerate(new)] + [(c, k, -1) for c, k in kept_old]
    for card, key, i in combined:
        if per_type[card.type] >= max_per_type:
            evicted += 1
            continue
        per_type[card.type] += 1
        if i >= 0:
            if i in replacing:
                replaced += 1
            else:
                added += 1
        out.append((card, key))
    merged = [c for c, _ in out]
    result = MergeResult(
        accepted=True,
        changed=merged != list(old),
        added=added,
        duplicates=duplicates,
        replaced=replaced,
        evicted=evicted,
    )
    return merged, [k for _, k in out], result


# --- the stores ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedSnapshot:
    cards: list[Card]
    last_updated: float | None
    """Wall-clock time (epoch seconds) the feed's cards last changed; None if never."""
    processing: bool


@runtime_checkable
class FeedStore(Protocol):
    async def begin(self, user_id: str) -> int:
        """Start a new request for the user: returns its generation, marks processing."""
        ...

    async def merge(self, user_id: str, cards: Sequence[Card], *, generation: int) -> MergeResult:
        """Add cards (best first) made by the request of `generation`, if it is the latest."""
        ...

    async def finish(self, user_id: str, *, generation: int | None) -> None:
        """The request of `generation` ended (None: one that never began); processing stops
        if it is the latest."""
        ...

    async def get(self, user_id: str) -> FeedSnapshot | None:
        """The user's feed, or None for a user without one (never seen or expired)."""
        ...

    async def clear(self, user_id: str) -> bool:
        """Forget the user's cards; results of requests already begun are refused. Returns
        whether the user had cards or a request running."""
        ...

    async def users(self) -> int: ...

    async def aclose(self) -> None: ...


@dataclass
class _Feed:
    generation: int
    cards: list[Card] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # normalised text, parallel to cards
    processing: bool = False
    last_updated: float | None = None


class MemoryFeedStore:
    def __init__(
        self,
        *,
        max_per_type: int = 3,
        ttl: float = 3600.0,
        max_users: int = 100_000,
        similarity: float = 90.0,
        timer: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_per_type < 1:
            raise ValueError("max_per_type must be >= 1")
        self.max_per_type = max_per_type
        self.similarity = similarity
        self._clock = clock
        # TTLCache: an entry not written for `ttl` seconds is gone; every touch re-writes it,
        # so only idle users expire. Past max_users the least recently used goes first.
        self._feeds: TTLCache[str, _Feed] = TTLCache(maxsize=max_users, ttl=ttl, timer=timer)
        # one counter for all users: a generation is never reused, even after expiry
        self._generations = itertools.count(1)

    # --- the protocol -----------------------------------------------------------------------

    async def begin(self, user_id: str) -> int:
        gen = next(self._generations)
        feed = self._feeds.get(user_id)
        if feed is None:
            feed = _Feed(generation=gen)
        feed.generation = gen
        feed.processing = True
        self._touch(user_id, feed)
        return gen

    async def merge(self, user_id: str, cards: Sequence[Card], *, generation: int) -> MergeResult:
        feed = self._feeds.get(user_id)
        if feed is None:
            # expired or evicted while its request ran: the request is still the latest one
            # unless a newer generation was handed out since
            feed = _Feed(generation=generation, processing=True)
        if generation != feed.generation:
            metrics.FEED_EVENTS.labels("stale").inc(len(cards) or 1)
            return MergeResult(accepted=False)
        result = self._merge(feed, cards)
        if result.changed:
            feed.last_updated = self._clock()
        self._touch(user_id, feed)
        for event in ("added", "duplicates", "replaced", "evicted"):
            n = getattr(result, event)
            if n:
                metrics.FEED_EVENTS.labels(event).inc(n)
        return result

    async def finish(self, user_id: str, *, generation: int | None) -> None:
        feed = self._feeds.get(user_id)
        if feed is not None and (generation is None or generation == feed.generation):
            feed.processing = False

    async def get(self, user_id: str) -> FeedSnapshot | None:
        feed = self._feeds.get(user_id)
        if feed is None:
            metrics.FEED_EVENTS.labels("miss").inc()
            return None
        metrics.FEED_EVENTS.labels("hit").inc()
        self._touch(user_id, feed)  # a polling editor keeps its feed alive
        return FeedSnapshot(
            cards=list(feed.cards), last_updated=feed.last_updated, processing=feed.processing
        )

    async def clear(self, user_id: str) -> bool:
        feed = self._feeds.get(user_id)
        had = feed is not None and bool(feed.cards or feed.processing)
        # a tombstone with a fresh generation: results of requests already begun are refused
        self._touch(
            user_id,
            _Feed(generation=next(self._generations), last_updated=self._clock() if had else None),
        )
        metrics.FEED_EVENTS.labels("cleared").inc()
        return had

    async def users(self) -> int:
        self._feeds.expire()
        return len(self._feeds)

    async def aclose(self) -> None:
        self._feeds.clear()
        metrics.FEED_USERS.set(0)

    # --- internals --------------------------------------------------------------------------

    def _touch(self, user_id: str, feed: _Feed) -> None:
        self._feeds[user_id] = feed
        metrics.FEED_USERS.set(len(self._feeds))

    def _merge(self, feed: _Feed, cards: Sequence[Card]) -> MergeResult:
        feed.cards, feed.keys, result = merge_cards(
            feed.cards, feed.keys, cards, max_per_type=self.max_per_type, similarity=self.similarity
        )
        return result


def memory_store_from_settings(settings: Settings) -> MemoryFeedStore:
    return MemoryFeedStore(max_per_type=settings.feed_max_per_type, ttl=settings.feed_ttl)
