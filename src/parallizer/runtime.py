"""Process-wide shared parts: settings, backends (each with its limiter), fulfillers.

Created once per process (CLI run, server lifespan) and closed on shutdown, so HTTP
sessions and limits are shared by every request and user of the process.
"""

from __future__ import annotations

from typing import Any

from .backends.base import Availability, CodeBackend, WebBackend
from .backends.ripgrep import RipgrepBackend
from .config import Settings
from .fulfillers import build_fulfillers
from .fulfillers.base import Fulfiller


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        rg: CodeBackend | None = None,
        web: WebBackend | None = None,
        llm: Any = None,
    ) -> None:
        self.settings = settings
        self.rg: CodeBackend = rg or RipgrepBackend(
            max_concurrent=settings.rg_max_concurrent,
            timeout=settings.rg_timeout,
            max_filesize=settings.rg_max_filesize,
        )
        self.web: WebBackend | None = web
        self.llm = llm
        self.fulfillers: dict[str, Fulfiller] = build_fulfillers(self)

    async def aclose(self) -> None:
        if self.web is not None:
            await self.web.aclose()
        if self.llm is not None and hasattr(self.llm, "aclose"):
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
        return {
            "fulfillers": {n: f.availability() for n, f in self.fulfillers.items()},
            "backends": backends,
        }
