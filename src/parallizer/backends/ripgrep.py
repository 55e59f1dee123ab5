"""ripgrep as an asyncio subprocess speaking `--json`.

Limits: files over `max_filesize` are skipped, match text is clipped, the number of matches
is capped per file and in total (the process is killed as soon as the cap is reached),
`.gitignore` is honoured even outside a git repository, regexes run on ripgrep's default
engine (finite automata: linear time, no backtracking) with size limits on the compiled
program. A timeout or a cancellation kills the process and reaps it.


One pass for many queries: `Batcher` collects the searches that arrive within a few
milliseconds for the same key (the search root and its globs) into one batch and runs it once.
A batch belongs to the callers waiting for it (a waiter-owned `fanout.Flight`): one of them
cancelled leaves the run to the others; the last one cancelled cancels it (and so kills its
`rg`). `QueryMatcher` gives a query's share of a combined run back: the combined run matches
every line any of its queries would (`combined_pattern`: each query's own case, word edges
where they are cheap and safe), then each line is matched again, in Python, against each
query (word edges, case, literal or regex), and the events a separate run of that query would
have printed are rebuilt: its matches, its context lines, its per-file cap and the
after-context rg prints past that cap.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import re
import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Generic, TypeVar

import orjson

from ..errors import BackendError, InvalidQuery, ToolFailed, Unavailable, Unreadable
from ..fanout import Flight
from ..limits import Limiter
from ..subprocs import exit_code, kill
from ..text import clip_around
from .base import (
    Availability,
    CodeMatch,
    CodeQuery,
    CodeSearchResult,
    ContextLine,
    Partition,
    Partitions,
)

log = logging.getLogger("parallizer.ripgrep")

MAX_TEXT = 240  # characters of a matched line kept (centred on the match when longer)
MAX_JSON_LINE = 16 * 1024 * 1024  # one rg JSON event; longer ones are skipped
STDERR_KEEP = 4096
VALVE_LINES = 2000
"""A combined run stops when this many lines have come in since its first query had all it
wanted while others still wait (a frequent name must not make the rare ones read all of its
matches): the unfinished queries run again, together, without it."""
AGAIN = object()  # a query a combined run was cut short before serving
WHOLE = ("--", ".")
"""Where a pass searches when it is not split: the whole scope."""
_GLOB_SPECIAL = str.maketrans({c: "\\" + c for c in "\\*?[]{}"})


def _wheres(partition: Partition) -> list[tuple[str, ...]]:
    """The rg arguments that say where each process of a split pass searches: the rest (the
    root with every shard's directories excluded), then each shard's directories. They are
    given as `./dir`, so rg names their files and their errors as it does under the root."""
    excluded = [d for shard in partition.shards for d in shard]
    rest = (*(f"--glob=!/{d.translate(_GLOB_SPECIAL)}" for d in excluded), *WHOLE)
    return [rest, *(("--", *(f"./{d}" for d in shard)) for shard in partition.shards)]


def _path_order(m: CodeMatch) -> tuple[list[str], int]:
    return m.path.split("/"), m.line  # rg's --sort=path compares path components


def merged(query: CodeQuery, parts: list[CodeSearchResult]) -> CodeSearchResult:
    """What one sorted pass would have found, from the results of a split pass's processes
    (each sorted and capped on its own; their files are disjoint). The first
    `max_results` matches by path; as that pass would have stopped at the next match, the
    kept matches of its file lose the context lines past it."""
    if len(parts) == 1:
        return parts[0]
    matches = sorted((m for p in parts for m in p.matches), key=_path_order)
    cap = query.max_results
    if len(matches) > cap:
        nxt = matches[cap]
        matches = [
            m.model_copy(update={"after": [c for c in m.after if c.line <= nxt.line]})
            if m.path == nxt.path and m.after and m.after[-1].line > nxt.line
            else m
            for m in matches[:cap]
        ]
    return CodeSearchResult(
        query=query,
        matches=matches,
        truncated=len(matches) < sum(len(p.matches) for p in parts)
        or any(p.truncated for p in parts),
        warnings=[w for p in parts for w in p.warnings][:5],
    )


def find_rg() -> str | None:
    """The `rg` installed beside this interpreter (the PyPI wheel), else the one on PATH."""
    here = Path(sys.executable).parent / ("rg.exe" if os.name == "nt" else "rg")
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    return shutil.which("rg")


def _text(obj: dict[str, Any] | None) -> str:
    """rg encodes text as {"text": ...} or, when not UTF-8, {"bytes": base64}."""
    if not obj:
        return ""
    if "text" in obj:
        return obj["text"]
    return base64.b64decode(obj.get("bytes", "")).decode("utf-8", errors="replace")


def _rel(path: str) -> str:
    path = path.replace(os.sep, "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def match_line(text: str, focus: int = 0, width: int = MAX_TEXT) -> str:
    """Strip the line ending and cut a long line to `width` characters around `focus`."""
    return clip_around(text.rstrip("\r\n"), focus, width)


class _FileBuffer:
    """Lines (matches and context) of the file rg is reporting, to attach context."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lines: dict[int, str] = {}
        self.matches: list[tuple[int, str, list[str]]] = []  # (line, text, submatches)

    def finish(self, context: int) -> list[CodeMatch]:
        def around(first: int, last: int) -> list[ContextLine]:
            return [
                ContextLine(line=k, text=self.lines[k])
                for k in range(first, last + 1)
                if k in self.lines
            ]

        return [
            CodeMatch(
                path=self.path,
                line=n,
                text=text,
                submatches=subs,
                before=around(n - context, n - 1),
                after=around(n + 1, n + context),
            )
            for n, text, subs in self.matches
        ]


async def _events(stream: asyncio.StreamReader) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(type, data) of each event rg --json prints (lines that are not JSON are skipped)."""
    async for raw in _json_lines(stream):
        try:
            event = orjson.loads(raw)
        except ValueError:  # orjson.JSONDecodeError is one
            continue
        yield event.get("type"), event.get("data") or {}


async def _caught(coro: Any) -> Any:
    """The coroutine's value, or the BackendError it raised (one per query of a batch)."""
    try:
        return await coro
    except BackendError as exc:
        return exc


class _Collector:
    """One query's result built from the events a run of it prints, file by file: matches
    with their context, the global cap (the run is stopped one match past it)."""

    def __init__(self, query: CodeQuery) -> None:
        self.query = query
        self.result = CodeSearchResult(query=query)
        self.current: _FileBuffer | None = None
        self.cap_hit = False
        self.done = False

    def begin(self, path: str) -> None:
        self.current = _FileBuffer(path)

    def line(self, kind: str, line_no: int, raw_text: str, subs: list[dict[str, Any]]) -> bool:
        """Take one match or context line; True when the query has all it wants."""
        current = self.current
        if current is None:
            return False
        focus = subs[0].get("start", 0) if subs else 0
        text = match_line(raw_text, focus)
        if kind == "match" and self.cap_hit:
            # one match past the cap: there is more. It may still be context of
            # the last kept match, then we stop.
            current.lines[line_no] = text
            self.result.truncated = True
            self.done = True
            return True
        if kind == "match":
            current.matches.append((line_no, text, [_text(s.get("match")) for s in subs][:20]))
            if len(self.result.matches) + len(current.matches) >= self.query.max_results:
                self.cap_hit = True  # read on only for after-context and to learn if more
        current.lines[line_no] = text
        return False

    def end(self) -> None:
        if self.current is not None:
            self.result.matches.extend(self.current.finish(self.query.context))
            self.current = None

    def close(self) -> CodeSearchResult:
        self.end()
        return self.result


async def _drain_capped(stream: asyncio.StreamReader, keep: int) -> bytes:
    """Read a stream to EOF (so the writer never blocks) and keep its first `keep` bytes."""
    kept = bytearray()
    while chunk := await stream.read(65536):
        if len(kept) < keep:
            kept += chunk[: keep - len(kept)]
    return bytes(kept)


async def _json_lines(stream: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """Yield newline-delimited events; a line longer than MAX_JSON_LINE is skipped whole."""
    buf = bytearray()
    skipping = False
    while chunk := await stream.read(65536):
        start = 0
        while (nl := chunk.find(b"\n", start)) != -1:
            if not skipping:
                buf += chunk[start:nl]
                yield bytes(buf)
            buf.clear()
            skipping = False
            start = nl + 1
        if not skipping:
            buf += chunk[start:]
            if len(buf) > MAX_JSON_LINE:
                buf.clear()
                skipping = True
    if buf and not skipping:
        yield bytes(buf)


#: clean-ups that outlived the search that started them (a reference keeps them running)
_BACKGROUND: set[asyncio.Future[Any]] = set()


async def _to_the_end(aw: Awaitable[Any]) -> None:
    """Await a clean-up to its end, shielded from the caller's cancellation: cancelled
    (again) meanwhile, it goes on in the background and the cancellation goes on."""
    fut = asyncio.ensure_future(aw)
    try:
        await asyncio.shield(fut)
    except asyncio.CancelledError:
        _BACKGROUND.add(fut)
        fut.add_done_callback(_BACKGROUND.discard)
        raise


async def _reap_spawned(spawning: asyncio.Future[asyncio.subprocess.Process]) -> None:
    """The end of a spawn whose caller was cancelled: kill and reap what it started."""
    try:
        proc = await spawning
    except Exception:  # it failed to start: nothing to reap
        return
    await RipgrepBackend._reap(proc)


# One pass for many queries: batching and attribution

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
    batch is a waiter-owned `fanout.Flight`."""

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


class RipgrepBackend:
    """`limiter` counts rg processes: `search` and `list_files` hold a slot of it per process
    they run (one process may serve several queries), so a fan-out `Call` must not hold one
    too."""

    name = "ripgrep"

    def __init__(
        self,
        *,
        max_concurrent: int = 4,
        timeout: float = 10.0,
        max_filesize: str = "2M",
        binary: str | None = None,
        sort: bool = True,
        batch_window: float | None = 0.003,
        partitions: Partitions | None = None,
    ) -> None:
        self.binary = binary or find_rg()
        self.limiter = Limiter(self.name, max_concurrent)
        self.timeout = timeout
        self.max_filesize = max_filesize
        self.sort = sort  # deterministic order (and caps) at the price of one walker thread
        self.batch_window = batch_window
        self.partitions = partitions
        """Scopes split into parts for parallel sorted passes (see `Partition`)."""
        self.searches_run = 0  # passes run for searches (one may serve many queries)
        self.processes_run = 0  # rg processes they started (a split pass starts several)
        self._batcher: Batcher[CodeQuery, CodeSearchResult] = Batcher(
            self._run_batch, window=batch_window or 0.0
        )

    def availability(self) -> Availability:
        if not self.binary:
            return Availability.no("ripgrep (rg) not found: install the `ripgrep` wheel")
        return Availability.yes("ripgrep installed")  # its path is nobody's business

    def _base_args(self) -> list[str]:
        if not self.binary:
            raise Unavailable("ripgrep (rg) is not installed")
        args = [
            self.binary,
            "--no-config",
            "--no-require-git",  # honour .gitignore outside git repositories too
            f"--max-filesize={self.max_filesize}",
        ]
        if self.sort:
            args.append("--sort=path")
        return args

    def command(self, query: CodeQuery, where: tuple[str, ...] = WHOLE) -> list[str]:
        args = [
            *self._base_args(),
            "--json",
            "--regex-size-limit=8M",
            "--dfa-size-limit=16M",
            f"--max-count={query.max_per_file}",
            f"--context={query.context}",
            "--ignore-case" if query.ignore_case else "--case-sensitive",
        ]
        if query.mode in ("word", "literal"):
            args.append("--fixed-strings")
        if query.mode == "word":
            args.append("--word-regexp")
        for g in query.globs:
            args.append(f"--glob={g}")
        args += ["-e", query.pattern, *where]
        return args

    async def _split(self, root: Path, queries: list[CodeQuery]) -> list[tuple[str, ...]]:
        """Where each process of a pass over `root` searches: one place (the whole scope)
        unless the scope has a `Partition` and the pass is sorted with no globs of its own
        (a query's glob is matched from where rg starts, which a split would move)."""
        if self.partitions is None or not self.sort or any(q.globs for q in queries):
            return [WHOLE]
        partition = await self.partitions.get(root)
        return [WHOLE] if partition is None else _wheres(partition)

    @staticmethod
    def _check(query: CodeQuery) -> None:
        if "\x00" in query.pattern or "\n" in query.pattern:
            raise InvalidQuery("a search pattern cannot contain NUL or newline")

    async def _spawn(self, args: list[str], root: Path) -> asyncio.subprocess.Process:
        env = {k: v for k, v in os.environ.items() if k != "RIPGREP_CONFIG_PATH"}
        spawning = asyncio.ensure_future(
            asyncio.create_subprocess_exec(
                *args,
                cwd=root,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        )
        try:
            # Never cancel a spawn half-way: asyncio then closes the transport, whose
            # Popen.poll() reaps a child that already exited before the child watcher's
            # thread waits for it ("Unknown child process pid N, will report returncode
            # 255"). The spawn finishes; the process is then killed and reaped as usual.
            return await asyncio.shield(spawning)
        except asyncio.CancelledError:
            # the process may exist already (asyncio connects its pipes after the fork):
            # it is killed and reaped before the cancellation goes on
            with contextlib.suppress(asyncio.CancelledError):
                await _to_the_end(_reap_spawned(spawning))
            raise
        except FileNotFoundError as exc:
            if exc.filename == args[0]:
                raise Unavailable("cannot run ripgrep: rg not found") from exc
            raise Unreadable("search root does not exist") from exc
        except (NotADirectoryError, PermissionError) as exc:
            raise Unreadable(f"cannot search {root.name!r}: {exc.strerror}") from exc

    @staticmethod
    async def _reap(proc: asyncio.subprocess.Process) -> None:
        """Kill the process if it still runs and wait for it, reading its pipes to the end;
        cancelled meanwhile, the wait goes on in the background (so the process is always
        reaped by the child watcher, nobody else, and its pipes are closed)."""
        kill(proc)
        await _to_the_end(exit_code(proc))

    async def search(self, query: CodeQuery, root: Path) -> CodeSearchResult:
        """Search `root`; searches of the same root and globs arriving within `batch_window`
        seconds share one rg pass (each gets what its own run would have found)."""
        self._check(query)
        if self.batch_window is None or python_pattern(query) is None:
            async with self.limiter.slot():
                return await self._search_alone(query, root)
        return await self._batcher.submit(batch_key(str(root), query), query)

    async def _each_part(
        self,
        root: Path,
        queries: list[CodeQuery],
        run: Callable[[tuple[str, ...]], Awaitable[R]],
    ) -> list[R | BackendError]:
        """`run(where)` for each part of one pass over `root` (one part: the whole scope),
        the parts at once; a part's `BackendError` is its result."""
        wheres = await self._split(root, queries)
        self.searches_run += 1
        if len(wheres) == 1:
            return [await run(wheres[0])]
        async with asyncio.TaskGroup() as tg:
            runs = [tg.create_task(_caught(run(w))) for w in wheres]
        return [r.result() for r in runs]

    async def _search_alone(self, query: CodeQuery, root: Path) -> CodeSearchResult:
        parts = await self._each_part(root, [query], partial(self._run_alone, query, root))
        for part in parts:
            if isinstance(part, BackendError):
                raise part
        return merged(query, [p for p in parts if isinstance(p, CodeSearchResult)])

    async def _run_alone(
        self, query: CodeQuery, root: Path, where: tuple[str, ...]
    ) -> CodeSearchResult:
        proc = await self._spawn(self.command(query, where), root)
        self.processes_run += 1
        try:
            async with asyncio.TaskGroup() as tg:
                err = tg.create_task(_drain_capped(proc.stderr, STDERR_KEEP))  # type: ignore[arg-type]
                result, stopped = await self._consume(proc.stdout, query)  # type: ignore[arg-type]
                if stopped:
                    kill(proc)
                rc = await exit_code(proc)
        finally:
            await self._reap(proc)
        stderr = err.result().decode("utf-8", errors="replace").strip()
        if rc == 2 and not stopped:
            self._raise_or_warn(stderr, result)
        return result

    @staticmethod
    def _raise_or_warn(stderr: str, result: CodeSearchResult) -> None:
        """rg exited 2. A bad pattern or an unsearchable root fails the query; errors about
        single paths inside the tree (unreadable file, broken link) only warn."""
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        if "regex parse error" in stderr:
            detail = next((ln for ln in lines if ln.startswith("error:")), lines[-1])
            raise InvalidQuery(f"invalid regex: {detail.removeprefix('error:').strip()}")
        if "size limit" in stderr:
            raise InvalidQuery("regex too large to compile within the size limit")
        per_path = [ln for ln in lines if ln.startswith("rg: ./")]
        if result.matches or (per_path and len(per_path) == len(lines)):
            result.warnings = [ln.removeprefix("rg: ")[:300] for ln in lines[:5]]
            return
        reason = lines[0].removeprefix("rg: ") if lines else "ripgrep failed"
        raise ToolFailed(reason[:300])

    async def _consume(
        self, stdout: asyncio.StreamReader, query: CodeQuery
    ) -> tuple[CodeSearchResult, bool]:
        """Parse rg's JSON events; returns (result, stopped_early)."""
        col = _Collector(query)
        async for kind, data in _events(stdout):
            if kind == "begin":
                col.begin(_rel(_text(data.get("path"))))
            elif kind in ("match", "context"):
                line_no = data.get("line_number")
                if line_no is None:
                    continue
                subs = data.get("submatches") or []
                if col.line(kind, line_no, _text(data.get("lines")), subs):
                    break
            elif kind == "end":
                col.end()
        return col.close(), col.cap_hit

    # --- one pass for many queries ----------------------------------------------------------

    async def _run_batch(
        self, key: Any, queries: list[CodeQuery]
    ) -> list[CodeSearchResult | BaseException]:
        root = Path(key[0])
        results: list[Any] = [AGAIN] * len(queries)
        async with self.limiter.slot():
            while pending := [i for i, r in enumerate(results) if r is AGAIN]:
                if len(pending) == 1 and len(queries) == 1:
                    return [await _caught(self._search_alone(queries[0], root))]
                if len(pending) == 1:
                    results[pending[0]] = await _caught(
                        self._search_alone(queries[pending[0]], root)
                    )
                    break
                got = await self._search_combined([queries[i] for i in pending], root)
                for i, r in zip(pending, got, strict=True):
                    results[i] = r
        for r in results:
            if isinstance(r, CodeSearchResult):
                r.shared_run = True
        redo = [i for i, r in enumerate(results) if r is None]
        if redo:  # the combined run could not serve these: each on its own, concurrently

            async def alone(q: CodeQuery) -> CodeSearchResult | BackendError:
                async with self.limiter.slot():
                    return await _caught(self._search_alone(q, root))

            again = await asyncio.gather(*(alone(queries[i]) for i in redo))
            for i, r in zip(redo, again, strict=True):
                results[i] = r
        return results

    def combined_command(
        self, queries: list[CodeQuery], where: tuple[str, ...] = WHOLE
    ) -> list[str]:
        args = [
            *self._base_args(),
            "--json",
            "--regex-size-limit=8M",
            "--dfa-size-limit=16M",
            f"--context={max(q.context for q in queries)}",
            "--case-sensitive",  # each pattern carries its own case
        ]
        for g in queries[0].globs:
            args.append(f"--glob={g}")
        for p in combined_patterns(queries):
            args += ["-e", p]
        return [*args, *where]

    async def _search_combined(self, queries: list[CodeQuery], root: Path) -> list[Any]:
        """One pass for `queries` (same root and globs): per query its result or error,
        None when the combined pattern was refused (separate runs will say which query is at
        fault), AGAIN when the pass was cut short before it was done (see VALVE_LINES)."""
        outs = await self._each_part(root, queries, partial(self._run_combined, queries, root))
        if len(outs) == 1 and not isinstance(outs[0], BackendError):
            return outs[0]
        got: list[Any] = []
        for i, query in enumerate(queries):
            each = [o if isinstance(o, BackendError) else o[i] for o in outs]
            if any(e is None for e in each):
                got.append(None)
            elif any(e is AGAIN for e in each):
                got.append(AGAIN)
            elif failed := [e for e in each if isinstance(e, BackendError)]:
                got.append(failed[0])
            else:
                got.append(merged(query, [e for e in each if isinstance(e, CodeSearchResult)]))
        return got

    async def _run_combined(
        self, queries: list[CodeQuery], root: Path, where: tuple[str, ...]
    ) -> list[Any]:
        matchers = [QueryMatcher(q, p) for q in queries if (p := python_pattern(q)) is not None]
        assert len(matchers) == len(queries), "only queries with a Python pattern are batched"
        cols = [_Collector(q) for q in queries]
        proc = await self._spawn(self.combined_command(queries, where), root)
        self.processes_run += 1
        path = ""
        lines: dict[int, str] = {}
        hits: list[int] = []  # the lines rg reported as matches (of some query)
        since_done = 0  # lines read since the first query finished
        cut_short = False
        try:
            async with asyncio.TaskGroup() as tg:
                err = tg.create_task(_drain_capped(proc.stderr, STDERR_KEEP))  # type: ignore[arg-type]
                async for kind, data in _events(proc.stdout):  # type: ignore[arg-type]
                    if kind == "begin":
                        path, lines, hits = _rel(_text(data.get("path"))), {}, []
                    elif kind in ("match", "context"):
                        line_no = data.get("line_number")
                        if line_no is not None:
                            lines[line_no] = _text(data.get("lines"))
                            if kind == "match":
                                hits.append(line_no)
                    elif kind == "end":
                        self._attribute(path, lines, hits, matchers, cols)
                        finished = sum(c.cap_hit and c.done for c in cols)
                        if finished == len(cols):
                            break
                        if finished:
                            since_done += len(lines)
                            if since_done > VALVE_LINES:
                                cut_short = True  # the finished ones' lines swamp the rest
                                break
                        lines, hits = {}, []
                else:
                    if lines:
                        self._attribute(path, lines, hits, matchers, cols)
                kill(proc)  # when it broke off early (a no-op once rg has exited)
                rc = await exit_code(proc)
        finally:
            await self._reap(proc)
        stderr = err.result().decode("utf-8", errors="replace").strip()
        out: list[Any] = []
        for col in cols:
            result = col.close()
            if cut_short and not col.done:
                out.append(AGAIN)
            elif rc == 2 and not (cut_short or all(c.done for c in cols)):
                if "regex parse error" in stderr or "size limit" in stderr:
                    out.append(None)  # which pattern is at fault is for separate runs to say
                    continue
                try:
                    self._raise_or_warn(stderr, result)
                    out.append(result)
                except BackendError as exc:
                    out.append(exc)
            else:
                out.append(result)
        return out

    @staticmethod
    def _attribute(
        path: str,
        lines: dict[int, str],
        hits: list[int],
        matchers: list[QueryMatcher],
        cols: list[_Collector],
    ) -> None:
        for m, col in zip(matchers, cols, strict=True):
            if col.done:
                continue
            events = m.events(lines, hits)
            if not events:
                continue
            col.begin(path)
            for kind, n, text, subs in events:
                if col.line(kind, n, text, subs):
                    break
            else:
                col.end()

    async def list_files(self, root: Path, *, max_files: int = 20_000) -> list[str]:
        """Paths rg would search under `root` (gitignore honoured), sorted, capped."""
        async with self.limiter.slot():
            return await self._list_files(root, max_files)

    async def _list_files(self, root: Path, max_files: int) -> list[str]:
        proc = await self._spawn([*self._base_args(), "--files", "--", "."], root)
        files: list[str] = []
        try:
            async with asyncio.TaskGroup() as tg:
                err = tg.create_task(_drain_capped(proc.stderr, STDERR_KEEP))  # type: ignore[arg-type]
                async for raw in _json_lines(proc.stdout):  # type: ignore[arg-type]
                    files.append(_rel(raw.decode("utf-8", errors="replace")))
                    if len(files) >= max_files:
                        kill(proc)
                        break
                rc = await exit_code(proc)
        finally:
            await self._reap(proc)
        if rc == 2 and not files:
            msg = err.result().decode("utf-8", errors="replace").strip().splitlines()
            raise ToolFailed((msg[0] if msg else "ripgrep failed").removeprefix("rg: "))
        return files
