"""GET / (a summary), GET /health (what can run here, and why not), GET /metrics."""

from __future__ import annotations

import asyncio
from contextlib import suppress

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from ... import __version__
from ...errors import StoreUnavailable, redact_all
from .. import metrics
from ..runs import ServiceDep
from ..schemas import (
    AUTH_RESPONSES,
    DependencyHealth,
    FulfillerHealth,
    Health,
    IndexHealth,
    RedisHealth,
    Root,
)

router = APIRouter(tags=["health"])


@router.get("/", response_model=Root, responses=AUTH_RESPONSES, summary="What this server is")
async def root(svc: ServiceDep) -> Root:
    return Root(
        version=__version__,
        fulfillers=len(svc.orchestrator.fulfillers),
        active_users=await svc.active_users(),
    )


@router.get("/health", response_model=Health, summary="What can run here, and why not")
async def health(svc: ServiceDep) -> JSONResponse:
    """Open without a token. Each fulfiller and backend: available or not, and why."""
    report = svc.orchestrator.health()
    body = Health(
        version=__version__,
        fulfillers=[
            FulfillerHealth(name=name, **a.model_dump()) for name, a in report["fulfillers"].items()
        ],
        backends=report["backends"],
        active_users=await svc.active_users(),
        dependencies=[DependencyHealth(**n) for n in svc.runtime.deps.notes()],
        index=IndexHealth.model_validate(svc.runtime.code.describe()),
    )
    if svc.redis is not None:
        with suppress(StoreUnavailable):  # look now: a quiet server may not know its state
            await svc.redis.ping()
        body.redis = RedisHealth(**svc.redis.health())
        body.status = "healthy" if body.redis.available else "degraded"
    return JSONResponse(redact_all(body.model_dump(mode="json"), svc.settings.secrets()))


@router.get(
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
