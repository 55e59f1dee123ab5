"""Helpers shared by the web/LLM tests: settings without the developer's environment, backends
pointed at a loopback emulator, and a one-call fulfill."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from parallizer import assembly
from parallizer.backends.perplexity import PerplexityBackend
from parallizer.config import Settings
from parallizer.emulators import Emulator
from parallizer.fanout import Call
from parallizer.llm import LLMClient
from parallizer.models import FulfillRequest, FulfillResponse, GlobalContext
from parallizer.runtime import Runtime

PPLX_KEY = "pplx-SECRET-4f9a2c7e1b8d3a6f"
LLM_KEY = "sk-llm-SECRET-9e8d7c6b5a4f3e2d"


def settings(tmp_path: Path | None = None, **overrides: Any) -> Settings:
    roots = str(tmp_path) if tmp_path is not None else "/"
    return Settings(allowed_roots=roots, **overrides)


def perplexity(
    emu: Emulator, *, timeout: float = 5.0, max_concurrent: int = 10, key: str = PPLX_KEY
):
    return PerplexityBackend(
        api_key=key, base_url=emu.url, timeout=timeout, max_concurrent=max_concurrent
    )


def llm_client(emu: Emulator, *, timeout: float = 5.0, key: str = LLM_KEY) -> LLMClient:
    return LLMClient(base_url=emu.url, model="emulated-model", api_key=key, timeout=timeout)


def web_calls(backend: Any, queries: list[str]) -> list[Call[Any]]:
    return [
        Call(
            label=q,
            backend=backend.name,
            run=(lambda q=q: backend.search(q)),
            limiter=backend.limiter,
            timeout=backend.timeout,
        )
        for q in queries
    ]


def cursor_at_end(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines) - 1, len(lines[-1])


async def fulfill(
    runtime: Runtime,
    text: str,
    *,
    cursor: tuple[int, int] | None = None,
    scope: Path | None = None,
    plan: Path | None = None,
    only: list[str] | None = None,
    serial: bool = False,
    fulfillers: list[Any] | None = None,
) -> FulfillResponse:
    """One request through the orchestrator over `runtime` (with these `fulfillers` as its
    registry, else the real one)."""
    request = FulfillRequest(
        user_id="t",
        document_text=text,
        cursor_position=cursor or cursor_at_end(text),
        global_context=GlobalContext(
            scope_root=str(scope) if scope else None, plan_path=str(plan) if plan else None
        ),
        fulfillers=only,
    )
    orch = assembly.orchestrator(runtime, fulfillers)
    return await orch.fulfill(orch.prepare(request, serial=serial))


PLAN = """# Plan: resilient sync

## Retries

We wrap the Redis client in `RetryPolicy` and use exponential backoff with jitter.
Calls go through `aiohttp` with a pooled session. The Redis Streams consumer
must survive a broker restart; exponential backoff caps at 30 s.
Should we use Server-Sent Events or WebSockets for the live feed?
"""
