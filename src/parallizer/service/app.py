"""The FastAPI application: lifespan (shared runtime, feed store, runs), middleware, routes.

`create_app(settings, runtime, store)` builds an app; everything it is given is owned by it
and closed at shutdown. `app_from_env()` is what `parallizer serve` runs (also in each
worker with `--workers N`): settings and logging from the environment.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from .. import __version__, assembly, collector
from ..clients.http import router as clients_router
from ..config import Settings, load_settings
from ..fulfillers.base import Fulfiller
from ..runtime import Runtime
from . import errors, metrics
from .middleware import BearerAuth, BodyLimit, RequestContext
from .routes import feed, files, fulfill, health, review
from .runs import FeedStore, RunManager, Service, memory_store_from_settings

if TYPE_CHECKING:
    from ..stores.redis_client import RedisLink
    from ..stores.registry import RequestRegistry

log = logging.getLogger("parallizer.service")

#: origins always allowed by CORS: a local development server on any port
LOCAL_ORIGINS = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?"


def body_limit(settings: Settings) -> int:
    """The largest request body read: room for a document at the limit even when every
    character is JSON-escaped (`\\uXXXX`), plus the envelope. The document itself is then
    held to `max_document_bytes` exactly."""
    return 4 * settings.max_document_bytes + 64 * 1024


def create_app(
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    store: FeedStore | None = None,
    fulfillers: Sequence[Fulfiller] | None = None,
) -> FastAPI:
    """The service. `runtime` (default: built from `settings`, its web and LLM shared through
    Redis when configured) and `fulfillers` (default: the registry) are for tests."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        link = registry = None
        if settings.redis_url and store is None:
            link, st, registry = await _shared_state(settings)
        else:
            st = store or memory_store_from_settings(settings)
        rt = runtime or Runtime(settings, shared=link)
        orch = assembly.orchestrator(rt, fulfillers)
        runs = RunManager(
            orch,
            st,
            max_runs=settings.max_runs,
            announce=registry.announce if registry is not None else None,
        )
        if registry is not None:
            registry.on_newer = runs.superseded_elsewhere
            registry.start()
        app.state.service = Service(settings, rt, orch, st, runs, redis=link)
        await rt.lanes.warm()  # their imports now, not on the first request
        collector.tune()  # a burst makes objects by the million: see collector.py
        log.info(
            "service ready: fulfillers %s (available: %s), allowed roots %s, auth %s",
            list(orch.fulfillers),
            orch.available(),
            ":".join(map(str, settings.allowed_root_paths)),
            "on" if settings.api_token else "off",
        )
        try:
            yield
        finally:
            log.info("service stopping")
            await runs.aclose()
            if registry is not None:
                await registry.aclose()
            await st.aclose()
            await rt.aclose()
            if link is not None:
                await link.aclose()
            metrics.process_exiting()
            log.info("service stopped")

    app = FastAPI(
        title="Parallizer",
        version=__version__,
        description=(
            "Reads a plan as it is written and surfaces question, context and completion "
            "cards, in parallel. Wire-compatible with the Parallax editor's client."
        ),
        lifespan=lifespan,
    )
    errors.install(app)
    for router in (fulfill.router, review.router, feed.router, files.router, health.router):
        app.include_router(router)
    app.include_router(clients_router(settings))  # the web page at /app; /mcp when enabled

    # middleware: the last added is the outermost
    app.add_middleware(BodyLimit, limit=body_limit(settings), timeout=settings.body_timeout)
    app.add_middleware(
        BearerAuth, token=settings.api_token.get_secret_value() if settings.api_token else None
    )
    app.add_middleware(
        CORSMiddleware,
        **cors_options(settings),
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        expose_headers=["X-Request-ID", fulfill.CANCELLED_HEADER],
    )
    app.add_middleware(RequestContext)
    return app


async def _shared_state(settings: Settings) -> tuple[RedisLink, FeedStore, RequestRegistry]:
    """Feed, superseding, web answers and limits in Redis (PARALLIZER_REDIS_URL)."""
    from ..stores.redis_client import RedisLink, RedisUnavailable
    from ..stores.registry import RequestRegistry
    from .feed_redis import RedisFeedStore

    assert settings.redis_url
    link = RedisLink(settings.redis_url)
    try:
        await link.ping()
        log.info("shared state in Redis at %s", link.health()["url"])
    except RedisUnavailable as exc:  # serve checked it; it may come back: degrade until then
        log.warning("starting without Redis for now: %s", exc)
    store = RedisFeedStore(link, max_per_type=settings.feed_max_per_type, ttl=settings.feed_ttl)
    return link, store, RequestRegistry(link, on_newer=lambda user, gen: None)


def cors_options(settings: Settings) -> dict[str, Any]:
    """Any local development origin (`http://localhost:*`, `http://127.0.0.1:*`), plus the
    origins of `PARALLIZER_CORS_ORIGINS` (comma-separated). Never credentials: the API's
    token is a bearer header, not a cookie, so `*` stays safe when it is listed."""
    extra = [o.strip().rstrip("/") for o in settings.cors_origins.split(",") if o.strip()]
    if "*" in extra:
        return {"allow_origins": ["*"], "allow_credentials": False}
    pattern = "|".join([LOCAL_ORIGINS, *(re.escape(o) for o in extra)])
    return {"allow_origin_regex": f"(?:{pattern})", "allow_credentials": False}


def app_from_env() -> FastAPI:
    """The app `parallizer serve` runs: settings and logging from the environment."""
    return create_app(settings_from_env())


def settings_from_env() -> Settings:
    """Settings from the environment, and logging set up by them (uvicorn's lines too)."""
    from ..logs import setup_logging

    settings = load_settings()
    setup_logging(settings.log_level, settings.log_format, settings.secrets())
    # uvicorn's own lines (startup, shutdown) in the same format and stream as ours
    ours = logging.getLogger("parallizer").handlers
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = list(ours) if name == "uvicorn" else []
        lg.propagate = name != "uvicorn"
    return settings
