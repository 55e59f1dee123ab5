"""Logging: text or one JSON object per line, a request id on every record, no secrets."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class _Context(logging.Filter):
    """Adds the request id and masks every configured secret (defence in depth: secrets are
    never formatted into messages on purpose)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):  # an explicit extra= wins
            record.request_id = request_id.get()
        if self.secrets:
            msg = record.getMessage()
            if any(s in msg for s in self.secrets):
                for s in self.secrets:
                    msg = msg.replace(s, "***")
                record.msg, record.args = msg, None
        return True


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
    handler.addFilter(_Context(secrets or []))
    if fmt == "json":
        handler.setFormatter(_JSON())
    else:
        f = logging.Formatter(
            "%(asctime)s.%(msecs)03d %(levelname)-5s [%(request_id)s] %(name)s: %(message)s",
            "%H:%M:%S",
        )
        f.converter = time.localtime
        handler.setFormatter(f)
    root = logging.getLogger("parallizer")
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if isinstance(level, str) else level)
    root.propagate = False
