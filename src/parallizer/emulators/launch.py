"""Which emulator is which: `build(kind, config)` pairs the shared server (`server.py`)
with one kind's routes; `running(kind, ...)` starts one in the current event loop.

The kinds import the shared server, never the other way round, so this module is the only
place that knows both."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

from aiohttp import web

from . import openai_compat, perplexity
from .server import Emulator, EmulatorConfig

ROUTES: dict[str, Callable[[Emulator], web.Application]] = {
    "perplexity": perplexity.routes,
    "llm": openai_compat.routes,
}


def build(kind: str, config: EmulatorConfig) -> Emulator:
    routes = ROUTES.get(kind)
    if routes is None:
        raise ValueError(f"unknown emulator {kind!r}: perplexity or llm")
    return Emulator(kind, config, routes)


@asynccontextmanager
async def running(
    kind: Literal["perplexity", "llm"],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    **options: Any,
) -> AsyncIterator[Emulator]:
    """Start an emulator in this event loop (port 0: any free port); yield it; stop it.

    Options are `EmulatorConfig` fields: latency, fail_rate, faults, fault_on, seed,
    retry_after, hang_s, api_key, llm_format, capacity."""
    emu = build(kind, EmulatorConfig(**options))
    await emu.start(host, port)
    try:
        yield emu
    finally:
        await emu.stop()
