"""A per-backend concurrency limit shared by every worker and host: leases in Redis.

The limit of a provider is per API key, not per process. `RedisLimiter` holds a slot as a
lease in a sorted set (member: a random token, score: when the lease expires, by Redis's own
clock). Taking a slot is one Lua script: drop expired leases, then add ours if fewer than
`capacity` are held. A holder renews its lease while it runs, so a long call keeps its slot,
and a crashed worker's slots come back when their leases expire. Waiters poll with a short,
growing, jittered back-off.

It has the same face as `limits.Limiter` (`slot()`, `in_flight`, `peak`, `waiting`) — the
counters are this process's share. If Redis is unreachable, the slot falls back to the
process's own limiter, so a dead Redis slows nothing down and blocks nobody.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from ..limits import Limiter
from .redis_client import RedisLink, RedisUnavailable

log = logging.getLogger("parallizer.redis")

LEASE_MS = 10_000
POLL_MIN, POLL_MAX = 0.01, 0.2

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  return 1
end
return 0
"""

_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
  return 1
end
return 0
"""


class RedisLimiter:
    def __init__(
        self,
        link: RedisLink,
        name: str,
        capacity: int,
        *,
        scope: str = "",
        lease_ms: int = LEASE_MS,
        fallback: Limiter | None = None,
    ) -> None:
        """`scope` tells apart limits of one backend that are not shared (e.g. a digest of
        the provider's key: never the key itself)."""
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.link = link
        self.name = name
        self.capacity = capacity
        self.lease_ms = lease_ms
        self.key = link.key("limit", name, scope) if scope else link.key("limit", name)
        self.fallback = fallback or Limiter(name, capacity)
        self._acquire = link.client.register_script(_ACQUIRE)
        self._renew = link.client.register_script(_RENEW)
        self.in_flight = 0
        self.peak = 0
        self.waiting = 0

    async def _take(self, token: str) -> None:
        delay = POLL_MIN
        while True:
            got = await self.link.call(
                lambda r: self._acquire(keys=[self.key], args=[self.capacity, self.lease_ms, token])
            )
            if got:
                return
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(POLL_MAX, delay * 1.5)

    async def _keep(self, token: str) -> None:
        """Renew the lease while the slot is held (a third of the lease apart)."""
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            with suppress(RedisUnavailable):
                await self.link.call(
                    lambda r: self._renew(keys=[self.key], args=[self.lease_ms, token])
                )

    async def _give_back(self, token: str) -> None:
        with suppress(RedisUnavailable):
            await self.link.call(lambda r: r.zrem(self.key, token))

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        token = secrets.token_hex(8)
        self.waiting += 1
        try:
            await self._take(token)
        except RedisUnavailable as exc:
            self.waiting -= 1
            log.warning("%s limit: %s; using this process's own limit", self.name, exc)
            async with self.fallback.slot():
                yield
            return
        except BaseException:
            self.waiting -= 1
            raise
        self.waiting -= 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        keeper = asyncio.create_task(self._keep(token), name=f"lease:{self.name}")
        try:
            yield
        finally:
            self.in_flight -= 1
            keeper.cancel()
            with suppress(asyncio.CancelledError):
                await keeper
            # the slot goes back even when the holder was cancelled
            await asyncio.shield(self._give_back(token))

    async def held(self) -> int:
        """Leases held now by every process (for tests and /health)."""
        return int(await self.link.call(lambda r: r.zcard(self.key)))

    def reset_peak(self) -> None:
        self.peak = self.in_flight

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "capacity": self.capacity, "shared": True}

    def __repr__(self) -> str:
        return f"RedisLimiter({self.name!r}, {self.in_flight}/{self.capacity}, peak={self.peak})"
