"""A per-backend concurrency limit shared by every worker and host: leases and the learned
limit in Redis.

The limit of a provider is per API key, not per process. `RedisLimiter` wraps the process's
own limit and, inside each of its slots, holds a lease in a sorted set in Redis (member: a
random token, score: when the lease expires, by Redis's own clock). Taking a lease is one Lua
script: drop expired leases, then add ours if fewer than the limit are held. A holder renews
its lease while its call runs, so a long call keeps its slot, and a crashed worker's slots
come back when their leases expire (`RedisLink.renewing`). Waiters poll with a short,
growing, jittered back-off (`limits.Backoff`).

When the local limit adapts (`limits.AdaptiveLimiter`), the limit itself is shared too: one
value in a Redis hash beside the leases, with one slow start, one pause (a provider's
`Retry-After` stops every worker) and the time of the last cut. Every worker learns from its
own calls by the very rules of the local limit, and hands what it learned (`limits.Change`)
to the script that gives its lease back: growth is added to the shared value, a cut lowers
it once per wave (a call sent, by Redis's clock, before the last cut of any worker is old
news). A ticket's level (the calls in flight when it was sent) is the count of leases of
every worker, so a 429 cuts to 90% of what the provider really had in flight. Each worker
then follows the shared value. The hash expires after an hour without calls.

It is a `ConcurrencyLimit` like the local one (counters are this process's share). If Redis
is unreachable, a slot is the local limit's alone, which goes on learning by itself: a dead
Redis slows nothing down and blocks nobody.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Any

from ..limits import AdaptiveLimiter, Backoff, Change, ConcurrencyLimit, Limiter, Ticket
from .redis_client import RedisLink, RedisUnavailable

log = logging.getLogger("parallizer.redis")

LEASE_MS = 10_000
STATE_MS = 3_600_000
POLL_MIN, POLL_MAX = 0.01, 0.2

# KEYS: leases, state. ARGV: limit (a fixed limit's; "" when shared), lease ms, token,
# the shared limit's start, state ms.
# Returns {taken 0/1, leases held, limit, slow start 0/1, pause ms left, now ms}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local limit = tonumber(ARGV[1])
local ss = 1
local pause = 0
if not limit then
  local st = redis.call('HMGET', KEYS[2], 'limit', 'ss', 'pause')
  limit = tonumber(st[1])
  if not limit then
    limit = tonumber(ARGV[4])
    redis.call('HSET', KEYS[2], 'limit', ARGV[4], 'ss', 1)
  end
  ss = tonumber(st[2]) or 1
  pause = math.max(0, (tonumber(st[3]) or 0) - now)
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[5]))
end
local held = redis.call('ZCARD', KEYS[1])
if pause == 0 and held < math.floor(limit) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  held = held + 1
  return {1, held, tostring(limit), ss, pause, now}
end
return {0, held, tostring(limit), ss, pause, now}
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

# KEYS: leases, state. ARGV: token, "" (a fixed limit: nothing learned) or: grow, cut_to (""
# for none), when the call was sent (ms), slow start 0/1, pause ms, ceiling, state ms.
# Returns {limit, slow start 0/1, pause ms left} ({} for a fixed limit, or no shared limit).
_GIVE_BACK = """
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[2] == '' then return {} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local st = redis.call('HMGET', KEYS[2], 'limit', 'ss', 'pause', 'cut')
local limit = tonumber(st[1])
if not limit then return {} end
local ss = tonumber(st[2]) or 1
local pause = tonumber(st[3]) or 0
local cut = tonumber(st[4]) or 0
limit = math.min(tonumber(ARGV[7]), limit + tonumber(ARGV[2]))
if ARGV[3] ~= '' and tonumber(ARGV[4]) >= cut then
  limit = math.max(1, math.min(limit, tonumber(ARGV[3])))
  cut = now
end
if ARGV[5] == '0' then ss = 0 end
if tonumber(ARGV[6]) > 0 then pause = math.max(pause, now + tonumber(ARGV[6])) end
redis.call('HSET', KEYS[2], 'limit', tostring(limit), 'ss', ss, 'pause', pause, 'cut', cut)
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[8]))
return {tostring(limit), ss, math.max(0, pause - now)}
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
        """`local`: this process's limit for the backend (a `limits.Limiter`: fixed, or
        adaptive and then shared). `scope` tells apart limits of one backend that are not
        shared (e.g. a digest of the provider's URL and key: never the key itself)."""
        if not isinstance(local, Limiter):
            raise TypeError("RedisLimiter wraps a limits.Limiter")
        self.link = link
        self.local: Limiter = local
        self.adaptive = isinstance(local, AdaptiveLimiter)
        self._start = local.limit
        self.lease_ms = lease_ms
        self.key = link.key("limit", local.name, scope) if scope else link.key("limit", local.name)
        self.state_key = f"{self.key}:state"
        self._acquire = link.client.register_script(_ACQUIRE)
        self._renew = link.client.register_script(_RENEW)
        self._give = link.client.register_script(_GIVE_BACK)

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
        ticket = await self.local.acquire()
        async with self._held(ticket):
            yield ticket

    def try_slot(self) -> AbstractAsyncContextManager[Ticket] | None:
        ticket = self.local.try_acquire()
        return None if ticket is None else self._held(ticket)

    @asynccontextmanager
    async def _held(self, ticket: Ticket) -> AsyncIterator[Ticket]:
        """The local slot `ticket` plus a lease in Redis for the duration of the body (none
        if Redis is away); then what the call taught goes to the shared limit."""
        token = secrets.token_hex(8)
        try:
            try:
                sent_ms = await self._take(token, ticket)
            except RedisUnavailable as exc:
                log.warning("%s limit: %s; this process's own limit only", self.name, exc)
                sent_ms = None
            if sent_ms is None:
                try:
                    yield ticket
                finally:
                    self.local.learn(ticket)
                return

            def renew(r: Any) -> Any:
                return self._renew(keys=[self.key, self.state_key], args=[self.lease_ms, token])

            try:
                async with self.link.renewing(renew, self.lease_ms, f"lease:{self.name}"):
                    yield ticket
            finally:
                change = self.local.learn(ticket)
                # the lease goes back even when the holder was cancelled
                await asyncio.shield(self._give_back(token, change, sent_ms))
        finally:
            self.local.give_back(ticket)

    async def _take(self, token: str, ticket: Ticket | None = None) -> int:
        """Wait for a lease; when granted, `ticket` gets the shared level and limit. Returns
        when the call was sent, by Redis's clock (ms)."""
        backoff = Backoff(POLL_MIN, POLL_MAX, factor=1.5, jitter=True)
        while True:
            args = [
                "" if self.adaptive else self.local.limit,  # a fixed limit: as it is now
                self.lease_ms,
                token,
                self._start,
                STATE_MS,
            ]
            got, held, limit, slow_start, pause_ms, now = await self.link.call(
                lambda r, args=args: self._acquire(keys=[self.key, self.state_key], args=args)  # type: ignore[misc]
            )
            self._follow(limit, slow_start, pause_ms)
            if got:
                if ticket is not None:
                    ticket.in_flight, ticket.limit = int(held), self.local.limit
                return int(now)
            if pause_ms:  # the provider asked every worker to wait
                await asyncio.sleep(int(pause_ms) / 1000)
                continue
            await backoff.sleep()

    def _follow(self, limit: Any, slow_start: Any, pause_ms: Any) -> None:
        if isinstance(self.local, AdaptiveLimiter):
            self.local.follow(
                float(_text(limit)), slow_start=bool(int(slow_start)), pause=int(pause_ms) / 1000
            )

    async def _give_back(self, token: str, change: Change | None, sent_ms: int) -> None:
        if not self.adaptive:
            args: list[Any] = [token, ""]
        else:
            change = change or Change(slow_start=True)
            args = [
                token,
                change.grow,
                "" if change.cut_to is None else change.cut_to,
                sent_ms,
                int(change.slow_start),
                int(change.pause * 1000),
                self.capacity,
                STATE_MS,
            ]
        with suppress(RedisUnavailable):
            answer = await self.link.call(
                lambda r: self._give(keys=[self.key, self.state_key], args=args)
            )
            if answer:
                limit, slow_start, pause_ms = answer
                self._follow(limit, slow_start, pause_ms)

    async def held(self) -> int:
        """Leases held now by every process (for tests and /health)."""
        return int(await self.link.call(lambda r: r.zcard(self.key)))

    async def shared_limit(self) -> float | None:
        """The shared limit now (None: not learned yet, or a fixed limit)."""
        value = await self.link.call(lambda r: r.hget(self.state_key, "limit"))
        return None if value is None else float(_text(value))

    def __repr__(self) -> str:
        return f"RedisLimiter({self.name!r}, {self.in_flight}/{self.limit}, peak={self.peak})"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
