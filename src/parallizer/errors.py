"""Errors as classes, modelled on httpx's: one base per audience (`BadInput` for the caller,
`BackendError` for a failed search or LLM call, `ServiceError` for the service's own state),
each with a message safe to show a user; a backend error's `kind` (for metrics and the
timing report) is derived from its class. And the one redactor."""

from __future__ import annotations

import copy
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


class ServiceError(ParallizerError):
    """The service cannot take the request now (HTTP 503 with the reason, mapped in one
    place: `service.errors`)."""

    status = 503
    retry_after: int | None = None
    """Seconds the client may wait before trying again (the `Retry-After` header)."""


class StoreUnavailable(ServiceError):
    """Shared state (Redis) cannot be reached: what needs it answers 503 with the reason."""


class ShuttingDown(ServiceError):
    """No new run once shutdown began."""


class Busy(ServiceError):
    """As many runs in flight as the process takes (`PARALLIZER_MAX_RUNS`)."""

    retry_after = 1


class WorkerDied(ParallizerError):
    """A worker process ended before it answered (killed, out of memory, a crash in native
    code): that call is lost, and its pool starts another worker for the next
    (`parallizer.workers`)."""


class NoWorkers(WorkerDied):
    """No worker process can start here (no such interpreter, no memory or pids for another
    process): the work must be done in this process."""


class BackendError(ParallizerError):
    """A search or LLM call failed in a way we understand; each way is a subclass.

    `kind`, derived from the class, is the short name the metrics and the timing report
    (`error_kind`) carry (`timeout`, `http_500`, `rate_limited`, `connection`, `malformed`,
    `invalid_query`, ...); the message must never contain a secret (`redact` it first).
    """

    kind_name = "backend"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    @property
    def kind(self) -> str:
        return self.kind_name

    def reworded(self, message: str) -> BackendError:
        """The same error (class, status, `retry_after`) with another message."""
        other = copy.copy(self)
        other.message = message
        other.args = (message,)
        return other

    def __str__(self) -> str:
        return self.message


class Timeout(BackendError):
    """No answer in time (the fan-out's own deadline is a `TimeoutError`, reported the same)."""

    kind_name = "timeout"


class ConnectionFailed(BackendError):
    """The remote could not be reached, or the connection broke."""

    kind_name = "connection"


class HttpError(BackendError):
    """The remote answered with an HTTP error status."""

    def __init__(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status

    @property
    def kind(self) -> str:
        return f"http_{self.status}"


class Overloaded(HttpError):
    """The provider is overloaded (HTTP 503): worth another try after `retry_after`."""


class RateLimited(Overloaded):
    """HTTP 429: too many calls; `retry_after` seconds if the provider said."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(429, message, retry_after=retry_after)

    @property
    def kind(self) -> str:
        return "rate_limited"


def http_error(status: int, message: str, *, retry_after: float | None = None) -> HttpError:
    """The error for an HTTP error status (429 and 503 keep the provider's `retry_after`)."""
    if status == 429:
        return RateLimited(message, retry_after=retry_after)
    if status == 503:
        return Overloaded(status, message, retry_after=retry_after)
    return HttpError(status, message)


class BadAnswer(BackendError):
    """The answer came but cannot be used (not JSON, not the expected shape)."""

    kind_name = "malformed"


class EmptyAnswer(BadAnswer):
    kind_name = "empty"


class Refused(BadAnswer):
    """The model refused to answer."""

    kind_name = "refused"


class InvalidQuery(BackendError):
    """The query itself cannot run (a regex rg rejects, a NUL in a pattern)."""

    kind_name = "invalid_query"


class Unavailable(BackendError):
    """The backend cannot serve at all (rg not installed, the store closed)."""

    kind_name = "unavailable"


class Unreadable(BackendError):
    """What was to be searched cannot be read (the search root does not exist)."""

    kind_name = "unreadable"


class ToolFailed(BackendError):
    """A tool we run (rg) failed in a way none of the others says."""

    kind_name = "rg_error"


class IndexFailed(BackendError):
    """Building an index failed (a bug, reported as a failed index, not a crash)."""

    kind_name = "index_failed"


class Cancelled(BackendError):
    """The shared work this call waited for was cancelled by another hand."""

    kind_name = "cancelled"


RETRYABLE: tuple[type[BackendError], ...] = (Overloaded,)
"""What the one retry policy (`parallizer.limits`) tries again: an overloaded provider (429
and 503), after the wait it asked for."""


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
