"""A per-backend concurrency limit shared by every worker and host: leases in Redis.

The limit of a provider is per API key, not per process. `RedisLimiter` wraps the process's
own limit (`limits.AdaptiveLimiter`: it learns the provider's capacity from 429s and latency,
and pauses on `Retry-After`) and, inside each of its slots, holds a lease in a sorted set in
Redis (member: a random token, score: when the lease expires, by Redis's own clock). Taking a
lease is one Lua script: drop expired leases, then add ours if fewer than the limit are held.
A holder renews its lease while its call runs, so a long call keeps its slot, and a crashed
worker's slots come back when their leases expire. Waiters poll with a short, growing,
jittered back-off.

It is a `ConcurrencyLimit` like the local one (counters are this process's share). If Redis
is unreachable, a slot is the local limit's alone: a dead Redis slows nothing down and blocks
nobody.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress

from ..limits import ConcurrencyLimit, Ticket
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
        local: ConcurrencyLimit,
        *,
        scope: str = "",
        lease_ms: int = LEASE_MS,
    ) -> None:
        """`local`: this process's limit for the backend (its current `limit` is the shared
        one). `scope` tells apart limits of one backend that are not shared (e.g. a digest
        of the provider's URL and key: never the key itself)."""
        self.link = link
        self.local = local
        self.lease_ms = lease_ms
        self.key = link.key("limit", local.name, scope) if scope else link.key("limit", local.name)
        self._acquire = link.client.register_script(_ACQUIRE)
        self._renew = link.client.register_script(_RENEW)

    # --- the ConcurrencyLimit face: this process's counters, the local limit's learning ------

    @property
    def name(self) -> str:
        return self.local.name

    @property
    def capacity(self) -> int:
        return self.local.capacity

    @property
    def limit(self) -> int:
        return self.local.limit

    @property
    def in_flight(self) -> int:
        return self.local.in_flight

    @property
    def peak(self) -> int:
        return self.local.peak

    @property
    def waiting(self) -> int:
        return self.local.waiting

    def latency_quantile(self, q: float) -> float | None:
        return self.local.latency_quantile(q)

    def paused_for(self) -> float:
        return self.local.paused_for()

    def reset_peak(self) -> None:
        self.local.reset_peak()

    # --- slots ------------------------------------------------------------------------------

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Ticket]:
        async with self.local.slot() as ticket, self._lease():
            yield ticket

    def try_slot(self) -> AbstractAsyncContextManager[Ticket] | None:
        held = self.local.try_slot()
        return None if held is None else self._leased(held)

    @asynccontextmanager
    async def _leased(self, held: AbstractAsyncContextManager[Ticket]) -> AsyncIterator[Ticket]:
        async with held as ticket, self._lease():
            yield ticket

    @asynccontextmanager
    async def _lease(self) -> AsyncIterator[None]:
        """A lease in Redis for the duration of the body (none if Redis is away)."""
        token = secrets.token_hex(8)
        try:
            await self._take(token)
        except RedisUnavailable as exc:
            log.warning("%s limit: %s; this process's own limit only", self.name, exc)
            yield
            return
        keeper = asyncio.create_task(self._keep(token), name=f"lease:{self.name}")
        try:
            yield
        finally:
            keeper.cancel()
            with suppress(asyncio.CancelledError):
                await keeper
            # the lease goes back even when the holder was cancelled
            await asyncio.shield(self._give_back(token))

    async def _take(self, token: str) -> None:
        delay = POLL_MIN
        while True:
            args = [self.local.limit, self.lease_ms, token]  # the limit as it is now
            got = await self.link.call(
                lambda r, args=args: self._acquire(keys=[self.key], args=args)  # type: ignore[misc]
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

    async def held(self) -> int:
        """Leases held now by every process (for tests and /health)."""
        return int(await self.link.call(lambda r: r.zcard(self.key)))

    def __repr__(self) -> str:
        return f"RedisLimiter({self.name!r}, {self.in_flight}/{self.limit}, peak={self.peak})"
