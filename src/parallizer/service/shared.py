"""Making a process's backends share with the other workers, when Redis is configured.

* the web backend's answers go through `SharedFlights`: identical searches of any worker make
  one remote call, and good answers are kept for `PARALLIZER_WEB_CACHE_TTL` in Redis;
* the web and LLM limits become `RedisLimiter`s: the limit is per provider (per key), not per
  process. Their scope is a digest of the provider's URL and key, never the key itself.

The wrapper keeps the `WebBackend` face, so fulfillers, health and the fan-out do not know.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from ..backends.base import Availability, WebBackend, WebResult
from ..limits import ConcurrencyLimit
from ..stores.redis_client import RedisLink
from ..stores.redis_limits import RedisLimiter
from ..stores.shared_cache import SharedFlights

if TYPE_CHECKING:
    from ..config import Settings
    from ..runtime import Runtime


class SharedWeb:
    """A `WebBackend` whose searches are single-flight and cached across workers."""

    def __init__(self, inner: WebBackend, link: RedisLink, ttl: float) -> None:
        self.inner = inner
        self.name = inner.name
        self.timeout = inner.timeout
        self.limiter: ConcurrencyLimit = inner.limiter
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


def _scope(*parts: str | None) -> str:
    return hashlib.sha256("\x00".join(p or "" for p in parts).encode()).hexdigest()[:16]


def share_backends(runtime: Runtime, link: RedisLink, settings: Settings) -> None:
    """Route the runtime's web and LLM limits (and web answers) through Redis."""
    web_key = settings.perplexity_api_key.get_secret_value() if settings.perplexity_api_key else ""
    if runtime.web is not None:
        shared = SharedWeb(runtime.web, link, settings.web_cache_ttl)
        url = settings.perplexity_url if web_key else settings.searxng_url
        shared.limiter = RedisLimiter(link, runtime.web.limiter, scope=_scope(url, web_key))
        runtime.web = shared
    if runtime.llm is not None:
        llm_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else ""
        runtime.llm.limiter = RedisLimiter(
            link, runtime.llm.limiter, scope=_scope(settings.llm_url, llm_key)
        )
