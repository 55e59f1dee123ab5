"""One ripgrep pass for many queries: batching and attribution.

`Batcher` collects the searches that arrive within a few milliseconds for the same key (the
search root and its globs) into one batch and runs it once. A batch belongs to the callers
waiting for it (a waiter-owned `flight.Flight`): one of them cancelled leaves the run to the others; the last one cancelled
cancels it (and so kills its `rg`).

`QueryMatcher` gives a query's share of a combined run back: the combined run matches every
line any of its queries would (`combined_pattern`: each query's own case, word edges where
they are cheap and safe), then each line is matched again, in Python, against each query
(word edges, case, literal or regex), and the events a separate run of that query would have
printed are rebuilt: its matches, its context lines, its per-file cap and the after-context
rg prints past that cap.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..flight import Flight
from .base import CodeQuery

Q = TypeVar("Q")
R = TypeVar("R")


@dataclass(eq=False)
class _Batch(Generic[Q]):
    items: list[Q] = field(default_factory=list)
    wanted: list[bool] = field(default_factory=list)
    closed: bool = False
    flight: Flight[list[Any]] | None = None


class Batcher(Generic[Q, R]):
    """Runs `run(key, items)` once for the items submitted for `key` within `window` seconds
    (or as soon as `max_size` are in). `run` returns one result or exception per item. A
    batch is a waiter-owned `flight.Flight`."""

    def __init__(
        self,
        run: Callable[[Hashable, list[Q]], Awaitable[list[R | BaseException]]],
        *,
        window: float = 0.003,
        max_size: int = 32,
    ) -> None:
        self._run = run
        self.window = window
        self.max_size = max_size
        self._open: dict[Hashable, _Batch[Q]] = {}
        self.runs = 0  # batches run (for tests and the bench)

    async def _fly(self, key: Hashable, batch: _Batch[Q]) -> list[R | BaseException]:
        try:
            if len(batch.items) < self.max_size:
                await asyncio.sleep(self.window)
        finally:
            batch.closed = True
            if self._open.get(key) is batch:
                del self._open[key]
        keep = [i for i, w in enumerate(batch.wanted) if w]
        self.runs += 1
        results = await self._run(key, [batch.items[i] for i in keep])
        out: list[R | BaseException] = [asyncio.CancelledError()] * len(batch.items)
        for i, r in zip(keep, results, strict=True):
            out[i] = r
        return out

    async def submit(self, key: Hashable, item: Q) -> R:
        batch = self._open.get(key)
        if (
            batch is None
            or batch.closed
            or len(batch.items) >= self.max_size
            or batch.flight is None
            or not batch.flight.live
        ):
            batch = _Batch()
            self._open[key] = batch
            task = asyncio.get_running_loop().create_task(self._fly(key, batch))
            batch.flight = Flight(task, owner="waiters")
        flight = batch.flight
        index = len(batch.items)
        batch.items.append(item)
        batch.wanted.append(True)
        if len(batch.items) >= self.max_size and self._open.get(key) is batch:
            del self._open[key]  # full: later callers start another batch
        try:
            results = await flight.wait()
        except asyncio.CancelledError:
            batch.wanted[index] = False  # not yet started: leave it out of the run
            raise
        result = results[index]
        if isinstance(result, BaseException):
            raise result
        return result


# --- attribution ----------------------------------------------------------------------------

Event = tuple[str, int, str, list[dict[str, Any]]]
"""(kind "match"|"context", line number, the line as rg sent it, submatches as rg sends them)."""


def python_pattern(query: CodeQuery) -> re.Pattern[str] | None:
    """The query as a Python regex matching what rg matches on one line; None when it cannot
    be one (a regex Python does not read the same way runs on its own)."""
    if query.mode == "regex":
        body = query.pattern
    elif query.mode == "literal":
        body = re.escape(query.pattern)
    else:  # rg's -w: a match whose neighbours are not word characters (half word boundaries)
        body = rf"(?<!\w){re.escape(query.pattern)}(?!\w)"
    try:
        return re.compile(body, re.IGNORECASE if query.ignore_case else 0)
    except (re.error, RecursionError, OverflowError):
        return None


_RUST_META = frozenset("\\.+*?()|[]{}^$#&-~")


def rust_escape(text: str) -> str:
    """`text` as a literal in a Rust regex (the characters `regex_syntax::escape` escapes)."""
    return "".join("\\" + c if c in _RUST_META else c for c in text)


def _ascii_edge(c: str, ignore_case: bool) -> bool:
    """An ASCII `\\b` beside `c` misses nothing the query matches: `c` is an ASCII word
    character, and no non-ASCII character matches it (under case folding the long s matches
    s and the Kelvin sign k)."""
    return c.isascii() and (c.isalnum() or c == "_") and not (ignore_case and c in "sSkK")


def combined_pattern(query: CodeQuery) -> str:
    """The query as one alternative of a combined rg run, matching every line its own run
    would (the run may match a few more; `QueryMatcher` is exact). Word edges become ASCII
    `\\b` on sides whose character is an ASCII word character (elsewhere a boundary could
    miss, so there is none); case goes into the pattern, so queries of either case share the
    run without widening each other."""
    if query.mode == "regex":
        body = query.pattern
    else:
        body = rust_escape(query.pattern)
        if query.mode == "word":
            if _ascii_edge(query.pattern[0], query.ignore_case):
                body = "(?-u:\\b)" + body
            if _ascii_edge(query.pattern[-1], query.ignore_case):
                body += "(?-u:\\b)"
    return f"(?i:{body})" if query.ignore_case else f"(?:{body})"


def combined_patterns(queries: list[CodeQuery]) -> list[str]:
    """The patterns (`-e` each) of one rg run matching every line any of the queries
    matches: kinds and cases mixed, none widening another (a short name without its word
    edges would drag in every longer word holding it, tree-wide)."""
    return list(dict.fromkeys(combined_pattern(q) for q in queries))


def batch_key(root: str, query: CodeQuery) -> Hashable:
    """Queries that may share one rg pass: same root and globs."""
    return (root, query.globs)


class QueryMatcher:
    """One query's view of a combined run, file by file."""

    def __init__(self, query: CodeQuery, pattern: re.Pattern[str]) -> None:
        self.query = query
        self.pattern = pattern
        # a fixed string every match contains: lines without it are passed over in C, not
        # run through the regex (most lines of a combined run belong to the other queries)
        self.needle: str | None = None
        if query.mode != "regex":
            self.needle = query.pattern.lower() if query.ignore_case else query.pattern
        self.folded = query.ignore_case

    def may_match(self, line: str) -> bool:
        """False only when the line cannot hold a match. Case-folding with str.lower is exact
        for ASCII lines only (the Kelvin sign, the long s), so other lines go to the regex."""
        needle = self.needle
        if needle is None:
            return True
        if not self.folded:
            return needle in line
        return not line.isascii() or needle in line.lower()

    def submatches(self, line: str) -> list[dict[str, Any]]:
        text = line[:-1] if line.endswith("\n") else line
        out = []
        for m in self.pattern.finditer(text):
            if m.end() == m.start():
                continue  # rg reports no empty submatch
            start = len(text[: m.start()].encode("utf-8", "surrogatepass"))
            out.append({"match": {"text": m.group()}, "start": start})
            if len(out) >= 20:
                break
        return out

    def events(self, lines: dict[int, str], candidates: Iterable[int]) -> list[Event]:
        """What `rg --max-count=N --context=C` for this query alone prints for a file whose
        lines (all within the combined run's context of its matches) are `lines`, of which
        `candidates` (in ascending order) matched some query of the run."""
        c, cap = self.query.context, self.query.max_per_file
        hits: dict[int, list[dict[str, Any]]] = {}
        stop: int | None = None  # rg stops after the cap's match and its after-context
        for n in candidates:
            if stop is not None and n > stop:
                break
            line = lines[n]
            if not self.may_match(line):
                continue
            subs = self.submatches(line)
            if subs:
                hits[n] = subs
                if stop is None and len(hits) == cap:
                    stop = n + c
        if not hits:
            return []
        visible: set[int] = set()
        for m in hits:
            visible.update(range(m - c, m + c + 1))
        return [
            ("match" if n in hits else "context", n, lines[n], hits.get(n, []))
            for n in sorted(visible)
            if n in lines and (stop is None or n <= stop)
        ]
