"""Process-wide shared parts: settings, backends (each with its limiter), fulfillers.

Created once per process (CLI run, server lifespan) and closed on shutdown, so HTTP
sessions and limits are shared by every request and user of the process.
"""

from __future__ import annotations

import logging
from typing import Any

from .backends.base import Availability, CodeBackend, WebBackend
from .backends.ripgrep import RipgrepBackend
from .config import Settings
from .fanout import Flights
from .fulfillers import build_fulfillers
from .fulfillers.base import Fulfiller
from .index import IndexStore
from .llm import LLMClient

log = logging.getLogger("parallizer.runtime")

_FROM_SETTINGS: Any = object()


def build_web(settings: Settings) -> WebBackend | None:
    """Perplexity when PERPLEXITY_API_KEY is set, else SearXNG when PARALLIZER_SEARXNG_URL
    is set, else none (WebContext is then unavailable)."""
    key = settings.perplexity_api_key.get_secret_value() if settings.perplexity_api_key else ""
    if key:
        from .backends.perplexity import PerplexityBackend

        return PerplexityBackend(
            api_key=key,
            base_url=settings.perplexity_url,
            model=settings.perplexity_model,
            timeout=settings.timeout,
            max_concurrent=settings.web_max_concurrent,
            start_concurrent=settings.web_start_concurrent,
        )
    if settings.searxng_url:
        from .backends.searxng import SearxngBackend

        return SearxngBackend(
            base_url=settings.searxng_url,
            timeout=settings.timeout,
            max_concurrent=settings.web_max_concurrent,
            start_concurrent=settings.web_start_concurrent,
        )
    return None


def build_llm(settings: Settings) -> LLMClient | None:
    """The OpenAI-compatible LLM when PARALLIZER_LLM_URL is set, else none (offline)."""
    if not settings.llm_url:
        return None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return LLMClient(
        base_url=settings.llm_url,
        model=settings.llm_model,
        api_key=key,
        timeout=settings.timeout,
        max_concurrent=settings.llm_max_concurrent,
        start_concurrent=settings.llm_start_concurrent,
    )


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        rg: CodeBackend | None = None,
        web: WebBackend | None = _FROM_SETTINGS,
        llm: LLMClient | None = _FROM_SETTINGS,
    ) -> None:
        """Backends not given are built from `settings`; pass `web=None` / `llm=None` to
        run without them whatever the environment says."""
        self.settings = settings
        self.rg: CodeBackend = rg or RipgrepBackend(
            max_concurrent=settings.rg_max_concurrent,
            timeout=settings.rg_timeout,
            max_filesize=settings.rg_max_filesize,
        )
        self.web: WebBackend | None = build_web(settings) if web is _FROM_SETTINGS else web
        self.llm: LLMClient | None = build_llm(settings) if llm is _FROM_SETTINGS else llm
        log.debug(
            "runtime: web %s, llm %s",
            self.web.name if self.web else "none",
            "on" if self.llm else "off (offline planner)",
        )
        self.flights = Flights()
        """Identical queries of concurrent requests share one run; web answers are kept
        `PARALLIZER_WEB_CACHE_TTL` seconds."""
        self.index = IndexStore(
            list_files=self.rg.list_files,
            workers=settings.index_workers,
            max_files=settings.index_max_files,
            max_file_bytes=settings.index_max_file_bytes,
            build_budget=settings.index_build_budget,
            max_scopes=settings.index_max_scopes,
        )
        """Definitions per scope (tree-sitter), built off the event loop on first use and
        kept up to date by (mtime, size); the file list is the same ripgrep's."""
        self.fulfillers: dict[str, Fulfiller] = build_fulfillers(self)

    async def aclose(self) -> None:
        await self.flights.aclose()
        await self.index.aclose()
        if self.web is not None:
            await self.web.aclose()
        if self.llm is not None:
            await self.llm.aclose()

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def available(self) -> list[str]:
        return [n for n, f in self.fulfillers.items() if f.availability().available]

    def health(self) -> dict[str, dict[str, Availability]]:
        backends: dict[str, Availability] = {self.rg.name: self.rg.availability()}
        if self.web is not None:
            backends[self.web.name] = self.web.availability()
        else:
            backends["web"] = Availability.no(
                "no web search configured: set PERPLEXITY_API_KEY or PARALLIZER_SEARXNG_URL"
            )
        if self.llm is not None:
            backends[self.llm.name] = self.llm.availability()
        else:
            backends["llm"] = Availability.no(
                "no LLM configured (offline planner): set PARALLIZER_LLM_URL to use one"
            )
        return {
            "fulfillers": {n: f.availability() for n, f in self.fulfillers.items()},
            "backends": backends,
        }
