"""POST /fulfill (synchronous, or `?background=true`) and POST /fulfill/stream (SSE).

Every request becomes a run (see `service.runs`) whose cards land in the user's feed as each
fulfiller finishes. The answer is the user's whole feed after this request's cards were
merged, this request's own cards marked `new: true` (what the Parallax clients expect). A
client that hangs up does not stop its run: the cards still land in the feed; only a newer
request of the same user (or deleting the feed, or shutdown) stops it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent

from ...errors import StoreUnavailable
from ...models import Card, FulfillRequest, FulfillResponse, Timings
from ...orchestrator import CardEvent, DoneEvent, EarlyEvent, FulfillerEvent
from .. import errors
from ..middleware import SHUTTING_DOWN
from ..runs import END_OF_RUN, Run, Service, ServiceDep
from ..schemas import ERROR_RESPONSES, as_json

log = logging.getLogger("parallizer.service")

router = APIRouter(tags=["fulfill"])

CANCELLED_HEADER = "X-Parallizer-Cancelled"
#: nginx's "client closed request": what a request whose client hung up is counted as
CLIENT_CLOSED = 499
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


async def feed_answer(
    svc: Service, user_id: str, own: Sequence[Card], timings: Timings | None
) -> FulfillResponse:
    """The user's feed now, the cards of `own` (this request's) marked new. While the feed
    cannot be reached (shared state down), this request's own cards alone."""
    try:
        feed = await svc.feed(user_id)
    except StoreUnavailable as exc:
        log.warning("answering user %s without the feed: %s", user_id, exc)
        return FulfillResponse(cards=[c.marked(new=True) for c in own], timings=timings)
    return FulfillResponse(
        cards=[c.marked(new=c in own) for c in feed.cards],
        processing=feed.processing,
        timings=timings,
    )


def _wire(resp: FulfillResponse, **headers: str) -> JSONResponse:
    return JSONResponse(resp.to_wire(), headers=headers or None)


@router.post(
    "/fulfill",
    response_model=FulfillResponse,
    response_model_exclude_none=True,
    responses=ERROR_RESPONSES,
    summary="Fulfill a request: the user's feed with this request's cards, and timings",
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

    Synchronous by default: the answer is the user's whole feed once this request's cards
    were merged into it (what `GET /cached/{user_id}` then shows), this request's cards
    marked `"new": true`, and the timing report. With `?background=true` the answer is
    the current feed with `processing: true`; poll `GET /cached/{user_id}`.
    A client that hangs up does not stop the work: it still lands in the feed. A newer
    request of the same user cancels this one: a superseded request answers with the
    current feed and the header `X-Parallizer-Cancelled: superseded` (`deleted` when the
    feed was deleted)."""
    job = await svc.prepare(body)
    run = svc.start(body, job, mode="background" if background else "sync")
    if background:
        await _wait_began(run)
        if run.generation is None and run.feed_error is not None:
            # nowhere for the work to land: say so rather than acknowledge it
            run.stop("error")
            raise StoreUnavailable(f"the feed is unavailable: {run.feed_error}")
        resp = await feed_answer(svc, body.user_id, (), None)
        resp.processing = True  # this run holds the feed's generation now
        return _wire(resp)
    gone = asyncio.ensure_future(client_gone(request))
    try:
        await asyncio.wait({run.task, gone}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # the server gave up on this request (shutdown)
        run.stop("shutdown")
        raise  # answered 503 by the RequestContext middleware
    finally:
        gone.cancel()
    if not run.task.done():
        # the client hung up: the run goes on alone and lands in the feed; nobody reads this
        run.detach()
        return Response(status_code=CLIENT_CLOSED)
    if run.task.cancelled():  # superseded or deleted: the feed as it is, nothing new
        resp = await feed_answer(svc, body.user_id, (), None)
        return _wire(resp, **{CANCELLED_HEADER: run.end or "cancelled"})
    if (exc := run.task.exception()) is not None:
        raise exc
    assert run.done is not None
    return _wire(await feed_answer(svc, body.user_id, run.done.cards, run.done.timings))


@dataclass(frozen=True, slots=True)
class StartedRun:
    run: Run
    events: asyncio.Queue[Any]


async def start_stream(body: FulfillRequest, svc: ServiceDep) -> StartedRun:
    """Validate and start the run before the event stream begins, so bad input is still a
    plain 4xx answer."""
    job = await svc.prepare(body)
    queue: asyncio.Queue[Any] = asyncio.Queue()
    return StartedRun(svc.start(body, job, mode="stream", listener=queue), queue)


@router.post(
    "/fulfill/stream",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": (
                "text/event-stream: `card` (a card, as soon as it is ready; an improved card "
                "comes again with the same `metadata.id`), "
                "`fulfiller` ({name, timing}), `done` (the body of POST /fulfill); "
                "`superseded` if a newer request of the user replaced this one, `cancelled` "
                "if the feed was deleted, `error` if the server failed or is shutting down"
            ),
            "content": {"text/event-stream": {"itemSchema": SSE_EVENT_SCHEMA}},
        },
        **as_json(ERROR_RESPONSES),
    },
    summary="Fulfill a request, streaming cards as Server-Sent Events",
)
async def fulfill_stream(
    started: Annotated[StartedRun, Depends(start_stream)], svc: ServiceDep
) -> AsyncIterable[ServerSentEvent]:
    """Same body as POST /fulfill. Every stream ends with a terminal event: `done`,
    `superseded`, `cancelled` or `error`. Closing the connection does not stop the work:
    it lands in the feed. (FastAPI's own SSE: keep-alive comments while idle.)"""
    run, queue = started.run, started.events
    seq = 0
    while (event := await queue.get()) is not END_OF_RUN:
        if isinstance(event, EarlyEvent):
            continue  # its cards went out as they came; the feed has them
        seq += 1
        if isinstance(event, CardEvent):
            card = event.card.marked(new=True).model_dump(mode="json", exclude_none=True)
            yield ServerSentEvent(event="card", data=card, id=str(seq))
        elif isinstance(event, FulfillerEvent):
            data = {
                "name": event.name,
                "timing": event.timing.model_dump(mode="json", exclude_none=True),
            }
            yield ServerSentEvent(event="fulfiller", data=data, id=str(seq))
        elif isinstance(event, DoneEvent):
            resp = await feed_answer(svc, run.user_id, event.cards, event.timings)
            resp.processing = False  # this run is over (a newer one would have superseded it)
            yield ServerSentEvent(event="done", data=resp.to_wire(), id=str(seq))
    if run.done is None:
        if run.superseded:
            detail = "superseded by a newer request of the same user"
            yield ServerSentEvent(event="superseded", data={"detail": detail})
        elif run.end == "deleted":
            yield ServerSentEvent(event="cancelled", data={"detail": "the user's feed was deleted"})
        elif run.end == "shutdown":
            yield ServerSentEvent(event="error", data={"detail": SHUTTING_DOWN})
        else:
            yield ServerSentEvent(event="error", data={"detail": errors.INTERNAL})


async def client_gone(request: Request) -> None:
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
