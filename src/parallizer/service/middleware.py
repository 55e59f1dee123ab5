"""Pure ASGI middleware: request context (id, metrics, log line), bearer auth, body size limit.

Pure ASGI (not `BaseHTTPMiddleware`) so streaming responses pass through untouched and a
client disconnect still reaches the endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from fastapi.sse import format_sse_event
from starlette.requests import ClientDisconnect

from ..logs import request_id
from . import metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("parallizer.http")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

SHUTTING_DOWN = "the server is shutting down: the request was cancelled"
#: nginx's "client closed request": a request whose client left before its answer
CLIENT_CLOSED = 499


def printable(text: str) -> str:
    """`text` for a log line: control characters (NUL, newline, escape...) as `\\xNN`, so a
    client cannot forge or garble log lines; lone surrogates escaped too."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


async def send_json(
    send: Send, status: int, body: dict[str, Any], headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for k, v in scope.get("headers", ()):
        if k.lower() == name:
            return bytes(v)
    return None


class RequestContext:
    """Outermost: a request id (taken from a sane `X-Request-ID` or made up) on every log line
    and on the response, the latency histogram and in-flight gauge by endpoint (the route's
    template, never the raw path), and one INFO line per request.

    A request the server cancels (uvicorn does so to requests still running when the
    graceful shutdown timeout is over) is answered 503 with a JSON detail, or its started
    response is ended, instead of a dropped connection and a traceback in the log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = (_header(scope, b"x-request-id") or b"").decode("latin-1")
        rid = given if _SAFE_ID.match(given) else uuid.uuid4().hex[:8]
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        responded = False
        path = scope.get("path", "")
        endpoint = _endpoint(scope)
        in_flight = metrics.REQUESTS_IN_FLIGHT.labels(endpoint)
        in_flight.inc()

        stream = False  # the response is an event stream
        finished = False  # its last byte was sent
        hung_up = False  # the client disconnected before that

        async def send_wrapper(message: Message) -> None:
            nonlocal status, responded, stream, finished
            if message["type"] == "http.response.start":
                status = message["status"]
                responded = True
                headers = message.get("headers", [])
                stream = any(
                    k.lower() == b"content-type" and v.startswith(b"text/event-stream")
                    for k, v in headers
                )
                message["headers"] = [*headers, (b"x-request-id", rid.encode())]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                finished = True
            await send(message)

        async def receive_wrapper() -> Message:
            nonlocal hung_up
            message = await receive()
            if message["type"] == "http.disconnect" and not finished:
                hung_up = True
            return message

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is None or task.uncancel() > 0:
                raise  # cancelled more than once: not ours to absorb
            log.warning("%s %s cancelled by the server (shutting down)", scope.get("method"), path)
            with contextlib.suppress(Exception):
                if not responded:
                    status = 503
                    await send_json(send_wrapper, 503, {"detail": SHUTTING_DOWN})
                else:
                    # an event stream ends with a terminal event, never mid-air
                    last = (
                        format_sse_event(
                            event="error", data_str=json.dumps({"detail": SHUTTING_DOWN})
                        )
                        if stream
                        else b""
                    )
                    await send({"type": "http.response.body", "body": last, "more_body": False})
        except ClientDisconnect:
            hung_up = True  # it left while we read its body: not a server error
        finally:
            in_flight.dec()
            elapsed = time.perf_counter() - started
            endpoint = _endpoint(scope)  # known now that routing ran
            if hung_up and not finished:
                status = CLIENT_CLOSED
            metrics.REQUEST_LATENCY.labels(scope.get("method", "-"), endpoint, str(status)).observe(
                elapsed
            )
            log.info(
                "%s %s -> %d in %.1f ms",
                scope.get("method"),
                printable(path[:200]),
                status,
                elapsed * 1000,
            )
            request_id.reset(token)


def _endpoint(scope: Scope) -> str:
    """The route's template once routing ran; before that (for the in-flight gauge) the same
    template recognised from the path, so the label never carries a user id."""
    template = getattr(scope.get("route"), "path", None)
    if isinstance(template, str) and template:
        return template
    path: str = scope.get("path", "")
    if path in _PLAIN:
        return path
    if path.startswith("/cached/") and path.count("/") == 2:
        return "/cached/{user_id}"
    if path.startswith("/user/") and path.endswith("/feed") and path.count("/") == 3:
        return "/user/{user_id}/feed"
    return "unmatched"


_PLAIN = frozenset(
    (
        "/", "/fulfill", "/fulfill/stream", "/review", "/health", "/metrics", "/docs",
        "/openapi.json", "/files/tree", "/files/content", "/files/save",
    )
)  # fmt: skip


#: the page's assets: `/app/static/NAME`, one plain file name (the route serves only the
#: files of the build; anything else there is a 404)
_ASSET = re.compile(r"^/app/static/[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$")


class BearerAuth:
    """With a token configured, every request needs `Authorization: Bearer <token>`
    (compared in constant time) but `GET /health` and the web page (`GET /app` and its
    assets, which hold no data: the page asks for the token when the API answers 401)."""

    OPEN = frozenset({("GET", "/health"), ("HEAD", "/health"), ("GET", "/app"), ("HEAD", "/app")})

    @classmethod
    def is_open(cls, method: str | None, path: str | None) -> bool:
        if (method, path) in cls.OPEN:
            return True
        return method in ("GET", "HEAD") and bool(path and _ASSET.match(path))

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.token is None
            or scope["type"] != "http"
            or self.is_open(scope.get("method"), scope.get("path"))
        ):
            await self.app(scope, receive, send)
            return
        raw = _header(scope, b"authorization") or b""
        scheme, _, given = raw.partition(b" ")
        # compare_digest on bytes of any length is constant time in the length of the secret
        ok = scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self.token)
        if not ok:
            detail = "missing bearer token" if not raw else "wrong bearer token"
            await send_json(
                send, 401, {"detail": detail}, [(b"www-authenticate", b'Bearer realm="parallizer"')]
            )
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse (413) a body over `limit` bytes: at once by its `Content-Length`, otherwise by
    counting while reading it (a chunked or lying body), before anything parses it; refuse
    (408) a body not received whole within `timeout` seconds. A body within the limit is
    handed on whole; later messages (the disconnect) pass through."""

    def __init__(self, app: ASGIApp, limit: int, timeout: float = 30.0) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        chunked = _header(scope, b"transfer-encoding")
        if length is None and chunked is None:
            await self.app(scope, receive, send)
            return
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await send_json(send, 400, {"detail": "malformed Content-Length"})
                return
            if declared > self.limit:
                await self._too_large(send)
                return
        body = bytearray()
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    body += message.get("body", b"")
                    if len(body) > self.limit:
                        await self._too_large(send)
                        return
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            # a client trickling its body (slowloris) holds a connection no longer than this
            log.info("request body not received within %g s: 408", self.timeout)
            await send_json(
                send,
                408,
                {"detail": f"the request body was not received within {self.timeout:g} s"},
                [(b"connection", b"close")],
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await send_json(
            send,
            413,
            {"detail": f"request body is over the limit of {self.limit} bytes"},
            [(b"connection", b"close")],
        )
