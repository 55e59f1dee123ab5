"""A process's remote backends shared with the other workers, when Redis is configured.

* the web backend's answers go through `SharedFlights`: identical searches of any worker make
  one remote call, and good answers are kept for `PARALLIZER_WEB_CACHE_TTL` in Redis;
* the web and LLM limits are `RedisLimiter`s: the limit is per provider (per key), not per
  process. Their scope is a digest of the provider's URL and key, never the key itself.

Built when the runtime is (`Runtime(settings, shared=link)`): the wrapper keeps the
`WebBackend` face, so fulfillers, health and the fan-out do not know.
"""

from __future__ import annotations

import hashlib

from ..backends.base import Availability, WebBackend, WebResult
from ..limits import ConcurrencyLimit
from .redis_client import RedisLink
from .redis_limits import RedisLimiter
from .shared_cache import SharedFlights


class SharedWeb:
    """A `WebBackend` whose searches are single-flight and cached across workers, under a
    limit shared by them."""

    def __init__(
        self, inner: WebBackend, link: RedisLink, ttl: float, limiter: ConcurrencyLimit
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.timeout = inner.timeout
        self.limiter = limiter
        self.ttl = ttl
        self.flights: SharedFlights[WebResult] = SharedFlights(
            link,
            encode=lambda r: r.model_dump_json().encode(),
            decode=WebResult.model_validate_json,
        )

    def availability(self) -> Availability:
        return self.inner.availability()

    async def search(self, query: str) -> WebResult:
        key = ("web", self.name, query.lower())
        value, _ = await self.flights.run(key, self.ttl, lambda: self.inner.search(query))
        return value

    async def aclose(self) -> None:
        await self.inner.aclose()


def shared_limit(
    link: RedisLink, local: ConcurrencyLimit, url: str | None, key: str | None
) -> RedisLimiter:
    """`local`'s limit shared by every worker using the same provider (URL and key)."""
    scope = hashlib.sha256(f"{url or ''}\x00{key or ''}".encode()).hexdigest()[:16]
    return RedisLimiter(link, local, scope=scope)
