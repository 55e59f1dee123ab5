"""Process-wide shared parts: settings, backends (each with its limiter), the single flight,
the code knowledge and the lanes' worker processes.

Created once per process (CLI run, server lifespan) and closed on shutdown, so HTTP
sessions, limits and code snapshots are shared by every request and user of the process. The
fulfillers are built from these parts where the app is assembled (`assembly.py`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backends.base import Availability, CodeBackend, Partitions, WebBackend
from .backends.ripgrep import RipgrepBackend
from .code import CodeKnowledge
from .code.deps import Dependencies
from .code.sources import Options
from .code.store import IndexStore
from .config import Settings
from .fanout import Flights
from .limits import AdaptiveLimiter, ConcurrencyLimit, Lanes
from .llm import LLMClient

if TYPE_CHECKING:
    from .stores.redis_client import RedisLink

log = logging.getLogger("parallizer.runtime")

_FROM_SETTINGS: Any = object()


def _secret(value: Any) -> str:
    return value.get_secret_value() if value else ""


def build_web(settings: Settings, shared: RedisLink | None = None) -> WebBackend | None:
    """Perplexity when PERPLEXITY_API_KEY is set, else SearXNG when PARALLIZER_SEARXNG_URL
    is set, else none (WebContext is then unavailable). With `shared`, its answers and its
    limit are shared with the other workers through Redis."""
    key = _secret(settings.perplexity_api_key)
    web: WebBackend
    if key:
        from .backends.perplexity import PerplexityBackend

        web = PerplexityBackend(
            api_key=key,
            base_url=settings.perplexity_url,
            model=settings.perplexity_model,
            timeout=settings.timeout,
            max_concurrent=settings.web_max_concurrent,
            start_concurrent=settings.web_start_concurrent,
        )
        url: str | None = settings.perplexity_url
    elif settings.searxng_url:
        from .backends.searxng import SearxngBackend

        web = SearxngBackend(
            base_url=settings.searxng_url,
            timeout=settings.timeout,
            max_concurrent=settings.web_max_concurrent,
            start_concurrent=settings.web_start_concurrent,
        )
        url = settings.searxng_url
    else:
        return None
    if shared is None:
        return web
    from .stores.shared_backends import SharedWeb, shared_limit

    limit = shared_limit(shared, web.limiter, url, key)
    return SharedWeb(web, shared, settings.web_cache_ttl, limit)


def build_llm(settings: Settings, shared: RedisLink | None = None) -> LLMClient | None:
    """The OpenAI-compatible LLM when PARALLIZER_LLM_URL is set, else none (offline). With
    `shared`, its limit is shared with the other workers through Redis."""
    if not settings.llm_url:
        return None
    key = _secret(settings.llm_api_key) or None
    limiter: ConcurrencyLimit = AdaptiveLimiter(
        LLMClient.name, settings.llm_max_concurrent, initial=settings.llm_start_concurrent
    )
    if shared is not None:
        from .stores.shared_backends import shared_limit

        limiter = shared_limit(shared, limiter, settings.llm_url, key)
    return LLMClient(
        base_url=settings.llm_url,
        model=settings.llm_model,
        api_key=key,
        timeout=settings.timeout,
        max_concurrent=settings.llm_max_concurrent,
        limiter=limiter,
    )


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        rg: CodeBackend | None = None,
        web: WebBackend | None = _FROM_SETTINGS,
        llm: LLMClient | None = _FROM_SETTINGS,
        shared: RedisLink | None = None,
    ) -> None:
        """Backends not given are built from `settings`; pass `web=None` / `llm=None` to
        run without them whatever the environment says. `shared`: the Redis link through
        which the web and LLM backends built here share answers and limits."""
        self.settings = settings
        store = IndexStore(Path(settings.index_dir).expanduser()) if settings.index_dir else None
        # each big scope's parts, so that one sorted rg pass runs on every core: the code
        # index sets them with each snapshot (and keeps them in its file), the rg backend
        # reads them
        partitions = Partitions(load=store.kept_partition if store is not None else None)
        self.rg: CodeBackend = rg or RipgrepBackend(
            max_concurrent=settings.rg_max_concurrent,
            timeout=settings.rg_timeout,
            max_filesize=settings.rg_max_filesize,
            partitions=partitions,
        )
        self.web: WebBackend | None = build_web(settings, shared) if web is _FROM_SETTINGS else web
        self.llm: LLMClient | None = build_llm(settings, shared) if llm is _FROM_SETTINGS else llm
        log.debug(
            "runtime: web %s, llm %s",
            self.web.name if self.web else "none",
            "on" if self.llm else "off (offline planner)",
        )
        self.lanes = Lanes(settings.read_workers, preload=("parallizer.planner.offline",))
        """Worker processes for CPU work by size (reading plans), started when first needed
        (the service warms the small lane's at startup)."""
        self.flights = Flights()
        """Identical queries of concurrent requests share one run; web answers are kept
        `PARALLIZER_WEB_CACHE_TTL` seconds."""
        self.code = CodeKnowledge(
            list_files=self.rg.list_files,
            partitions=partitions,
            workers=settings.index_workers,
            max_files=settings.index_max_files,
            max_file_bytes=settings.index_max_file_bytes,
            build_budget=settings.index_build_budget,
            max_scopes=settings.index_max_scopes,
            store=store,
        )
        """A snapshot of each scope's code (tree-sitter definitions), built off the event loop
        on first use and kept up to date by (mtime, size); the file list is ripgrep's."""
        self.deps = Dependencies(
            self.code,
            self.rg,
            Options.from_environ(
                os.environ, python=settings.python, virtual_env=settings.virtual_env
            ),
            wait=settings.deps_wait,
        )
        """Each scope's installed dependencies (code/sources/), their packages indexed on
        first need with the same machinery, once per package and version."""

    async def aclose(self) -> None:
        await self.lanes.aclose()
        await self.flights.aclose()
        await self.deps.aclose()
        await self.code.aclose()
        if self.web is not None:
            await self.web.aclose()
        if self.llm is not None:
            await self.llm.aclose()

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def backends(self) -> dict[str, Availability]:
        """Each backend: available or not, and why not."""
        out: dict[str, Availability] = {self.rg.name: self.rg.availability()}
        if self.web is not None:
            out[self.web.name] = self.web.availability()
        else:
            out["web"] = Availability.no(
                "no web search configured: set PERPLEXITY_API_KEY or PARALLIZER_SEARXNG_URL"
            )
        if self.llm is not None:
            out[self.llm.name] = self.llm.availability()
        else:
            out["llm"] = Availability.no(
                "no LLM configured (offline planner): set PARALLIZER_LLM_URL to use one"
            )
        return out
