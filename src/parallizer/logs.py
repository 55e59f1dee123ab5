"""Logging: text or one JSON object per line, a request id on every record, no secrets."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time

from .errors import redact

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class _Context(logging.Filter):
    """Adds the request id to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):  # an explicit extra= wins
            record.request_id = request_id.get()
        return True


class _Redacting(logging.Formatter):
    """Masks every configured secret in the finished line, traceback included (defence in
    depth: secrets are never formatted into messages on purpose)."""

    def __init__(self, inner: logging.Formatter, secrets: list[str]) -> None:
        super().__init__()
        self.inner, self.secrets = inner, secrets

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record), self.secrets)


class _JSON(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "msg": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: str = "text", secrets: list[str] | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_Context())
    formatter: logging.Formatter
    if fmt == "json":
        formatter = _JSON()
    else:
        f = logging.Formatter(
            "%(asctime)s.%(msecs)03d %(levelname)-5s [%(request_id)s] %(name)s: %(message)s",
            "%H:%M:%S",
        )
        f.converter = time.localtime
        formatter = f
    handler.setFormatter(_Redacting(formatter, secrets or []) if secrets else formatter)
    root = logging.getLogger("parallizer")
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if isinstance(level, str) else level)
    root.propagate = False
