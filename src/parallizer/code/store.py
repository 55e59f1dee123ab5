"""The persisted index: one file per scope and per dependency version, shared by the workers
of a host.

The format is our own, not SQLite: the index is read whole at start (every row goes into the
snapshot's tables) and written whole after an update, so a database's random access buys
nothing, while one file written to a temporary name and renamed over the old one gives the
sharing rules for free: a reader opens either the old file or the new one, never half of
one, and two writers racing each leave a whole file (the last rename wins). Loading is a
checksum and one `marshal` load, which makes the row tuples in C (a name shared by many
rows is one object in the file and in memory): 0.15 s for the standard library's 75,600
definitions, where making the tuples in a Python loop from packed ints took 0.3 s. It is
not compressed: inflating took longer than reading the 4× larger file from the page cache.

A file (`<label>-<hash of the key>.pzi`):

    MAGIC, then a 4-byte big-endian length and that many bytes of JSON: format, fingerprint
    (the extractors' code and the grammars' version: another version's file is rebuilt),
    key (the scope's path, or the package's identity), payload length, blake2b of the
    payload; then the payload, marshal of plain values: (files, tables, listing): per file
    (path, mtime_ns, size, status, error, 16-byte content hash, its definition rows); the
    snapshot's lookup tables of those rows (`snapshot.Tables`), so a restart over an
    unchanged tree does not make them again; and the scope's file list with the stamps
    that keep it (`listing`: a restart over an unchanged tree does not list it), or None.

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
import stat
import struct
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..backends.base import Partition
from .listing import Stamps, unchanged

if TYPE_CHECKING:
    from .snapshot import Row

log = logging.getLogger("parallizer.index")

FORMAT = 3
MAGIC = b"PZIX\x00\r\n\x1a"
_LEN = struct.Struct(">I")
MAX_HEADER = 64 * 1024


Listing = tuple[list[str], list[tuple[str, int]]]
"""A scope's listed files (sorted) and the stamps that keep them (`listing.stamp`)."""


@dataclass(frozen=True, slots=True)
class Loaded:
    """What a file holds: the entries, the snapshot tables of their rows (in the entries'
    order) when saved with them, the file list when it was kept."""

    entries: dict[str, Entry]
    tables: tuple[Any, ...] | None = None
    listing: Listing | None = None
    parts: bool = False
    """The file's header holds the scope's partition (`kept_partition`)."""


class Entry(NamedTuple):
    """One file of a scope as the index keeps it: its stamp, what became of it, its rows.
    A named tuple: a load makes one per file of the scope (19,315 for the standard library),
    10 ms as tuples against 25-75 ms as frozen dataclasses."""

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
                     here / "parse.py", here / "snapshot.py", here / "store.py"]):  # fmt: skip
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
        loaded = self.load_all(key, label)
        return loaded.entries if loaded is not None else None

    def load_all(self, key: str, label: str) -> Loaded | None:
        """All that is persisted for `key`, or None (no file, or one that is rebuilt)."""
        path = self.path(key, label)
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("index file %s unreadable (%s): rebuilding", path, exc.strerror)
            return None
        try:
            return decode(data, key)
        except Invalid as exc:
            log.warning("index file %s %s: rebuilding", path, exc)
        except Exception as exc:  # a file that passed the checksum but decodes wrong
            log.warning("index file %s undecodable (%s): rebuilding", path, type(exc).__name__)
        return None

    # --- writing ------------------------------------------------------------------------

    def save(
        self,
        key: str,
        label: str,
        entries: dict[str, Entry],
        tables: tuple[Any, ...] | None = None,
        listing: Listing | None = None,
        parts: tuple[Partition, Stamps] | None = None,
    ) -> int:
        """Write the entries of `key` (a temporary file renamed over the old one), with the
        snapshot tables of their rows (in the entries' order), the file list and the scope's
        partition with its stamps (in the header) when given; returns the bytes written, 0
        when the directory cannot be written (logged)."""
        path = self.path(key, label)
        head, payload = encode(entries, key, tables, listing, parts)
        tmp = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".pzi")
            with os.fdopen(fd, "wb") as fh:
                fh.write(head)
                fh.write(payload)  # not joined: a second copy of 16 MB at the build's peak
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
        return len(head) + len(payload)

    def kept_partition(self, root: Path) -> Partition | None:
        """The partition kept in the header of `root`'s index file (read alone: a few KB)
        while its stamps hold, else None. A process that has not loaded the index yet (a
        CLI run, a restart) splits its first rg pass with it."""
        try:
            with open(self.path(str(root), root.name), "rb") as fh:
                head = _header(fh.read(len(MAGIC) + _LEN.size + MAX_HEADER), str(root))
        except (OSError, Invalid):
            return None
        try:
            shards, stamps = head["parts"]
            partition = Partition(tuple(tuple(str(d) for d in s) for s in shards))
            kept = [(str(p), int(m)) for p, m in stamps]
        except (KeyError, TypeError, ValueError):
            return None
        if not unchanged(str(root), kept):
            return None
        # a directory since replaced by a link is not searched (rg's walk would not follow
        # it), one gone has nothing to search: they stay excluded from the rest
        shards = tuple(
            dirs for s in partition.shards if (dirs := tuple(d for d in s if _is_dir(root / d)))
        )
        return Partition(shards) if shards else None


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def encode(
    entries: dict[str, Entry],
    key: str,
    tables: tuple[Any, ...] | None = None,
    listing: Listing | None = None,
    parts: tuple[Partition, Stamps] | None = None,
) -> tuple[bytes, bytes]:
    """The file's head (magic, length, JSON header) and its payload."""
    files = [(path, e.mtime_ns, e.size, e.status, e.error, e.digest, e.rows)
             for path, e in entries.items()]  # fmt: skip
    payload = marshal.dumps(
        (files, tables, None if listing is None else (list(listing[0]), list(listing[1])))
    )
    head = {
        "format": FORMAT,
        "fingerprint": fingerprint(),
        "key": key,
        "files": len(entries),
        "length": len(payload),
        "blake2b": hashlib.blake2b(payload, digest_size=16).hexdigest(),
    }
    kept = {} if parts is None else {"parts": [parts[0].shards, parts[1]]}
    header = json.dumps(head | kept).encode()
    if len(header) > MAX_HEADER:  # a partition too long to keep: the file holds none
        header = json.dumps(head).encode()
    return MAGIC + _LEN.pack(len(header)) + header, payload


def _header(data: bytes, key: str) -> dict[str, Any]:
    """The header of an index file that starts with `data`, checked (format, extractors'
    version, scope)."""
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
    return head


def decode(data: bytes, key: str) -> Loaded:
    head = _header(data, key)
    start = len(MAGIC) + _LEN.size + _LEN.unpack_from(data, len(MAGIC))[0]
    payload = memoryview(data)[start:]
    if len(payload) != head.get("length"):
        raise Invalid("is truncated")
    if hashlib.blake2b(payload, digest_size=16).hexdigest() != head.get("blake2b"):
        raise Invalid("fails its checksum")
    files, tables, listing = marshal.loads(payload)
    out = {path: Entry(mtime, size, status, rows, error, digest)
           for path, mtime, size, status, error, digest, rows in files}  # fmt: skip
    return Loaded(out, tables, listing, "parts" in head)
