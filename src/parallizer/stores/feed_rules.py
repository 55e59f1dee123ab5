"""How a feed absorbs a request's cards: the one merge every feed store applies.

New cards go first, in their order; a new card that is a near duplicate of another new one
(same type, header and text similar by rapidfuzz) or has its `metadata.id` is dropped; an
old card with a new card's id (the same finding or result, improved) or similar to a new one
is replaced by it; then each type is cut to `max_per_type`, newest first. Pure: a store
reads the feed, calls `merge_cards`, and writes the result back atomically its own way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

from ..models import Card, CardType


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
