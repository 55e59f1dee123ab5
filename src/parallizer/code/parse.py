"""Reading and parsing a batch of files: runs in a worker process (or, for a small batch,
a worker thread). Plain values only, so a batch and its answer cross the process boundary
by pickle.

The worker processes are plain subprocesses (`python -m parallizer.code.worker_process`)
rather than a multiprocessing pool: a spawn/forkserver pool re-imports the caller's
`__main__` (every script using the index would need a main guard), and fork is unsafe in a
process with threads."""

from __future__ import annotations

import os
import pickle
import struct
from dataclasses import dataclass
from typing import BinaryIO

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


# --- the worker process: `python -m parallizer.code.worker_process` --------------------
# Frames on stdin and stdout: a 4-byte big-endian length, then a pickle; out: list[Parsed]. EOF on stdin ends the process. Only the store that
# started the process writes to it, so unpickling its frames is safe. In: (root, batch,
# max_bytes, seconds per file).

_LEN = struct.Struct(">I")


def _read_exactly(stream: BinaryIO, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    while (head := _read_exactly(stdin, _LEN.size)) is not None:
        body = _read_exactly(stdin, _LEN.unpack(head)[0])
        if body is None:
            return
        root, batch, max_bytes, seconds = pickle.loads(body)
        answer = pickle.dumps(parse_batch(root, batch, max_bytes, seconds), pickle.HIGHEST_PROTOCOL)
        stdout.write(_LEN.pack(len(answer)) + answer)
        stdout.flush()


def frame(obj: object) -> bytes:
    data = pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
    return _LEN.pack(len(data)) + data
