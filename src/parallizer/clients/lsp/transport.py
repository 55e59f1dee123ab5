"""The wire under the Language Server: LSP's base protocol (`Content-Length` headers, then a
JSON-RPC body) over stdio or TCP, one JSON-RPC message per frame over WebSocket.

pygls parses the messages it is handed and runs the handlers; this reads them, so that a
client's mistake gets a JSON-RPC error and the server keeps serving:

* a header that is not `Name: value`, a missing or non-numeric `Content-Length`: a parse
  error (id null), then the reader looks for the next `Content-Length:` header;
* a body over `max_message` bytes is read and dropped (an error says why);
* a body that is not JSON: parse error; JSON that is not a JSON-RPC 2.0 request,
  notification or response: invalid request (with its id when it has a usable one);
* params that do not fit the method's types: invalid params, to that request's id;
* an unknown method: MethodNotFound (pygls), an unknown notification is ignored.

`exit` stops the loop (never `sys.exit` from inside a handler): the caller then closes what
it owns, the runtime, its worker processes and any `rg` still running.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pygls.exceptions import JsonRpcException

log = logging.getLogger("parallizer.lsp")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INTERNAL_ERROR = -32603
HEADER_LIMIT = 8192  # bytes of one header line
_MARK = b"Content-Length:"


class Endpoint(Protocol):
    """What the loop needs of the server (`server.PlanServer`)."""

    @property
    def protocol(self) -> Any: ...

    @property
    def stopping(self) -> bool: ...


class Framer:
    """Buffered reads over a raw `read(n)` (a StreamReader's): header lines, exact bodies,
    and skipping to the next header after a broken one."""

    def __init__(self, read: Callable[[int], Awaitable[bytes]]) -> None:
        self._read = read
        self._buf = bytearray()
        self.eof = False

    async def _fill(self) -> bool:
        if self.eof:
            return False
        chunk = await self._read(65536)
        if not chunk:
            self.eof = True
            return False
        self._buf += chunk
        return True

    async def readline(self) -> bytes | None:
        """One line with its `\\n`; None at EOF; a line longer than HEADER_LIMIT comes back
        cut (the caller reads it as malformed)."""
        while True:
            i = self._buf.find(b"\n")
            if i >= 0:
                line = bytes(self._buf[: i + 1])
                del self._buf[: i + 1]
                return line
            if len(self._buf) > HEADER_LIMIT:
                line = bytes(self._buf[:HEADER_LIMIT])
                del self._buf[:HEADER_LIMIT]
                return line
            if not await self._fill():
                rest = bytes(self._buf)
                self._buf.clear()
                return rest or None

    async def read(self, n: int) -> bytes | None:
        """Exactly `n` bytes, None at EOF before them."""
        while len(self._buf) < n:
            if not await self._fill():
                return None
        body = bytes(self._buf[:n])
        del self._buf[:n]
        return body

    async def discard(self, n: int) -> bool:
        """Drop `n` bytes without keeping them; False at EOF before them."""
        while n > 0:
            if not self._buf and not await self._fill():
                return False
            k = min(n, len(self._buf))
            del self._buf[:k]
            n -= k
        return True

    async def skip_to_header(self) -> bool:
        """Drop everything up to the next `Content-Length:` (a new message); False at EOF."""
        while True:
            i = self._buf.find(_MARK)
            if i >= 0:
                del self._buf[:i]
                return True
            keep = len(_MARK) - 1  # the mark may straddle two reads
            if len(self._buf) > keep:
                del self._buf[: len(self._buf) - keep]
            if not await self._fill():
                return False


def send_error(endpoint: Endpoint, msg_id: Any, code: int, message: str) -> None:
    """A JSON-RPC error response; id null when the message's own id cannot be known."""
    ident = msg_id if isinstance(msg_id, int | str) and not isinstance(msg_id, bool) else None
    payload = {"jsonrpc": "2.0", "id": ident, "error": {"code": code, "message": message}}
    # pygls's one way to put a message on the wire (framing, its writer of this transport)
    endpoint.protocol._send_data(payload)


def handle_body(endpoint: Endpoint, body: bytes) -> None:
    """Parse one message and hand it to pygls; every failure is an answer, not a crash."""
    try:
        raw = json.loads(body)
    except RecursionError:
        send_error(endpoint, None, PARSE_ERROR, "parse error: the body nests too deep")
        return
    except (ValueError, UnicodeDecodeError) as exc:
        log.warning("malformed message: not JSON (%s)", str(exc)[:120])
        send_error(endpoint, None, PARSE_ERROR, f"parse error: the body is not JSON ({exc})")
        return
    if not isinstance(raw, dict):
        what = (
            "a batch (JSON-RPC batches are not part of LSP)"
            if isinstance(raw, list)
            else "not an object"
        )
        send_error(endpoint, None, INVALID_REQUEST, f"invalid request: the message is {what}")
        return
    msg_id = raw.get("id")
    method = raw.get("method")
    if raw.get("jsonrpc") != "2.0":
        send_error(endpoint, msg_id, INVALID_REQUEST, 'invalid request: "jsonrpc" must be "2.0"')
        return
    if method is not None and not isinstance(method, str):
        send_error(endpoint, msg_id, INVALID_REQUEST, 'invalid request: "method" must be a string')
        return
    if ("id" in raw and not (msg_id is None or isinstance(msg_id, int | str))) or isinstance(
        msg_id, bool
    ):
        send_error(
            endpoint, None, INVALID_REQUEST, 'invalid request: "id" must be a number or a string'
        )
        return
    if method is None and "result" not in raw and "error" not in raw:
        send_error(endpoint, msg_id, INVALID_REQUEST, 'invalid request: no "method"')
        return
    protocol = endpoint.protocol
    try:
        message = protocol.structure_message(raw)
    except JsonRpcException as exc:
        if method is not None and "id" in raw:
            send_error(endpoint, msg_id, exc.code, f"{exc.message}: params do not fit {method}")
        else:
            log.warning("dropped a malformed %s: %s", method or "response", exc.message)
        return
    try:
        protocol.handle_message(message)
    except Exception as exc:  # a bug in a handler must not end the session
        log.exception("failed to handle %s", method or "a response")
        if method is not None and "id" in raw:
            send_error(endpoint, msg_id, INTERNAL_ERROR, f"internal error: {type(exc).__name__}")


def handle_safely(endpoint: Endpoint, body: bytes) -> None:
    """`handle_body`, and whatever escapes it is logged: one message never ends a session."""
    try:
        handle_body(endpoint, body)
    except Exception:
        log.exception("a message could not be handled")


async def serve_stream(endpoint: Endpoint, framer: Framer, *, max_message: int) -> None:
    """Read framed messages until EOF or `exit`."""
    while not endpoint.stopping:
        length: int | None = None
        bad: str | None = None
        saw_header = False
        while True:
            line = await framer.readline()
            if line is None:
                return
            text = line.strip()
            if not text:
                if saw_header:
                    break
                continue  # stray blank lines between messages
            saw_header = True
            name, sep, value = text.partition(b":")
            if not sep or not line.endswith(b"\n"):
                bad = bad or f"malformed header line {text[:60]!r}"
                continue
            if name.strip().lower() == b"content-length":
                v = value.strip()
                if not v.isdigit():
                    bad = bad or f"bad Content-Length {v[:30].decode('utf-8', 'replace')!r}"
                else:
                    length = int(v)
        if bad is not None or length is None:
            why = bad or "no Content-Length header"
            log.warning("malformed message: %s", why)
            send_error(endpoint, None, PARSE_ERROR, f"parse error: {why}")
            if not await framer.skip_to_header():
                return
            continue
        if length > max_message:
            log.warning("dropped a message of %d bytes (limit %d)", length, max_message)
            send_error(
                endpoint, None, INVALID_REQUEST,
                f"message of {length} bytes is over the limit of {max_message} bytes",
            )  # fmt: skip
            if not await framer.discard(length):
                return
            continue
        body = await framer.read(length)
        if body is None:
            return
        handle_safely(endpoint, body)


async def stdio_reader() -> Framer:
    """Standard input without a thread: a pipe (what editors give) is read by the event loop;
    anything else (a file, a terminal) through a thread."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
        return Framer(reader.read)
    except (ValueError, OSError):  # not a pipe, socket or character device
        fd = sys.stdin.fileno()

        async def read(n: int) -> bytes:
            return await asyncio.to_thread(os.read, fd, n)

        return Framer(read)
