"""Reading and parsing a batch of files: runs in a worker process (`parallizer.workers`, a
pool started for the build) or, for a small batch, a worker thread. Plain values only, so a
batch and its answer cross the process boundary by pickle."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .extract import PARSE_SECONDS, RawDef, extract
from .languages import generated_header, grammar_of, minified
from .store import digest

BINARY_PROBE = 8192


@dataclass(frozen=True, slots=True)
class Parsed:
    path: str
    status: str  # ok | binary | too_big | unreadable | minified
    language: str
    generated: bool = False
    defs: tuple[RawDef, ...] = ()
    error: str | None = None
    digest: bytes = b""


def parse_file(
    root: str, path: str, language: str, max_bytes: int, seconds: float = PARSE_SECONDS
) -> Parsed:
    try:
        with open(os.path.join(root, path), "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        return Parsed(path, "unreadable", language, error=exc.strerror or type(exc).__name__)
    if len(data) > max_bytes:
        return Parsed(path, "too_big", language, error=f"over {max_bytes} bytes, not parsed")
    if b"\x00" in data[:BINARY_PROBE]:
        return Parsed(path, "binary", language, error="binary file, not parsed")
    stamp = digest(data)
    if minified(data[:BINARY_PROBE]):
        return Parsed(
            path, "minified", language, True, (), "minified or bundled, not parsed", stamp
        )
    defs, language, error = extract(data, language, grammar_of(path, language), seconds)
    return Parsed(path, "ok", language, generated_header(data), tuple(defs), error, stamp)


def parse_batch(
    root: str, batch: list[tuple[str, str]], max_bytes: int, seconds: float = PARSE_SECONDS
) -> list[Parsed]:
    """Parse (path, language) pairs under `root`; one `Parsed` per pair, never raises."""
    return [parse_file(root, path, language, max_bytes, seconds) for path, language in batch]
