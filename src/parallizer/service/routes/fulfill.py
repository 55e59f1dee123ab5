"""POST /fulfill (synchronous, or `?background=true`) and POST /fulfill/stream (SSE).

Every request becomes a run (see `service.runs`) whose cards land in the user's feed as each
fulfiller finishes. The answer is the user's whole feed after this request's cards were
merged, this request's own cards marked `new: true` (what the Parallax clients expect). A
client that hangs up does not stop its run: the cards still land in the feed; only a newer
request of the same user (or deleting the feed, or shutdown) stops it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ...models import Card, FulfillRequest, FulfillResponse, Timings
from ...orchestrator import CardEvent, DoneEvent, FulfillerEvent
from .. import errors, sse
from ..deps import Service, ServiceDep
from ..runs import END_OF_RUN, Run
from ..schemas import ERROR_RESPONSES

router = APIRouter(tags=["fulfill"])

#: a keep-alive comment on an idle event stream, so proxies do not cut it
PING_INTERVAL = 15.0
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
    """The user's feed now, the cards of `own` (this request's) marked new."""
    feed = await svc.feed(user_id)
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
        resp = await feed_answer(svc, body.user_id, (), None)
        resp.processing = True  # this run holds the feed's generation now
        return _wire(resp)
    gone = asyncio.ensure_future(_client_gone(request))
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
    if run.task.cancelled():
        feed = await svc.feed(body.user_id)
        resp = FulfillResponse(cards=feed.cards, processing=feed.processing)
        return _wire(resp, **{CANCELLED_HEADER: run.end or "cancelled"})
    if (exc := run.task.exception()) is not None:
        raise exc
    assert run.done is not None
    return _wire(await feed_answer(svc, body.user_id, run.done.cards, run.done.timings))


@router.post(
    "/fulfill/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": (
                "text/event-stream: `card` (a card, as soon as its fulfiller finishes), "
                "`fulfiller` ({name, timing}), `done` (the body of POST /fulfill); "
                "`superseded` if a newer request of the user replaced this one, `cancelled` "
                "if the feed was deleted, `error` if the server failed or is shutting down"
            ),
            "content": {"text/event-stream": {"itemSchema": SSE_EVENT_SCHEMA}},
        },
        **ERROR_RESPONSES,
    },
    summary="Fulfill a request, streaming cards as Server-Sent Events",
)
async def fulfill_stream(body: FulfillRequest, svc: ServiceDep) -> StreamingResponse:
    """Same body as POST /fulfill. Every stream ends with a terminal event: `done`,
    `superseded`, `cancelled` or `error`. Closing the connection does not stop the work:
    it lands in the feed."""
    job = await svc.prepare(body)
    queue: asyncio.Queue[Any] = asyncio.Queue()
    run = svc.start(body, job, mode="stream", listener=queue)
    return RunStream(run, _events(svc, run, queue))


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


async def _events(svc: Service, run: Run, queue: asyncio.Queue[Any]) -> AsyncIterator[bytes]:
    seq = 0
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
            card = event.card.marked(new=True)
            yield sse.frame("card", card.model_dump(mode="json", exclude_none=True), id=seq)
        elif isinstance(event, FulfillerEvent):
            data = {
                "name": event.name,
                "timing": event.timing.model_dump(mode="json", exclude_none=True),
            }
            yield sse.frame("fulfiller", data, id=seq)
        elif isinstance(event, DoneEvent):
            resp = await feed_answer(svc, run.user_id, event.cards, event.timings)
            resp.processing = False  # this run is over (a newer one would have superseded it)
            yield sse.frame("done", resp.to_wire(), id=seq)
    if run.done is None:
        if run.superseded:
            detail = "superseded by a newer request of the same user"
            yield sse.frame("superseded", {"detail": detail})
        elif run.end == "deleted":
            yield sse.frame("cancelled", {"detail": "the user's feed was deleted"})
        elif run.end == "shutdown":
            yield sse.frame("error", {"detail": SHUTTING_DOWN})
        else:
            yield sse.frame("error", {"detail": errors.INTERNAL})


SHUTTING_DOWN = "the server is shutting down: the request was cancelled"


class RunStream(StreamingResponse):
    """The event stream of a run. However the response ends (the client hung up, even
    before the first event), the run goes on alone: it is detached, so a failure is still
    logged; the run manager owns the task and stops it at shutdown. When the server
    cancels the stream (shutdown past the graceful timeout) a terminal `error` event is
    sent before the stream ends."""

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
        except asyncio.CancelledError:
            self.run.stop("shutdown")
            raise
        finally:
            self.run.detach()
