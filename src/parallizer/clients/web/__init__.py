"""The page at `/app`: a Markdown plan editor with live cards, a file picker, a cited file
beside the plan, and the timing of the last request.

The front end is built from `web/` (CodeMirror 6 and esbuild at pinned versions, from
`web/package-lock.json`) into `static/`, which is committed: the service serves it as it
is, with no build step and no network. `make web` rebuilds it. The page speaks only to
this service (`/files/*`, `POST /fulfill/stream`, `POST /review`), which its
Content-Security-Policy enforces in the browser.

The page and its assets hold no data (the files of the build, served as they are: nothing
of the settings or of a user is put into them), so they are served without the API token
(see `service.middleware.BearerAuth`); the page asks for the token when the API answers 401.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

STATIC = Path(__file__).parent / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
#: the browser may talk to this origin only; CodeMirror sets inline styles
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def router() -> APIRouter:
    """GET /app (the page; `?scope=DIR&plan=PATH` opens a plan) and its assets."""
    index = (STATIC / "index.html").read_text(encoding="utf-8")  # once, at app creation
    assets = {p.name: p for p in STATIC.iterdir() if p.suffix in _TYPES and p.name != "index.html"}
    r = APIRouter(tags=["web page"])

    # an HTML page for people, not part of the JSON API the OpenAPI schema describes
    @r.get("/app", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        """The plan editor. `?scope=DIR` names the code tree (inside the allowed roots),
        `&plan=PATH` the plan to open (absolute, or relative to the scope)."""
        return HTMLResponse(index, headers={**_HEADERS, "Cache-Control": "no-cache"})

    @r.get("/app/static/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        path = assets.get(name)
        if path is None:
            raise HTTPException(404, "no such asset")
        return FileResponse(
            path,
            media_type=_TYPES[path.suffix],
            headers={**_HEADERS, "Cache-Control": "no-cache"},
        )

    return r
