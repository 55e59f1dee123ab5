"""Server-Sent Events framing (text/event-stream)."""

from __future__ import annotations

import json
from typing import Any

PING = b": ping\n\n"


def frame(event: str, data: Any, *, id: int | None = None) -> bytes:
    """One event: `event:`, optional `id:`, the JSON `data:` (one line), a blank line."""
    lines = [f"event: {event}"]
    if id is not None:
        lines.append(f"id: {id}")
    # json.dumps escapes newlines, so the payload is always a single data line
    lines.append("data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode("utf-8")
