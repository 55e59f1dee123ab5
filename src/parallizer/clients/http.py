"""What the clients add to the HTTP service, as one router the app includes: the web page
at `/app`, and the MCP server at `/mcp` when `PARALLIZER_MCP=1`."""

from __future__ import annotations

from fastapi import APIRouter

from ..config import Settings


def router(settings: Settings) -> APIRouter:
    from .web import router as web_router

    router = APIRouter()
    router.include_router(web_router())
    if settings.mcp:
        from .mcp import http_router

        router.include_router(http_router(settings))
    return router
