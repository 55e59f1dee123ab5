"""Answers and single-flight shared by every worker: one remote call per distinct search.

`SharedFlights.run(key, ttl, start)` answers from the shared cache when it can; otherwise one
process takes a short lock (`SET NX PX`, renewed while its call runs: `RedisLink.renewing`) and makes the call,
stores a good answer for `ttl` seconds, and lets go; the others wait for that answer (polling
the cache with a short back-off, `limits.Backoff`) instead of calling too. If the lock holder fails or dies,
its lock lapses and a waiter takes over. Values cross the wire as JSON through
`encode`/`decode`. A Redis that fails makes every process run its own call: slower, never
wrong, never stuck. Within one process, identical calls share one such run first (a
waiter-owned `fanout.SingleFlight`: the last caller cancelled cancels it).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Hashable
from contextlib import suppress
from typing import Any, Generic, Literal, TypeVar

from ..fanout import SingleFlight
from ..limits import Backoff
from .redis_client import RedisLink, RedisUnavailable

log = logging.getLogger("parallizer.redis")

T = TypeVar("T")
How = Literal["own", "joined", "cached"]

LOCK_MS = 5_000
JOIN_MS = 2_000  # with ttl 0: how long an answer waits for the callers that joined it
POLL_MIN, POLL_MAX = 0.01, 0.2

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def digest(key: Hashable) -> str:
    """A stable, fixed-length name for a call key (queries can be long; keys never hold
    secrets, but a digest keeps them out of Redis's key space all the same)."""
    return hashlib.sha256(repr(key).encode()).hexdigest()[:32]


class SharedFlights(Generic[T]):
    def __init__(
        self,
        link: RedisLink,
        *,
        encode: Callable[[T], bytes],
        decode: Callable[[bytes], T],
        ok: Callable[[T], bool] = lambda _: True,
        lock_ms: int = LOCK_MS,
    ) -> None:
        """`ok(value)`: whether an answer may be cached and shared (failures are not)."""
        self.link = link
        self.encode = encode
        self.decode = decode
        self.ok = ok
        self.lock_ms = lock_ms
        self._release = link.client.register_script(_RELEASE)
        self._extend = link.client.register_script(_EXTEND)
        self._local: SingleFlight[tuple[T, How]] = SingleFlight(owner="waiters")

    async def _cached(self, name: str) -> T | None:
        raw = await self.link.call(lambda r: r.get(self.link.key("answer", name)))
        return None if raw is None else self.decode(raw if isinstance(raw, bytes) else raw.encode())

    async def run(
        self, key: Hashable, ttl: float, start: Callable[[], Awaitable[T]]
    ) -> tuple[T, How]:
        """(value, how): how is "own" (this call made the remote call), "joined" (another
        caller's, in this process or another) or "cached"."""
        (value, how), joined = await self._local.run(key, lambda: self._run(key, ttl, start))
        return value, "joined" if joined else how

    async def _run(
        self, key: Hashable, ttl: float, start: Callable[[], Awaitable[T]]
    ) -> tuple[T, How]:
        name = digest(key)
        lock = self.link.key("flight", name)
        backoff = Backoff(POLL_MIN, POLL_MAX, factor=1.5, jitter=True)
        try:
            while True:
                hit = await self._cached(name)
                if hit is not None:
                    return hit, "cached"
                token = secrets.token_hex(8)

                def take(r: Any, token: str = token) -> Awaitable[bool | None]:
                    return r.set(lock, token, nx=True, px=self.lock_ms)

                if await self.link.call(take):
                    return await self._own(name, lock, token, ttl, start), "own"
                # someone else is calling: wait for their answer (or for their lock to lapse)
                while await self.link.call(lambda r: r.exists(lock)):
                    await backoff.sleep()
                    hit = await self._cached(name)
                    if hit is not None:
                        return hit, "joined"
        except RedisUnavailable as exc:
            log.warning("shared cache: %s; calling directly", exc)
            return await start(), "own"

    async def _own(
        self, name: str, lock: str, token: str, ttl: float, start: Callable[[], Awaitable[T]]
    ) -> T:
        def extend(r: Any) -> Awaitable[Any]:
            return self._extend(keys=[lock], args=[token, self.lock_ms])

        try:
            async with self.link.renewing(extend, self.lock_ms, "flight-lock"):
                value = await start()
            if self.ok(value):
                # with the cache off, the answer still waits briefly for this flight's waiters
                keep_ms = int(ttl * 1000) if ttl > 0 else JOIN_MS
                with suppress(RedisUnavailable):
                    data = self.encode(value)
                    await self.link.call(
                        lambda r: r.set(self.link.key("answer", name), data, px=keep_ms)
                    )
            return value
        finally:
            with suppress(RedisUnavailable):
                await asyncio.shield(
                    self.link.call(lambda r: self._release(keys=[lock], args=[token]))
                )
