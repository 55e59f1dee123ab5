"""Last known quote per (supplier, SKU), kept in redis."""

from __future__ import annotations

from collections.abc import Iterable

import redis

from .models import Quote

KEY_PREFIX = "pw:quote"
DEFAULT_TTL_S = 7 * 24 * 3600


def quote_key(supplier: str, sku: str) -> str:
    return f"{KEY_PREFIX}:{supplier}:{sku}"


class QuoteCache:
    def __init__(self, client: redis.Redis, ttl_s: int = DEFAULT_TTL_S):
        self._redis = client
        self._ttl_s = ttl_s

    @classmethod
    def from_url(cls, url: str, ttl_s: int = DEFAULT_TTL_S) -> QuoteCache:
        return cls(redis.Redis.from_url(url, decode_responses=True), ttl_s)

    def last(self, supplier: str, skus: Iterable[str]) -> dict[str, Quote]:
        skus = list(skus)
        if not skus:
            return {}
        raw = self._redis.mget([quote_key(supplier, s) for s in skus])
        return {
            sku: Quote.model_validate_json(value)
            for sku, value in zip(skus, raw)
            if value is not None
        }

    def store(self, quotes: Iterable[Quote]) -> int:
        pipe = self._redis.pipeline(transaction=False)
        n = 0
        for q in quotes:
            pipe.setex(quote_key(q.supplier, q.sku), self._ttl_s, q.model_dump_json(by_alias=True))
            n += 1
        pipe.execute()
        return n

    def forget_supplier(self, supplier: str) -> int:
        keys = list(self._redis.scan_iter(match=f"{KEY_PREFIX}:{supplier}:*", count=500))
        return self._redis.delete(*keys) if keys else 0
