"""The persisted index: one file per scope and per dependency version, shared by the workers
of a host.

The format is our own, not SQLite: the index is read whole at start (every row goes into the
snapshot's tables) and written whole after an update, so a database's random access buys
nothing, while one file written to a temporary name and renamed over the old one gives the
sharing rules for free: a reader opens either the old file or the new one, never half of
one, and two writers racing each leave a whole file (the last rename wins). Loading is a
checksum, one `zlib` inflate, one `marshal` load and a loop that makes the row tuples: a
tenth of a second per hundred thousand definitions.

A file (`<label>-<hash of the key>.pzi`):

    MAGIC, then a 4-byte big-endian length and that many bytes of JSON: format, fingerprint
    (the extractors' code and the grammars' version: another version's file is rebuilt),
    key (the scope's path, or the package's identity), payload length, blake2b of the
    payload; then the payload, zlib-compressed marshal of plain values:
    (strings, files, digests, rows, tables): every distinct string once; per file the ints
    (path, mtime_ns, size, status, error, rows); per file a 16-byte content hash; per
    definition 9 ints (name, qualname, owner, kind, language, line, role, min, max params);
    the snapshot's lookup tables of those rows (`snapshot.Tables`), so a restart over an
    unchanged tree does not make them again.

A file that is missing, truncated, corrupt, of another format or version, or made for
another key is rebuilt: one log line, never an exception.
"""

from __future__ import annotations

import hashlib
import json
import logging
import marshal
import os
import re
import struct
import tempfile
import zlib
from array import array
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .snapshot import Row

log = logging.getLogger("parallizer.index")

FORMAT = 2
MAGIC = b"PZIX\x00\r\n\x1a"
_LEN = struct.Struct(">I")
_ROW_INTS = 9
_FILE_INTS = 6
MAX_HEADER = 64 * 1024


@dataclass(frozen=True, slots=True)
class Entry:
    """One file of a scope as the index keeps it: its stamp, what became of it, its rows."""

    mtime_ns: int
    size: int
    status: str  # ok | binary | too_big | unreadable | skipped
    rows: tuple[Row, ...] = ()
    error: str | None = None
    digest: bytes = b""
    """blake2b (16 bytes) of the content parsed: a file touched but not changed keeps its
    rows (a checkout, a `touch`)."""


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


@cache
def fingerprint() -> str:
    """What makes the rows of a file and the tables of a snapshot: the extractors' code, the
    file roles, the tables' code, this format's, the grammars' version. A file written by
    another one is rebuilt."""
    from importlib.metadata import PackageNotFoundError, version

    h = hashlib.blake2b(digest_size=12)
    h.update(str(FORMAT).encode())
    here = Path(__file__).parent
    for p in sorted([*here.joinpath("extract").glob("*.py"), here / "languages.py",
                     here / "parse.py", here / "model.py", here / "snapshot.py",
                     here / "store.py"]):  # fmt: skip
        try:
            h.update(p.read_bytes())
        except OSError:
            h.update(p.name.encode())
    for dist in ("tree-sitter", "tree-sitter-language-pack"):
        try:
            h.update(version(dist).encode())
        except PackageNotFoundError:
            h.update(dist.encode())
    return h.hexdigest()


class Invalid(Exception):
    """Why a file cannot be used (its message is the one log line)."""


class IndexStore:
    """The directory of persisted indexes (`PARALLIZER_INDEX_DIR`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, key: str, label: str) -> Path:
        name = re.sub(r"[^A-Za-z0-9_.=+-]+", "_", label)[:60] or "index"
        tag = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
        return self.directory / f"{name}-{tag}.pzi"

    # --- reading ------------------------------------------------------------------------

    def load(self, key: str, label: str) -> dict[str, Entry] | None:
        """The entries persisted for `key`, or None (no file, or one that is rebuilt)."""
        return self.load_all(key, label)[0]

    def load_all(
        self, key: str, label: str
    ) -> tuple[dict[str, Entry] | None, tuple[Any, ...] | None]:
        """The entries persisted for `key` and the snapshot tables saved with them (their
        rows in the entries' order), or (None, None)."""
        path = self.path(key, label)
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            log.warning("index file %s unreadable (%s): rebuilding", path, exc.strerror)
            return None, None
        try:
            return decode(data, key)
        except Invalid as exc:
            log.warning("index file %s %s: rebuilding", path, exc)
        except Exception as exc:  # a file that passed the checksum but decodes wrong
            log.warning("index file %s undecodable (%s): rebuilding", path, type(exc).__name__)
        return None, None

    # --- writing ------------------------------------------------------------------------

    def save(
        self, key: str, label: str, entries: dict[str, Entry], tables: tuple[Any, ...] | None = None
    ) -> int:
        """Write the entries of `key` (a temporary file renamed over the old one), with the
        snapshot tables of their rows (in the entries' order) when given; returns the bytes
        written, 0 when the directory cannot be written (logged)."""
        path = self.path(key, label)
        data = encode(entries, key, tables)
        tmp = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".pzi")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
            tmp = None
        except OSError as exc:
            log.warning("index of %s not persisted to %s: %s", label, self.directory, exc)
            return 0
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
        return len(data)


def encode(entries: dict[str, Entry], key: str, tables: tuple[Any, ...] | None = None) -> bytes:
    ids: dict[str | None, int] = {}

    def sid(s: str | None) -> int:
        if s is None:
            return -1
        i = ids.get(s)
        if i is None:
            i = ids[s] = len(ids)
        return i

    files: list[int] = []
    rows: list[int] = []
    digests = bytearray()
    for path, e in entries.items():
        files += (sid(path), e.mtime_ns, e.size, sid(e.status), sid(e.error), len(e.rows))
        digests += e.digest.ljust(16, b"\x00")[:16]
        for name, qual, owner, kind, language, _path, line, role, lo, hi in e.rows:
            rows += (sid(name), sid(qual), sid(owner), sid(kind), sid(language), line,
                     sid(role), lo, hi)  # fmt: skip
    strings = [s for s in ids if s is not None]
    payload = zlib.compress(
        marshal.dumps((strings, array("q", files).tobytes(), bytes(digests),
                       array("i", rows).tobytes(), tables)),
        1,
    )  # fmt: skip
    header = json.dumps(
        {
            "format": FORMAT,
            "fingerprint": fingerprint(),
            "key": key,
            "files": len(entries),
            "length": len(payload),
            "blake2b": hashlib.blake2b(payload, digest_size=16).hexdigest(),
        }
    ).encode()
    return MAGIC + _LEN.pack(len(header)) + header + payload


def decode(data: bytes, key: str) -> tuple[dict[str, Entry], tuple[Any, ...] | None]:
    if not data.startswith(MAGIC):
        raise Invalid("is not an index file")
    start = len(MAGIC) + _LEN.size
    if len(data) < start:
        raise Invalid("is truncated")
    (n,) = _LEN.unpack_from(data, len(MAGIC))
    if n > MAX_HEADER or len(data) < start + n:
        raise Invalid("has a corrupt header")
    try:
        head = json.loads(data[start : start + n])
    except ValueError:
        raise Invalid("has a corrupt header") from None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise Invalid(
            f"is of another format ({head.get('format') if isinstance(head, dict) else '?'})"
        )
    if head.get("fingerprint") != fingerprint():
        raise Invalid("was made by another version of the extractors")
    if head.get("key") != key:
        raise Invalid("belongs to another scope")
    payload = data[start + n :]
    if len(payload) != head.get("length"):
        raise Invalid("is truncated")
    if hashlib.blake2b(payload, digest_size=16).hexdigest() != head.get("blake2b"):
        raise Invalid("fails its checksum")
    strings, files_b, digests, rows_b, tables = marshal.loads(zlib.decompress(payload))
    files = array("q")
    files.frombytes(files_b)
    rows_a = array("i")
    rows_a.frombytes(rows_b)
    f = files.tolist()
    r = rows_a.tolist()
    S: list[str] = strings
    out: dict[str, Entry] = {}
    k = 0
    for j in range(0, len(f), _FILE_INTS):
        path_i, mtime, size, status_i, error_i, nrows = f[j : j + _FILE_INTS]
        path = S[path_i]
        end = k + nrows * _ROW_INTS
        rows = tuple(
            (S[r[i]], S[r[i + 1]], None if r[i + 2] < 0 else S[r[i + 2]], S[r[i + 3]],
             S[r[i + 4]], path, r[i + 5], S[r[i + 6]], r[i + 7], r[i + 8])
            for i in range(k, end, _ROW_INTS)
        )  # fmt: skip
        k = end
        d = j // _FILE_INTS * 16
        out[path] = Entry(mtime, size, S[status_i], rows,
                          None if error_i < 0 else S[error_i], digests[d : d + 16])  # fmt: skip
    if k != len(r):
        raise Invalid("has rows past its files")
    return out, tables
