"""Shared aiohttp plumbing for the HTTP backends and the LLM client: one pooled session,
failures as BackendError, and reading the wire (`Retry-After`, API error bodies).

Each HTTP client owns one `HttpClient`: its `ClientSession` is created on first use (inside
the running loop) and closed by `aclose()`, so every request of every user of the process
reuses the same connection pool. Every way a call can go wrong becomes a `BackendError`
whose kind feeds metrics and whose message is safe to show (secrets redacted, no URL
credentials, no query string):

| what happened                          | kind           |
|----------------------------------------|----------------|
| HTTP 429                               | `rate_limited` (with `retry_after`) |
| other HTTP 4xx/5xx                     | `http_<status>` |
| no answer / connect within the timeout | `timeout`      |
| refused, reset, dropped mid-answer     | `connection`   |
| a body that is not the expected JSON   | `malformed`    |

No retry here: the fan-out applies the one retry policy (`limits.RetryPolicy`) to every remote
call, in a fresh slot of the backend's adaptive limit, within the call's deadline.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import BackendError, BadAnswer, ConnectionFailed, Timeout, http_error, redact
from ..text import clip, single_line

if TYPE_CHECKING:  # imported when the first session is made: ~0.3 s a command without
    import aiohttp  # a web backend or an LLM (`fulfill` offline, `check`) need not pay

log = logging.getLogger("parallizer.http")

CONNECT_TIMEOUT = 5.0  # seconds to open a TCP connection (capped by the call's timeout)
MAX_BODY = 8 * 1024 * 1024  # bytes of an answer we are willing to read


# --- reading the wire -------------------------------------------------------------------------


def host_of(url: str) -> str:
    """`host:port` of a URL: what error messages may name (no credentials, path or query)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def api_error_message(body: Any) -> str | None:
    """The human message of an API error body, in the shapes Perplexity, OpenAI-compatible
    servers, FastAPI-style services and SearXNG use."""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            msg = err.get("message") or err.get("type") or err.get("code")
            return str(msg) if msg else None
        if isinstance(err, str) and err.strip():
            return err
        for key in ("detail", "message", "msg"):
            val = body.get(key)
            if isinstance(val, str) and val.strip():
                return val
            if isinstance(val, list) and val:  # FastAPI validation errors
                first = val[0]
                if isinstance(first, dict) and first.get("msg"):
                    return str(first["msg"])
    return None


def _short(text: str, n: int = 200) -> str:
    return clip(single_line(text), n)


class HttpClient:
    """A lazily created, pooled `aiohttp.ClientSession` with error mapping.

    `secrets` are redacted from every message built from what the server sent back (some
    APIs echo the key they rejected)."""

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        timeout: float,
        max_connections: int,
        headers: Mapping[str, str] | None = None,
        secrets: tuple[str, ...] = (),
        key_setting: str | None = None,
    ) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_connections = max_connections
        self._headers = dict(headers or {})
        self._secrets = tuple(s for s in secrets if s)
        self.key_setting = key_setting
        """The setting that holds the API key, named when the server rejects it."""
        self._session: aiohttp.ClientSession | None = None
        self.round_trip: float | None = None
        """The fastest connection set-up seen (TCP, and TLS when the URL has it): at least one
        network round trip to the server, the soonest it can refuse a request (None: no
        connection made yet)."""

    @property
    def where(self) -> str:
        return host_of(self.base_url)

    def _get_session(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._session is None or self._session.closed:
            trace = aiohttp.TraceConfig()
            trace.on_connection_create_start.append(self._connecting)
            trace.on_connection_create_end.append(self._connected)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_connections),
                headers=self._headers,
                raise_for_status=False,
                trust_env=False,
                trace_configs=[trace],
            )
        return self._session

    async def _connecting(self, _session: Any, ctx: Any, _params: Any) -> None:
        ctx.connecting = time.monotonic()

    async def _connected(self, _session: Any, ctx: Any, _params: Any) -> None:
        took = time.monotonic() - ctx.connecting
        self.round_trip = took if self.round_trip is None else min(self.round_trip, took)

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def safe(self, text: str) -> str:
        """`text` with the client's secrets redacted."""
        return redact(text, self._secrets)

    # --- one request --------------------------------------------------------------------

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """Send one request and return the decoded JSON body (BackendError otherwise)."""
        return await self._once(method, path, json_body, params, self.timeout)

    async def _once(
        self,
        method: str,
        path: str,
        json_body: Any,
        params: Mapping[str, str] | None,
        budget: float,
    ) -> Any:
        import aiohttp

        url = self.base_url + path
        timeout = aiohttp.ClientTimeout(
            total=budget,
            connect=min(CONNECT_TIMEOUT, budget),
            sock_connect=min(CONNECT_TIMEOUT, budget),
        )
        session = self._get_session()
        try:
            async with session.request(
                method, url, json=json_body, params=params, timeout=timeout
            ) as resp:
                raw = await _read_capped(resp.content, MAX_BODY + 1)
                return self._decode(resp, raw)
        except BackendError:
            raise
        except TimeoutError as exc:
            # aiohttp's own timeouts (connect, total). A call's deadline in the fan-out
            # cancels us instead: with the same budget, whichever fires first says so.
            what = "connect" if isinstance(exc, aiohttp.ConnectionTimeoutError) else "answer"
            raise Timeout(f"{self.service}: no {what} within {budget:.3g}s") from None
        except aiohttp.ClientConnectorError as exc:
            err = exc.os_error
            reason = os.strerror(err.errno) if err.errno else type(err).__name__
            raise ConnectionFailed(
                f"{self.service}: cannot connect to {self.where}: {reason}"
            ) from None
        except aiohttp.ServerDisconnectedError:
            raise ConnectionFailed(
                f"{self.service}: {self.where} closed the connection without answering",
            ) from None
        except (aiohttp.ClientPayloadError, aiohttp.ClientOSError) as exc:
            detail = getattr(exc, "strerror", None) or type(exc).__name__
            raise ConnectionFailed(
                f"{self.service}: connection to {self.where} broke: {detail}"
            ) from None
        except aiohttp.ClientError as exc:
            raise ConnectionFailed(
                f"{self.service}: {type(exc).__name__} talking to {self.where}"
            ) from None

    def _decode(self, resp: aiohttp.ClientResponse, raw: bytes) -> Any:
        if len(raw) > MAX_BODY:
            raise BadAnswer(f"{self.service}: answer larger than {MAX_BODY} bytes")
        text = raw.decode("utf-8", errors="replace")
        body: Any = None
        try:
            body = json.loads(text) if text.strip() else None
            parsed = True
        except ValueError:
            parsed = False
        if resp.status >= 400:
            raise self._status_error(resp.status, body if parsed else None, text, resp.headers)
        if not parsed or body is None:
            snippet = self.safe(_short(text, 60)) or "an empty body"
            ctype = resp.headers.get("Content-Type", "?").split(";")[0]
            raise BadAnswer(f"{self.service}: answer is not JSON ({ctype}): {snippet!r}")
        return body

    def _status_error(
        self, status: int, body: Any, text: str, headers: Mapping[str, str]
    ) -> BackendError:
        msg = api_error_message(body) or _short(text, 120) or "no error message"
        msg = self.safe(_short(msg))
        retry_after = retry_after_seconds(headers.get("Retry-After"))
        hint = ""
        if status in (401, 403):
            hint = f" (check {self.key_setting or 'the API key'})"
        if status == 429:
            wait = f"; retry after {retry_after:g}s" if retry_after is not None else ""
            return http_error(
                429, f"{self.service}: HTTP 429 rate limited: {msg}{wait}", retry_after=retry_after
            )
        return http_error(
            status, f"{self.service}: HTTP {status}: {msg}{hint}", retry_after=retry_after
        )


async def _read_capped(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """The body up to `limit` bytes (a larger one is cut there and rejected by the caller)."""
    out = bytearray()
    while len(out) < limit and (chunk := await stream.read(min(65536, limit - len(out)))):
        out += chunk
    return bytes(out)
