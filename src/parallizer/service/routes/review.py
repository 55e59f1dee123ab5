"""POST /review: every finding of a plan (`Orchestrator.review`), for an editor to underline.

The same body and the same checks as POST /fulfill, but no run and no feed: the answer is
the findings themselves, uncapped, each on its ranges in the plan. It does not supersede the
user's running /fulfill (an editor sends both after each pause in typing); a client that
hangs up stops its review, since nobody else would read it."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ...models import FulfillRequest, Timings
from ..runs import ServiceDep
from ..schemas import ERROR_RESPONSES, ReviewResponse
from .fulfill import CLIENT_CLOSED, client_gone

log = logging.getLogger("parallizer.service")

router = APIRouter(tags=["review"])


@router.post(
    "/review",
    response_model=ReviewResponse,
    responses=ERROR_RESPONSES,
    summary="Every finding of a plan, on its ranges, for an editor's underlines",
)
async def review(
    body: FulfillRequest,
    svc: ServiceDep,
    request: Request,
    everything: Annotated[
        bool,
        Query(alias="all", description="also the low-confidence findings (severity `info`)"),
    ] = False,
) -> ReviewResponse | Response:
    """Same body as POST /fulfill (`fulfillers` is checked, not used). The answer lists every
    finding the code and the plan support, best first: names the code does not define, paths
    that do not exist, ambiguous names, open decisions. Each has `range` and `ranges` in the
    plan (0-based lines, UTF-16 columns), `severity`, `message` (the question), `fix` (what to
    write instead, or null) and `citations`. Without `?all=true` the low-confidence ones
    (`info`) are left out."""
    job = await svc.prepare(body)
    work = asyncio.ensure_future(svc.orchestrator.review(job))
    gone = asyncio.ensure_future(client_gone(request))
    try:
        await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not work.done():  # the client left (or the server is shutting down): stop it
            work.cancel()
            await asyncio.wait({work})
    if work.cancelled():
        log.info("review for user %s: the client left, stopped", body.user_id)
        return Response(status_code=CLIENT_CLOSED)
    result = work.result()
    shown = [f for f in result.findings if everything or f.severity != "info"]
    total = round(job.clock.ms(), 1)
    log.info(
        "review for user %s: %d findings (%d shown) in %.1f ms",
        body.user_id,
        len(result.findings),
        len(shown),
        total,
    )
    return ReviewResponse(
        findings=shown, timings=Timings(total_ms=total, fulfillers={"ambiguities": result.timing})
    )
