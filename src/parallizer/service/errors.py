"""Every error is a JSON body with a `detail`; no stack trace or secret ever reaches a client.

The error hierarchy of `parallizer.errors` carries its status, mapped to HTTP here and only
here: `BadInput` 422, `PathNotAllowed` 403, `DocumentTooLarge` 413; a `ServiceError` 503 with
its reason (`StoreUnavailable`, `ShuttingDown`, and `Busy` with a `Retry-After`). A
`BackendError` escaping the fan-out (it should not) is a 502; anything unexpected is a 500
with a generic detail and a logged traceback.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..errors import BackendError, BadInput, ParallizerError, ServiceError
from ..text import clip

log = logging.getLogger("parallizer.http")

INTERNAL = "internal server error"


def status_of(exc: ParallizerError) -> int:
    if isinstance(exc, BadInput | ServiceError):
        return exc.status
    if isinstance(exc, BackendError):
        return 502
    return 500


MAX_DETAIL = 500  # characters of an error message shown to a client


def _field_errors(exc: RequestValidationError) -> list[dict[str, object]]:
    """loc, msg and type of each error: never the input (it may be a whole document)."""
    out: list[dict[str, object]] = []
    for err in exc.errors():
        out.append(
            {
                "loc": [p if isinstance(p, int | str) else str(p) for p in err.get("loc", ())],
                "msg": clip(str(err.get("msg", "invalid")), MAX_DETAIL),
                "type": str(err.get("type", "value_error")),
            }
        )
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _field_errors(exc)}, status_code=422)

    @app.exception_handler(ParallizerError)
    async def _ours(request: Request, exc: ParallizerError) -> JSONResponse:
        status = status_of(exc)
        if isinstance(exc, ServiceError):  # busy, stopping, a dependency down: say which
            log.warning("answered %d: %s", status, exc)
            headers = None if exc.retry_after is None else {"Retry-After": str(exc.retry_after)}
            detail = clip(str(exc), MAX_DETAIL)
            return JSONResponse({"detail": detail}, status_code=status, headers=headers)
        if status >= 500:
            log.error("request failed: %s", type(exc).__name__, exc_info=exc)
            detail = "a backend failed" if status == 502 else INTERNAL
            return JSONResponse({"detail": detail}, status_code=status)
        detail = clip(str(exc), MAX_DETAIL)  # it may quote the caller's input (a fulfiller name)
        log.info("bad input (%d): %s", status, detail)
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI could not even decode the body (not UTF-8, say): malformed body, 422
            body_error = {
                "loc": ["body"],
                "msg": "the body is not valid JSON",
                "type": "json_invalid",
            }
            return JSONResponse({"detail": [body_error]}, status_code=422)
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": INTERNAL}, status_code=500)
