"""Errors that carry a short machine-readable kind and a message safe to show a user."""

from __future__ import annotations

import re
from typing import Any


class ParallizerError(Exception):
    """Base class for errors we raise on purpose."""


class BadInput(ParallizerError):
    """The caller's input is wrong (HTTP 4xx, CLI exit 2)."""

    status = 422


class PathNotAllowed(BadInput):
    status = 403


class DocumentTooLarge(BadInput):
    status = 413


class StoreUnavailable(ParallizerError):
    """Shared state (Redis) cannot be reached: what needs it answers 503 with the reason."""

    status = 503


class BackendError(ParallizerError):
    """A search or LLM call failed in a way we understand.

    `kind` feeds metrics and the timing report (`timeout`, `http_500`, `rate_limited`,
    `connection`, `malformed`, `invalid_query`, ...); the message must never contain a secret.
    """

    def __init__(self, kind: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def redact(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    """`text` with every secret (and any run of 8+ of its leading characters, as APIs that
    echo a key partly masked do) and any credentials inside a URL replaced by `***`. The one
    redactor: used on what a remote sent back, on log lines, on timings and on /health."""
    for s in secrets:
        if len(s) < 4:
            continue
        text = text.replace(s, "***")
        if len(s) >= 12:
            text = text.replace(s[:8], "***")
    return _USERINFO.sub("***@", text)


def redact_all(value: Any, secrets: list[str] | tuple[str, ...]) -> Any:
    """`redact` applied to every string inside JSON-like data."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: redact_all(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_all(v, secrets) for v in value]
    return value
