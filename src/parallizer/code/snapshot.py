"""`Snapshot`: what we know about one scope's code at one moment, behind one face.

The index's tables (every definition by name, qualified name, folded name, owner; near names
by edit distance), the file list, and what is worked out from them once per snapshot (the
file index for paths, the tree's languages, the lines of its files: `Lines`, read on demand
and kept while the files stay the same). The face: `lookup`/`qualified`/`members`/`near` for
names, `resolve(uses)` for a plan's names and paths, `role(path)`, `language(path)`,
`lines(path)`, `verify(citation)`. Immutable as far as callers can tell, so one snapshot is
shared by every request until the tree changes; its caches are its own attributes
(thread-safe: resolution runs in worker threads).
"""

from __future__ import annotations

import bisect
import os
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from .languages import ROLE_RANK, Definition, Role, fold, language, role_of
from .resolve import FileIndex, Resolution, Resolver, UseLike, type_tails

Row = tuple[str, str, str | None, str, str, str, int, str, int, int]
"""A definition as the index keeps it: (name, qualname, owner, kind, language, path, line,
role, min params, max params), -1 for "not callable" (min) and "unbounded" (max). A tuple
of atomic values is not tracked by the cyclic garbage collector, so half a million of them
cost a full collection nothing (as many `Definition` objects made one take seconds, with
the loop blocked); `Definition`s are made per lookup."""

_ROLES = {r.value: r for r in Role}
_NOT_OWN = frozenset((Role.vendored.value, Role.generated.value))


def make_definition(row: Row) -> Definition:
    name, qual, owner, kind, language, path, line, role, lo, hi = row
    params = None if lo < 0 else (lo, None if hi < 0 else hi)
    return Definition(name, qual, owner, kind, language, path, line, _ROLES[role], params)


Slot = int | tuple[int, ...]
"""A table's value: one row number, or several in lookup order."""


def _add(table: dict[str, int | list[int]], key: str, i: int) -> None:
    """One row number per key, a list only when a key has several: lists are objects the
    cyclic GC tracks, and a full collection over a million of them holds the GIL (the
    loop) for half a second."""
    have = table.get(key)
    if have is None:
        table[key] = i
    elif isinstance(have, int):
        table[key] = [have, i]
    else:
        have.append(i)


def _slots(table: dict[str, int | list[int]], key: Callable[[int], Any]) -> dict[str, Slot]:
    """The table with every list sorted by `key` and frozen into a tuple."""
    out: dict[str, Slot] = {}
    for k, ids in table.items():
        out[k] = ids if isinstance(ids, int) else tuple(sorted(ids, key=key))
    return out


@dataclass(frozen=True, slots=True)
class BuildStats:
    """How a snapshot was made (the `stats()` of its index)."""

    files: int = 0
    """Files rg lists in the scope (all of them, parsed or not)."""
    parsed_files: int = 0
    """Files of a known language whose definitions the index holds."""
    reparsed: int = 0
    """Files read and parsed by the build that made this snapshot (the rest were reused)."""
    skipped: dict[str, int] = field(default_factory=dict)
    """Files of a known language not parsed, by reason: too_big, binary, unreadable,
    over_cap (past the file cap), pending (past the time budget; parsed by the next update)."""
    parse_errors: int = 0
    error_samples: tuple[str, ...] = ()
    partial: bool = False
    """True when some code files are missing: the listing hit the file cap, the build ran
    out of time, or files were unreadable."""
    partial_reasons: tuple[str, ...] = ()
    build_ms: float = 0.0
    list_ms: float = 0.0
    check_ms: float = 0.0
    """Listing and stat'ing every file: what an update that finds no change costs."""
    index_file: str = ""
    """Where the index persists ('' : memory only)."""
    loaded: int = 0
    """Files whose entries this build took from the persisted index (0: none, it was built)."""


class Tables:
    """The lookup tables of a list of rows: the CPU part of a snapshot, persisted with the
    index (`dump`) so a restart over an unchanged tree does not make them again."""

    __slots__ = ("by_fold", "by_name", "by_owner", "by_qual", "langs", "near_keys",
                 "near_lens", "near_names", "roles", "rows")  # fmt: skip
    rows: list[Row]
    by_name: dict[str, Slot]
    by_qual: dict[str, Slot]
    by_fold: dict[str, Slot]
    by_owner: dict[str, Slot]
    near_names: list[str]
    near_keys: list[str]
    near_lens: list[int]
    langs: dict[str, int]
    roles: dict[str, int]

    def __init__(self, rows: list[Row], dumped: tuple[Any, ...] | None = None) -> None:
        """The tables of `rows`, or `dumped` (what `dump` gave for the same rows, in the same
        order) as they are."""
        self.rows = rows
        if dumped is not None:
            (self.by_name, self.by_qual, self.by_fold, self.by_owner, self.near_names,
             self.langs, self.roles) = dumped  # fmt: skip
            self._near()
            return
        by_name: dict[str, int | list[int]] = {}
        by_qual: dict[str, int | list[int]] = {}
        by_fold: dict[str, int | list[int]] = {}
        by_owner: dict[str, int | list[int]] = {}
        langs: Counter[str] = Counter()
        roles: Counter[str] = Counter()
        for i, row in enumerate(rows):
            name, qual, owner = row[0], row[1], row[2]
            _add(by_name, name, i)
            _add(by_qual, qual, i)
            key = fold(name)
            _add(by_fold, key, i)
            if owner is not None:
                qkey = fold(qual)
                if qkey != key:
                    _add(by_fold, qkey, i)
                _add(by_owner, owner, i)
            langs[row[4]] += 1
            roles[f"{row[4]}/{row[7]}"] += 1

        def order(i: int) -> tuple[int, str, int]:
            r = rows[i]
            return ROLE_RANK[_ROLES[r[7]]], r[5], r[6]

        def place(i: int) -> tuple[str, int]:
            return rows[i][5], rows[i][6]

        self.by_name = _slots(by_name, order)
        self.by_qual = _slots(by_qual, order)
        self.by_fold = _slots(by_fold, order)
        self.by_owner = _slots(by_owner, place)
        # distinct names of the tree's own code (not vendored or generated: in a tree with
        # its dependencies inside, those are most names, and no plan means them), lower-cased
        # and by length, for `near`
        own = {r[0] for r in rows if r[7] not in _NOT_OWN} or set(self.by_name)
        names = sorted(own, key=len)
        self.near_names = names
        self.langs = dict(langs)
        self.roles = dict(roles)
        self._near()

    def _near(self) -> None:
        self.near_keys = [n.lower() for n in self.near_names]
        self.near_lens = [len(n) for n in self.near_names]

    def dump(self) -> tuple[Any, ...]:
        """Plain values (dicts of str to int or tuple of ints, lists of str): marshal-able."""
        return (self.by_name, self.by_qual, self.by_fold, self.by_owner, self.near_names,
                self.langs, self.roles)  # fmt: skip


# --- lines: a scope's files read on demand, kept while they stay the same ------------------
# Every request's cards cite the same few files (definitions, snippets, citation checks), so
# a snapshot keeps the lines of the files read recently, each checked against its inode, size
# and mtime before it is reused. Blocking reads: callers run them off the event loop.

MAX_READ = 4 * 1024 * 1024
"""Bytes of the largest file read."""
MAX_BODY = 3000
"""Lines of a class body read."""
KEEP = 256
"""Files whose lines are kept."""
NEAR = 3
"""Lines either side of a cited line where the name it is about may stand."""


class Lines:
    """The lines of files under `root` (relative posix paths). Paths resolving outside the
    root (symlinks) are never read."""

    def __init__(self, root: Path, has_file: Callable[[str], bool] | None = None) -> None:
        self.root = root
        self._has_file = has_file
        self._top: Path | None = None
        self._kept: OrderedDict[str, tuple[tuple[int, int, int], list[str]]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def top(self) -> Path:
        if self._top is None:
            self._top = self.root.resolve()
        return self._top

    def get(self, rel: str) -> list[str] | None:
        """The lines of `rel` (None if missing, too big, or resolving outside the root). Do
        not change the list returned: it is shared."""
        top = self.top
        try:
            st = os.stat(top / rel)
            sig = (st.st_ino, st.st_size, st.st_mtime_ns)
            with self._lock:
                hit = self._kept.get(rel)
                if hit is not None and hit[0] == sig:
                    self._kept.move_to_end(rel)
                    return hit[1]
            p = (top / rel).resolve()
            if not p.is_relative_to(top) or not p.is_file() or st.st_size > MAX_READ:
                return None
            lines = p.read_text(encoding="utf-8", errors="replace").split("\n")
        except (OSError, ValueError):
            return None
        with self._lock:
            self._kept[rel] = (sig, lines)
            while len(self._kept) > KEEP:
                self._kept.popitem(last=False)
        return lines

    def read(self, wanted: set[tuple[str, int]], span: int = 0) -> dict[tuple[str, int], str]:
        """For each (path, 1-based line): that line and `span` lines after it, joined
        (missing files and lines give nothing)."""
        out: dict[tuple[str, int], str] = {}
        for path, ln in wanted:
            text = self.get(path)
            if text is not None and 1 <= ln <= len(text):
                out[(path, ln)] = "\n".join(text[ln - 1 : ln + span])
        return out

    def bodies(self, wanted: set[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """For each (path, 1-based line of a class or type definition): its body, by
        indentation (up to the next non-blank line indented no deeper than the definition,
        a closing brace included)."""
        out: dict[tuple[str, int], str] = {}
        for path, line in wanted:
            text = self.get(path)
            if text is None or not 1 <= line <= len(text):
                continue
            head = text[line - 1]
            indent = len(head) - len(head.lstrip())
            end = line
            while end < len(text) and end - line < MAX_BODY:
                nxt = text[end]
                if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                    end += nxt.lstrip().startswith(("}", ")", "end"))
                    break
                end += 1
            out[(path, line)] = "\n".join(text[line - 1 : end])
        return out

    def verify(self, citation: str, names: Sequence[str] = ()) -> bool:
        """`path:line` names a non-blank line of a file of the scope, and one of `names` (if
        any) stands on it or within NEAR lines of it."""
        path, _, num = citation.rpartition(":")
        if self._has_file is not None and not self._has_file(path):
            return False
        text = self.get(path)
        if text is None or not num.isdigit() or not 1 <= int(num) <= len(text):
            return False
        ln = int(num)
        if not text[ln - 1].strip():
            return False
        if not names:
            return True
        near = "\n".join(text[max(0, ln - 1 - NEAR) : ln + NEAR])
        # the substring test first: most names are not near, and a regex per name would
        # also churn the re module's compile cache
        return any(n in near and re.search(rf"\b{re.escape(n)}\b", near) for n in names)


class Snapshot:
    """One scope's code. Every lookup is a dict access (`near` a bounded rapidfuzz scan)."""

    def __init__(
        self,
        root: Path,
        files: Sequence[str],
        rows: Iterable[Row],
        build: BuildStats,
        tables: Tables | None = None,
    ) -> None:
        """`tables`: made beforehand (then `rows` is not read: the tables hold theirs)."""
        self.root = root
        self.build = build
        self._files = tuple(files)  # sorted
        self._fileset = frozenset(self._files)
        t = self.tables = tables if tables is not None else Tables(list(rows))
        self._rows = t.rows
        self._by_name = t.by_name
        self._by_qual = t.by_qual
        self._by_fold = t.by_fold
        self._by_owner = t.by_owner
        self._near_names = t.near_names
        self._near_keys = t.near_keys
        self._near_lens = t.near_lens
        self._langs = Counter(t.langs)
        self._roles = Counter(t.roles)
        self._lock = threading.Lock()
        self._share: dict[float, list[str]] = {}
        self.lines = Lines(root, self.has_file)
        """Lines of the tree's files, read on demand and kept (`lines.get(path)`)."""

    @property
    def build_ms(self) -> float:
        return self.build.build_ms

    def __len__(self) -> int:
        return len(self._rows)

    def _get(self, table: dict[str, Slot], key: str) -> list[Definition]:
        slot = table.get(key)
        if slot is None:
            return []
        if isinstance(slot, int):
            return [make_definition(self._rows[slot])]
        return [make_definition(self._rows[i]) for i in slot]

    def files(self) -> Sequence[str]:
        """Relative posix paths of every file rg lists in the scope, in rg's order (by path
        component)."""
        return self._files

    def has_file(self, relpath: str) -> bool:
        return relpath.removeprefix("./") in self._fileset

    @cached_property
    def _by_string(self) -> tuple[str, ...]:
        # `_files` is in rg's order, by path component ("a/b" before "a-b", "x/y" before
        # "x.py"), where the paths with one prefix need not be next to each other
        return tuple(sorted(self._files))

    def files_under(self, prefix: str) -> Sequence[str]:
        """Files whose path starts with `prefix` (a directory ends with `/`), by string."""
        by_string = self._by_string
        lo = bisect.bisect_left(by_string, prefix)
        hi = bisect.bisect_left(by_string, prefix + "\U0010ffff")
        return by_string[lo:hi]

    def definitions(self) -> Iterator[Definition]:
        """Every definition, file by file."""
        return map(make_definition, self._rows)

    def lookup(self, name: str) -> list[Definition]:
        """Definitions named exactly `name`: source first, then test, docs, stub, vendored,
        generated; by path and line within a role."""
        return self._get(self._by_name, name)

    def qualified(self, qualname: str) -> list[Definition]:
        """Definitions with exactly this qualified name (`Client.send`, `HiArgs.new`)."""
        return self._get(self._by_qual, qualname)

    def folded(self, name: str) -> list[Definition]:
        """Definitions whose name (or qualified name) folds like `name`: `HttpTransport`
        finds `HTTPTransport`, `retry_policy` finds `RetryPolicy`."""
        return self._get(self._by_fold, fold(name))

    def near(self, name: str, limit: int = 5, cutoff: float = 80) -> list[tuple[Definition, float]]:
        """Names like `name` by edit distance (rapidfuzz `ratio`, case-insensitive), best
        first: one entry per distinct name (its first definition in lookup order; `lookup`
        gives the others). The name itself is not in the answer. Names only vendored or
        generated files define are left out (unless the tree has no others). Only names
        whose length can reach `cutoff` are scored, so a call costs a slice of them."""
        if not name or not self._near_names or limit < 1:
            return []
        n = len(name)
        # ratio = 2·matches / (n + m) ≥ cutoff/100 needs m within these bounds
        c = max(min(cutoff, 100.0), 1.0) / 100.0
        lo = bisect.bisect_left(self._near_lens, int(n * c / (2 - c)))
        hi = bisect.bisect_right(self._near_lens, int(n * (2 - c) / c) + 1)
        hits = process.extract(
            name.lower(),
            self._near_keys[lo:hi],
            scorer=fuzz.ratio,
            processor=None,
            limit=limit + 1,
            score_cutoff=cutoff,
        )
        out = []
        for _, score, i in hits:
            hit = self._near_names[lo + i]
            if hit != name:
                out.append((self._get(self._by_name, hit)[0], float(score)))
        return out[:limit]

    def members(self, owner: str) -> list[Definition]:
        """Definitions whose owner is `owner` (a class's methods and fields, an impl's
        functions, a Go type's methods), by path and line."""
        return self._get(self._by_owner, owner)

    def definitions_per_language(self) -> Counter[str]:
        """Definitions per language."""
        return Counter(self._langs)

    def roles(self) -> Counter[str]:
        """Definitions per `language/role`."""
        return Counter(self._roles)

    def stats(self) -> dict[str, Any]:
        b = self.build
        return {
            "root": str(self.root),
            "files": b.files,
            "parsed_files": b.parsed_files,
            "reparsed": b.reparsed,
            "definitions": len(self._rows),
            "names": len(self._by_name),
            "languages": dict(sorted(self._langs.items())),
            "roles": dict(sorted(self._roles.items())),
            "skipped": dict(sorted(b.skipped.items())),
            "parse_errors": b.parse_errors,
            "errors": b.parse_errors + b.skipped.get("unreadable", 0),
            "error_samples": list(b.error_samples),
            "partial": b.partial,
            "partial_reasons": list(b.partial_reasons),
            "build_ms": round(b.build_ms, 1),
            "list_ms": round(b.list_ms, 1),
            "check_ms": round(b.check_ms, 1),
            "index_file": b.index_file,
            "loaded": b.loaded,
        }

    # --- the face: worked out once per snapshot -------------------------------------------

    @cached_property
    def file_index(self) -> FileIndex:
        """The file list indexed for paths: existence, directories, closest files (two threads
        racing on a new snapshot may both build it; either is right)."""
        return FileIndex(self._files)

    @cached_property
    def type_tails(self) -> dict[str, list[Definition]]:
        """Types by the last word of their name, for a variable named after one
        (`request.routerPath`: FastifyRequest); two threads racing may both build it."""
        return type_tails(self)

    def languages(self, share: float = 0.05) -> list[str]:
        """The languages of at least `share` of the tree's code files (at least the most
        common one), by file suffix: a language the index does not parse still has its
        standard names. A walk over every file: once per snapshot."""
        with self._lock:
            found = self._share.get(share)
        if found is None:
            counts: Counter[str] = Counter()
            for path in self._files:
                lang = language(path)
                if lang is not None and lang.rules is not None:
                    counts[lang.name] += 1
            total = sum(counts.values())
            ranked = counts.most_common()
            found = (
                [name for name, n in ranked if n >= share * total] or [ranked[0][0]]
                if total
                else []
            )
            with self._lock:
                self._share[share] = found
        return list(found)

    def role(self, path: str) -> Role:
        """What the file is for (source, test, docs, stub, vendored, generated)."""
        return role_of(path)

    def language(self, path: str) -> str | None:
        lang = language(path)
        return lang.name if lang is not None else None

    def resolve(
        self,
        uses: Iterable[UseLike],
        introduced: Iterable[str] = (),
        proposed: Iterable[str] = (),
        languages: Sequence[str] | None = None,
    ) -> list[Resolution]:
        """Every distinct name and path of `uses`, resolved against this snapshot (CPU work:
        callers run it off the event loop)."""
        return Resolver(self, introduced, languages, proposed).resolve_all(uses)

    def verify(self, citation: str, names: Sequence[str] = ()) -> bool:
        """A `path:line` citation is real: the file is in the scope, the line within it and
        not blank, and (when `names` are given) one of them stands on or near that line.
        Reads the file: run it off the event loop."""
        return self.lines.verify(citation, names)

    def correct(self, citation: str, names: Sequence[str]) -> str | None:
        """The citation if it verifies, else the definition of one of `names`, else None."""
        if self.verify(citation, names):
            return citation
        for n in names:
            defs = self.lookup(n)
            src = [d for d in defs if d.role is Role.source] or defs
            if src:
                return src[0].citation
        return None
