"""The FastAPI application: lifespan (shared runtime, feed store, runs), middleware, routes.

`create_app(settings, runtime, store)` builds an app; everything it is given is owned by it
and closed at shutdown. `app_from_env()` is what `parallizer serve` runs (also in each
worker with `--workers N`): settings and logging from the environment.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from .. import __version__
from ..config import Settings, load_settings
from ..context import Job
from ..errors import redact_all
from ..models import FulfillRequest, FulfillResponse
from ..orchestrator import CardEvent, DoneEvent, FulfillerEvent, Orchestrator
from ..runtime import Runtime
from . import errors, metrics, sse
from .feed import FeedStore, memory_store_from_settings
from .middleware import BearerAuth, BodyLimit, RequestContext
from .runs import END_OF_RUN, Busy, Run, RunManager, ShuttingDown
from .schemas import (
    AUTH_RESPONSES,
    ERROR_RESPONSES,
    PARAM_RESPONSES,
    CachedFeed,
    FeedCleared,
    Health,
)

log = logging.getLogger("parallizer.service")

#: a keep-alive comment on an idle event stream, so proxies do not cut it
PING_INTERVAL = 15.0
CANCELLED_HEADER = "X-Parallizer-Cancelled"
#: one event of /fulfill/stream (OpenAPI 3.2 style `itemSchema`); `data` is JSON text
SSE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {
            "type": "string",
            "enum": ["card", "fulfiller", "done", "superseded", "cancelled", "error"],
        },
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string"},
    },
}


def body_limit(settings: Settings) -> int:
    """The largest request body read: room for a document at the limit even when every
    character is JSON-escaped (`\\uXXXX`), plus the envelope. The document itself is then
    held to `max_document_bytes` exactly."""
    return 4 * settings.max_document_bytes + 64 * 1024


@dataclass
class Service:
    settings: Settings
    runtime: Runtime
    orchestrator: Orchestrator
    store: FeedStore
    runs: RunManager

    async def prepare(self, request: FulfillRequest) -> Job:
        """Unknown fulfillers (422), document size (413), paths outside the roots (403).

        Path resolution touches the file system, so it runs off the event loop."""
        return await asyncio.to_thread(self.orchestrator.prepare, request)

    def start(self, request: FulfillRequest, job: Job, **kw: Any) -> Run:
        try:
            return self.runs.start(request, job, **kw)
        except ShuttingDown as exc:
            raise HTTPException(503, str(exc)) from exc
        except Busy as exc:
            raise HTTPException(503, str(exc), headers={"Retry-After": "1"}) from exc

    async def feed(self, user_id: str) -> CachedFeed:
        snap = await self.store.get(user_id)
        if snap is None:
            return CachedFeed()
        return CachedFeed(
            cards=snap.cards, last_updated=snap.last_updated, processing=snap.processing
        )


def get_service(request: Request) -> Service:
    svc = getattr(request.app.state, "service", None)
    if not isinstance(svc, Service):  # pragma: no cover - the ASGI server did not run the lifespan
        raise RuntimeError("the service was not started (lifespan not run)")
    return svc


ServiceDep = Annotated[Service, Depends(get_service)]
UserId = Annotated[str, Path(min_length=1, max_length=256)]


def create_app(
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    store: FeedStore | None = None,
) -> FastAPI:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or Runtime(settings)
        st = store or memory_store_from_settings(settings)
        orch = Orchestrator(rt)
        runs = RunManager(orch, st, max_runs=settings.max_runs)
        app.state.service = Service(settings, rt, orch, st, runs)
        log.info(
            "service ready: fulfillers %s (available: %s), allowed roots %s, auth %s",
            list(rt.fulfillers),
            rt.available(),
            ":".join(map(str, settings.allowed_root_paths)),
            "on" if settings.api_token else "off",
        )
        try:
            yield
        finally:
            log.info("service stopping")
            await runs.aclose()
            await st.aclose()
            await rt.aclose()
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
    _routes(app, settings)

    # middleware: the last added is the outermost
    app.add_middleware(BodyLimit, limit=body_limit(settings))
    app.add_middleware(
        BearerAuth, token=settings.api_token.get_secret_value() if settings.api_token else None
    )
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", CANCELLED_HEADER],
        )
    app.add_middleware(RequestContext)
    return app


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


# --- routes ----------------------------------------------------------------------------------


def _wire(resp: FulfillResponse, **headers: str) -> JSONResponse:
    return JSONResponse(resp.to_wire(), headers=headers or None)


def _routes(app: FastAPI, settings: Settings) -> None:
    @app.post(
        "/fulfill",
        response_model=FulfillResponse,
        response_model_exclude_none=True,
        responses=ERROR_RESPONSES,
        summary="Fulfill a request: cards and timings",
    )
    async def fulfill(
        body: FulfillRequest,
        svc: ServiceDep,
        request: Request,
        background: Annotated[
            bool,
            Query(description="answer at once with the current feed; the work lands in it"),
        ] = False,
    ) -> Response:
        """Run the requested fulfillers (default: all available) concurrently.

        Synchronous by default: the answer holds this request's cards and the timing report.
        With `?background=true` the answer is the user's current feed with
        `processing: true`; poll `GET /cached/{user_id}` until `processing` is false.
        A newer request of the same user cancels this one: a superseded synchronous request
        answers with the current feed, `processing: true` (the newer one runs) and the
        header `X-Parallizer-Cancelled: superseded` (`deleted` when the feed was deleted)."""
        job = await svc.prepare(body)
        run = svc.start(body, job, mode="background" if background else "sync")
        if background:
            await _wait_began(run)
            feed = await svc.feed(body.user_id)
            return _wire(FulfillResponse(cards=feed.cards, processing=True))
        gone = asyncio.ensure_future(_client_gone(request))
        try:
            await asyncio.wait({run.task, gone}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the server gave up on this request (shutdown)
            run.stop("shutdown")
            raise  # answered 503 by the RequestContext middleware
        finally:
            gone.cancel()
        if not run.task.done():  # the client hung up: nobody waits for this work any more
            run.stop("disconnected")
            await asyncio.wait({run.task})
        if run.task.cancelled():
            feed = await svc.feed(body.user_id)
            resp = FulfillResponse(cards=feed.cards, processing=feed.processing)
            return _wire(resp, **{CANCELLED_HEADER: run.end or "cancelled"})
        if (exc := run.task.exception()) is not None:
            raise exc
        assert run.done is not None
        return _wire(FulfillResponse(cards=run.done.cards, timings=run.done.timings))

    @app.post(
        "/fulfill/stream",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": (
                    "text/event-stream: `card` (a card, as soon as its fulfiller finishes), "
                    "`fulfiller` ({name, timing}), `done` (the body of POST /fulfill); "
                    "`superseded` if a newer request of the user replaced this one"
                ),
                "content": {"text/event-stream": {"itemSchema": SSE_EVENT_SCHEMA}},
            },
            **ERROR_RESPONSES,
        },
        summary="Fulfill a request, streaming cards as Server-Sent Events",
    )
    async def fulfill_stream(body: FulfillRequest, svc: ServiceDep) -> StreamingResponse:
        """Same body as POST /fulfill. Closing the connection cancels the work."""
        job = await svc.prepare(body)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        run = svc.start(body, job, mode="stream", listener=queue)
        return RunStream(run, _events(run, queue))

    @app.get(
        "/cached/{user_id}",
        response_model=CachedFeed,
        responses=PARAM_RESPONSES,
        summary="The user's feed",
    )
    async def cached(user_id: UserId, svc: ServiceDep) -> CachedFeed:
        """At most 3 cards per type, newest first, near duplicates dropped. An unknown (or
        expired) user has an empty feed and `last_updated: null`."""
        return await svc.feed(user_id)

    @app.delete(
        "/user/{user_id}/feed",
        response_model=FeedCleared,
        responses=PARAM_RESPONSES,
        summary="Forget the user's feed and cancel their running request",
    )
    async def clear_feed(user_id: UserId, svc: ServiceDep) -> FeedCleared:
        cancelled = await svc.runs.cancel_user(user_id, "deleted")
        cleared = await svc.store.clear(user_id)
        return FeedCleared(user_id=user_id, cleared=cleared or cancelled, cancelled=cancelled)

    @app.get("/health", response_model=Health, summary="What can run here, and why not")
    async def health(svc: ServiceDep) -> JSONResponse:
        """Open without a token. Each fulfiller and backend: available or not, and why."""
        report = svc.runtime.health()
        body = Health(
            version=app.version, fulfillers=report["fulfillers"], backends=report["backends"]
        ).model_dump(mode="json")
        return JSONResponse(redact_all(body, settings.secrets()))

    @app.get(
        "/metrics",
        response_class=Response,
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
            **AUTH_RESPONSES,
        },
        summary="Prometheus metrics",
    )
    async def prometheus() -> Response:
        # with several workers this reads every worker's metric files: off the event loop
        data, content_type = await asyncio.to_thread(metrics.exposition)
        return Response(content=data, media_type=content_type)


async def _client_gone(request: Request) -> None:
    """Returns when the client disconnects (the body has been read: the next message the
    server sends us is the disconnect)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _wait_began(run: Run) -> None:
    """Until the run holds its feed generation (so the feed reads `processing`), or ended."""
    began = asyncio.ensure_future(run.began.wait())
    try:
        await asyncio.wait({began, run.task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        began.cancel()


async def _events(run: Run, queue: asyncio.Queue[Any]) -> AsyncIterator[bytes]:
    seq = 0
    try:
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), PING_INTERVAL)
            except TimeoutError:
                yield sse.PING
                continue
            if event is END_OF_RUN:
                break
            seq += 1
            if isinstance(event, CardEvent):
                yield sse.frame(
                    "card", event.card.model_dump(mode="json", exclude_none=True), id=seq
                )
            elif isinstance(event, FulfillerEvent):
                data = {
                    "name": event.name,
                    "timing": event.timing.model_dump(mode="json", exclude_none=True),
                }
                yield sse.frame("fulfiller", data, id=seq)
            elif isinstance(event, DoneEvent):
                resp = FulfillResponse(cards=event.cards, timings=event.timings)
                yield sse.frame("done", resp.to_wire(), id=seq)
        if run.done is None:
            if run.superseded:
                detail = "superseded by a newer request of the same user"
                yield sse.frame("superseded", {"detail": detail})
            elif run.end == "deleted":
                yield sse.frame("cancelled", {"detail": "the user's feed was deleted"})
            else:
                yield sse.frame("error", {"detail": errors.INTERNAL})
    finally:
        run.stop("disconnected")


class RunStream(StreamingResponse):
    """The event stream of a run. However the response ends (the client hung up, even
    before the first event; the server is stopping), the run stops with it: the run
    manager owns the task and awaits it at shutdown."""

    def __init__(self, run: Run, events: AsyncIterator[bytes]) -> None:
        super().__init__(
            events,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self.run = run

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.run.stop("disconnected")
