"""What any HTTP API client needs to read the wire, without an HTTP library: the host a
message may name, `Retry-After` in seconds, and the human message of an API's error body.
(Kept apart from `http.py` so the LLM client does not import aiohttp.)"""

from __future__ import annotations

import email.utils
import time
from typing import Any
from urllib.parse import urlsplit


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
