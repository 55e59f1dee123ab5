"""Connecting to Redis (`PARALLIZER_REDIS_URL`) and knowing whether it is there.

Every Redis command of the service goes through `RedisLink.call`, which turns the client's
connection and timeout errors into one `RedisUnavailable` with a short reason, and keeps
`state` (up or down, since when, why) for `/health`. The client reconnects by itself on the
next command once Redis is back, so service comes back with it. Commands have a short socket
timeout: a Redis that hangs makes a request degrade, never hang.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from redis import asyncio as aioredis
from redis import exceptions as rexc

from ..errors import StoreUnavailable

log = logging.getLogger("parallizer.redis")

T = TypeVar("T")

SOCKET_TIMEOUT = 2.0
PREFIX = "parallizer:"

_FAILURES = (rexc.ConnectionError, rexc.TimeoutError, rexc.BusyLoadingError, OSError, TimeoutError)


class RedisUnavailable(StoreUnavailable):
    """Redis could not be reached or did not answer in time; the message says why."""


def redact_url(url: str) -> str:
    """The URL without its password, for logs and /health."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "redis://?"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


@dataclass
class RedisState:
    available: bool = True
    reason: str = "connected"
    since: float = 0.0


class RedisLink:
    """One Redis client for the process, shared by every store that keeps state there."""

    def __init__(
        self, url: str, *, prefix: str = PREFIX, socket_timeout: float = SOCKET_TIMEOUT
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.client: aioredis.Redis = aioredis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            health_check_interval=15,
            decode_responses=False,
        )
        self.state = RedisState(since=time.time())

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def _down(self, exc: BaseException) -> RedisUnavailable:
        reason = f"Redis at {redact_url(self.url)} is unavailable: {type(exc).__name__}: {exc}"
        reason = reason[:300]
        if self.state.available:
            log.warning("%s", reason)
            self.state = RedisState(False, reason, time.time())
        return RedisUnavailable(reason)

    def _up(self) -> None:
        if not self.state.available:
            log.info("Redis at %s is back", redact_url(self.url))
            self.state = RedisState(True, "connected", time.time())

    async def call(self, fn: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        """Run `fn(client)`; a connection failure or timeout is `RedisUnavailable`."""
        try:
            out = await fn(self.client)
        except _FAILURES as exc:
            raise self._down(exc) from None
        self._up()
        return out

    @asynccontextmanager
    async def renewing(
        self, renew: Callable[[aioredis.Redis], Awaitable[Any]], lease_ms: int, name: str
    ) -> AsyncIterator[None]:
        """The one lease keeper: while the body runs, `renew(client)` every third of
        `lease_ms` (a lock's or a slot's expiry pushed back), so a long holder keeps what it
        holds and a crashed one's lapses. A renewal Redis misses is skipped, not fatal: the
        lease then lapses as a dead holder's would."""

        async def keep() -> None:
            while True:
                await asyncio.sleep(lease_ms / 3000)
                with suppress(RedisUnavailable):
                    await self.call(renew)

        keeper = asyncio.create_task(keep(), name=name)
        try:
            yield
        finally:
            keeper.cancel()
            with suppress(asyncio.CancelledError):
                await keeper

    async def ping(self) -> None:
        """Raises RedisUnavailable unless Redis answers (start-up check, /health)."""
        await self.call(lambda r: r.ping())

    def health(self) -> dict[str, Any]:
        return {
            "url": redact_url(self.url),
            "available": self.state.available,
            "reason": self.state.reason,
            "since": self.state.since,
        }

    async def aclose(self) -> None:
        try:
            await self.client.aclose()
        except _FAILURES:  # pragma: no cover - closing a dead connection
            pass
