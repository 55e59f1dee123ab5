"""A Model Context Protocol server for coding agents: one tool, `review_plan`.

The agent hands it a plan (`plan_path`, or the text itself in `document_text`), optionally the
code tree (`scope_root`) and a cursor; it gets the cards back as readable Markdown (what the
model reads) and as structured content (the cards and the timing report, as `POST /fulfill`
has them). The request goes through the same `Orchestrator` as the CLI and the HTTP service,
under the same rules: every path must resolve inside `PARALLIZER_ALLOWED_ROOTS`, the same
document limit. A bad path, scope or cursor is a tool error (`isError`) with one clear
sentence, never a crash.

Served over stdio by `parallizer mcp`, and at `/mcp` (streamable HTTP) by the HTTP service
when `PARALLIZER_MCP=1` (`parallizer serve --mcp`), behind the service's bearer token.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from .. import __version__
from ..config import Settings, resolve_inside
from ..errors import BadInput, PathNotAllowed
from ..models import Card, CardType, FulfillRequest, FulfillResponse, GlobalContext, Timings
from ..orchestrator import Orchestrator
from ..service.files import read_text

TOOL = "review_plan"
USER_ID = "mcp"

INSTRUCTIONS = (
    "Parallizer reviews a plan (a Markdown design doc or a spec for a coding agent) against "
    "the code tree it is about. Call review_plan with the plan's path or text before acting "
    "on a plan: it answers with clarifying questions grounded in the code (names the plan "
    "uses that the code lacks, names defined in several places, open points), where the "
    "things the plan names live (path:line), web context when configured, and a completion "
    "of the line at the cursor."
)

_TITLES = {
    CardType.question: "Questions",
    CardType.context: "Context",
    CardType.completion: "Completions",
}


class Review(BaseModel):
    """The structured content of a `review_plan` result."""

    cards: list[Card] = Field(description="the cards, as POST /fulfill returns them")
    timings: Timings = Field(description="per fulfiller and per query: ms, ok or failed, why")
    scope_root: str | None = Field(default=None, description="the code tree searched")
    plan_path: str | None = Field(default=None, description="the plan file, when one was given")


class Reviewer:
    """Turns the tool's arguments into a request, runs it, and words the answer.

    `orchestrator` is called for each review: the stdio server owns one runtime, the HTTP
    service hands its own (created in its lifespan, after this object)."""

    def __init__(self, settings: Settings, orchestrator: Callable[[], Orchestrator]) -> None:
        self.settings = settings
        self.orchestrator = orchestrator

    async def review(
        self,
        *,
        plan_path: str | None,
        document_text: str | None,
        scope_root: str | None,
        cursor: str | list[int] | None,
    ) -> CallToolResult:
        orch = self.orchestrator()
        try:
            request = await asyncio.to_thread(
                self.request, plan_path, document_text, scope_root, cursor
            )
            job = await asyncio.to_thread(orch.prepare, request)
        except PathNotAllowed as exc:
            raise ToolError(f"{exc}; PARALLIZER_ALLOWED_ROOTS must include it") from exc
        except BadInput as exc:
            raise ToolError(str(exc)) from exc
        response = await orch.fulfill(job)
        assert response.timings is not None
        review = Review(
            cards=response.cards,
            timings=response.timings,
            scope_root=request.global_context.scope_root,
            plan_path=request.global_context.plan_path,
        )
        return CallToolResult(
            content=[TextContent(type="text", text=as_markdown(response, review.scope_root))],
            structured_content=review.model_dump(mode="json", exclude_none=True),
        )

    def request(
        self,
        plan_path: str | None,
        document_text: str | None,
        scope_root: str | None,
        cursor: str | list[int] | None,
    ) -> FulfillRequest:
        """Blocking (it reads the file system): runs in a thread."""
        roots = self.settings.allowed_root_paths
        if plan_path is None and document_text is None:
            raise BadInput("give plan_path (a file to read) or document_text (the plan itself)")
        plan = (
            resolve_inside(plan_path, roots, what="plan_path", kind="file") if plan_path else None
        )
        if document_text is not None:
            text = document_text
        else:
            assert plan is not None
            text = read_text(plan, self.settings.max_document_bytes)
        if scope_root:
            scope = resolve_inside(scope_root, roots, what="scope_root", kind="dir")
        else:
            here = Path(os.getcwd())
            if not any(here == r or here.is_relative_to(r) for r in roots):
                raise BadInput(
                    "scope_root is needed: the server's working directory is outside the "
                    "allowed roots"
                )
            scope = here
        try:
            return FulfillRequest(
                user_id=USER_ID,
                document_text=text,
                cursor_position=_cursor(cursor, text),
                global_context=GlobalContext(
                    scope_root=str(scope), plan_path=str(plan) if plan else None
                ),
            )
        except ValidationError as exc:
            raise BadInput(exc.errors()[0]["msg"].removeprefix("Value error, ")) from exc


def _cursor(raw: str | list[int] | None, text: str) -> tuple[int, int]:
    """`"LINE:COL"` or `[line, col]`, 0-based; default: the end of the document. Whether it
    lies inside the document is the request model's check, as on HTTP."""
    if raw is None:
        lines = text.split("\n")
        return len(lines) - 1, len(lines[-1])
    if isinstance(raw, str):
        parts = raw.split(":")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise BadInput(f'cursor {raw!r}: expected "LINE:COL", two 0-based numbers')
        return int(parts[0]), int(parts[1])
    if len(raw) != 2 or any(n < 0 for n in raw):
        raise BadInput(f"cursor {raw!r}: expected [line, column], two 0-based numbers")
    return raw[0], raw[1]


def as_markdown(response: FulfillResponse, scope_root: str | None) -> str:
    """The cards by type, each with its citations, then one line per fulfiller."""
    out: list[str] = []
    if not response.cards:
        out.append("No cards for this plan.")
    for ctype, title in _TITLES.items():
        cards = [c for c in response.cards if c.type == ctype]
        if not cards:
            continue
        out.append(f"## {title} ({len(cards)})\n")
        for c in cards:
            out.append(f"### {c.header}\n\n{c.text.strip()}\n")
            if c.metadata.citations:
                out.append(f"Cites: {', '.join(c.metadata.citations)}\n")
    t = response.timings
    if t is not None:
        out.append(f"---\nTimings: {t.total_ms:.0f} ms in all"
                   + (f"; paths relative to {scope_root}" if scope_root else ""))  # fmt: skip
        for name, ft in t.fulfillers.items():
            if ft.skipped:
                state = f"skipped ({ft.skipped})"
            elif ft.ok:
                state = f"ok, {ft.ms:.0f} ms, {len(ft.queries)} queries, {ft.cards} cards"
            else:
                state = f"FAILED after {ft.ms:.0f} ms: {ft.error}"
            failed = [q for q in ft.queries if not q.ok]
            if failed:
                state += "; failed queries: " + "; ".join(
                    f"{q.query!r} ({q.error_kind}: {q.error})" for q in failed
                )
            out.append(f"- {name}: {state}")
    return "\n".join(out) + "\n"


def create_server(reviewer: Reviewer) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer(
        "parallizer", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )
    # the SDK's own log lines (a tool's unexpected exception, say) go where ours go, in our
    # format and through our redactor, not to a handler of its own
    ours = logging.getLogger("parallizer").handlers
    if ours:
        sdk = logging.getLogger("mcp")
        sdk.handlers[:] = list(ours)
        sdk.propagate = False
        sdk.setLevel(logging.WARNING)

    @server.tool(
        name=TOOL,
        title="Review a plan against its code tree",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True),
    )
    async def review_plan(
        plan_path: Annotated[
            str | None,
            Field(description="absolute path of the plan file (Markdown); read from disk"),
        ] = None,
        document_text: Annotated[
            str | None,
            Field(
                description="the plan's text, when it is not saved yet (with plan_path too, "
                "this text is reviewed and plan_path only names it)"
            ),
        ] = None,
        scope_root: Annotated[
            str | None,
            Field(
                description="absolute path of the code tree to search "
                "(default: the server's working directory)"
            ),
        ] = None,
        cursor: Annotated[
            str | list[int] | None,
            Field(
                description='where the writer is, 0-based: "LINE:COL" or [line, column] '
                "(default: the end of the plan); the section around it counts most"
            ),
        ] = None,
    ) -> Annotated[CallToolResult, Review]:
        """Review a plan (give plan_path or document_text): clarifying questions grounded in
        the code (with path:line citations), where the things the plan names live, web
        context when configured, and a completion at the cursor. Returns the cards as
        Markdown, and as structured content with the timing of every query."""
        return await reviewer.review(
            plan_path=plan_path, document_text=document_text, scope_root=scope_root, cursor=cursor
        )

    return server


def http_router(settings: Settings) -> APIRouter:
    """`/mcp` on the HTTP service (streamable HTTP), for `PARALLIZER_MCP=1`. The service's
    own middleware stands in front of it (bearer token, body limit, request log); the
    reviews run on the service's orchestrator, which exists once its lifespan has begun."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI

    service: dict[str, Orchestrator] = {}
    server = create_server(Reviewer(settings, lambda: service["orchestrator"]))
    # the SDK's app for this path: its route, and the session manager its lifespan runs
    # (DNS-rebinding protection on: the Host must be a loopback name, as `serve` listens)
    routes = server.streamable_http_app(streamable_http_path="/mcp").routes

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service["orchestrator"] = app.state.service.orchestrator
        async with server.session_manager.run():
            yield

    router = APIRouter(lifespan=lifespan)
    router.routes.extend(routes)
    return router
