"""`parallizer serve`: the HTTP service under uvicorn."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from typing import Annotated

import typer

from .common import load_settings_or_fail
from .root import app, fail

DEFAULT_FACTORY = "parallizer.service:app_from_env"


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="port (0: any free port)")] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", help="worker processes (each with its own feed)")
    ] = 1,
    graceful_timeout: Annotated[
        float,
        typer.Option(
            "--graceful-timeout",
            help="seconds a SIGTERM waits for in-flight requests before cancelling them",
        ),
    ] = 10.0,
    mcp: Annotated[
        bool,
        typer.Option("--mcp", help="serve the MCP tool at /mcp too (same as PARALLIZER_MCP=1)"),
    ] = False,
    factory: Annotated[
        str,
        typer.Option("--factory", help="IMPORT:CALLABLE returning the ASGI app", hidden=True),
    ] = DEFAULT_FACTORY,
) -> None:
    """Serve the HTTP API (POST /fulfill, /fulfill/stream, GET /cached/{user_id}, ...)."""
    if not 0 <= port <= 65535:
        raise fail(f"--port {port}: expected 0..65535")
    if workers < 1:
        raise fail(f"--workers {workers}: expected at least 1")
    if graceful_timeout <= 0:
        raise fail(f"--graceful-timeout {graceful_timeout}: expected a positive number of seconds")
    if ":" not in factory:
        raise fail(f"--factory {factory!r}: expected IMPORT:CALLABLE")
    if mcp:  # the app is built from the environment, in each worker
        os.environ["PARALLIZER_MCP"] = "1"
    settings = load_settings_or_fail()  # a bad variable fails here, not in every worker
    if workers > 1 and not settings.redis_url:
        raise fail(
            f"--workers {workers} needs PARALLIZER_REDIS_URL: each worker would keep its own "
            "feed, cache, limits and request registry, and answer wrong"
        )
    if settings.redis_url:
        _check_redis(settings.redis_url)

    import uvicorn

    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # every worker writes its samples here; /metrics (any worker) aggregates them
        metrics_dir = tempfile.mkdtemp(prefix="parallizer-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    # uvicorn re-raises the signal that stopped it once it has shut down gracefully: a
    # graceful stop is a normal exit for a server (0), as is a signal before uvicorn took over
    restore = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        uvicorn.run(
            factory,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            # uvicorn waits with asyncio.wait_for: a fraction of a second works, though its
            # annotation says int
            timeout_graceful_shutdown=graceful_timeout,  # type: ignore[arg-type]
            log_level=settings.log_level.lower(),
            access_log=False,  # one line per request comes from our own middleware
            server_header=False,
            lifespan="on",
            # the stock asyncio loop, even where uvloop is installed: measured with 50 users,
            # uvloop made requests that run rg 2.3-2.8x slower (its subprocess path)
            loop="asyncio",
        )
    finally:
        for sig, handler in restore.items():
            signal.signal(sig, handler)
        if metrics_dir is not None:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _check_redis(url: str) -> None:
    """Exit 2 with one clear line if Redis cannot be reached at start-up."""
    import asyncio
    import logging

    from ..stores.redis_client import RedisLink, RedisUnavailable

    logging.getLogger("parallizer.redis").disabled = True  # the one error line says it

    async def ping() -> None:
        link = RedisLink(url)
        try:
            await link.ping()
        finally:
            await link.aclose()

    try:
        asyncio.run(ping())
    except (RedisUnavailable, ValueError) as exc:  # ValueError: not a redis:// URL
        raise fail(f"PARALLIZER_REDIS_URL: {exc}") from None
    finally:
        logging.getLogger("parallizer.redis").disabled = False


def _stopped(signum: int, frame: object) -> None:
    """Installed around uvicorn.run, which replaces it while serving: it runs before uvicorn
    took over, or when uvicorn re-raises the signal after its graceful shutdown."""
    raise SystemExit(0)
