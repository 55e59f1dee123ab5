"""`parallizer mcp`: the Model Context Protocol server over stdio, for coding agents.

The agent starts it as a subprocess and speaks JSON-RPC over its stdin and stdout; every log
line goes to stderr. It ends when the agent closes its stdin."""

from __future__ import annotations

import asyncio

from ..config import Settings
from .common import load_settings_or_fail
from .root import app


async def _serve(settings: Settings) -> None:
    from .. import assembly
    from ..clients.mcp import Reviewer, create_server
    from ..runtime import Runtime

    async with Runtime(settings) as runtime:
        orchestrator = assembly.orchestrator(runtime)
        server = create_server(Reviewer(settings, lambda: orchestrator))
        await server.run_stdio_async()


@app.command()
def mcp() -> None:
    """Serve the `review_plan` tool over stdio (Model Context Protocol)."""
    settings = load_settings_or_fail()
    asyncio.run(_serve(settings))
