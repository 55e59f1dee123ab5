"""`CodeKnowledge`: one `Snapshot` per scope, built off the event loop, shared by requests.

* The file list is ripgrep's (`rg --files`: .gitignore honoured even outside git, hidden
  and binary-looking files as rg decides, symlinks not followed, so no loop), capped at
  `max_files` (the index is then marked partial).
* Files are stat'ed in a thread and parsed by `workers` worker processes started for the
  build (tree-sitter holds the GIL while it parses, so a big file parsed in a thread would
  stall the loop); a small batch (a few small files: a fixture, an edit) is parsed in a
  thread instead.
* Up to date by (mtime, size): an update re-reads only files that changed, appeared or were
  left over; the rest keep their definitions. A file whose time changed but not its size is
  hashed: the same content keeps its definitions.
* Persisted (`store.IndexStore`, when given): the first update of a scope (or a package, by
  its `Package.key`) starts from the entries on disk, and an update that changed anything
  writes them back with the snapshot's tables; a restart re-parses only what changed. The
  scope's file list is kept with them (`listing`): a restart over a tree where no directory
  changed does not list it again.
* Not parsed, by path (`languages.not_indexed`, for a scope's own files only): bundles,
  build output, package managers' directories; by content: minified files.
* Single flight: one build per scope at a time; concurrent `get`s wait for the same one.
  A build belongs to the store, not to the request that started it (a store-owned
  `fanout.SingleFlight`): a request that goes away does not cancel it (the next request will
  want it); `aclose` does.
* Bounded: a time budget per build (files left over are parsed by the next update, the
  snapshot says "partial" meanwhile), a size cap per file, at most `max_scopes` scopes and
  `max_definitions` definitions kept, least recently used scope out first.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import time
from collections import OrderedDict
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..backends.base import Partition, Partitions
from ..errors import BackendError, Cancelled, IndexFailed, NoWorkers, Unavailable, WorkerDied
from ..fanout import Flight, SingleFlight, cancel_and_wait
from ..workers import WorkerPool
from .extract import PARSE_SECONDS
from .languages import ROLE_RANK, Role, language_of, not_indexed, role_of
from .listing import Stamps, partition, partition_stamps, stamp, unchanged
from .parse import Parsed, parse_batch
from .snapshot import BuildStats, Snapshot, Tables
from .store import Entry, IndexStore, Listing, digest

log = logging.getLogger("parallizer.index")

SMALL_BATCH_BYTES = 1 << 20
"""Up to this many bytes in all, in files of at most SMALL_FILE_BYTES, are parsed in a
thread: a few ms of held GIL per file, and no worker processes to start."""
SMALL_FILE_BYTES = 128 * 1024
PACKAGE_THREAD_FILE_BYTES = 256 * 1024
"""An installed package whose files are all this small is parsed in a thread (at most tens
of ms of held GIL per file)."""
_BY_PATH = frozenset({"installed", "build_output", "minified"})
"""The statuses `not_indexed` gives (by path; "minified" is also found by content)."""
BATCH_FILES = 48
BATCH_BYTES = 1 << 20


class Lister(Protocol):
    def __call__(self, root: Path, *, max_files: int = ...) -> Awaitable[list[str]]: ...


class _Scope:
    __slots__ = ("checked", "entries", "key", "label", "last", "listed", "loaded", "origin",
                 "parted", "root", "snapshot", "stored", "task")  # fmt: skip

    def __init__(self, root: Path, key: str | None = None, label: str | None = None) -> None:
        self.root = root
        self.key = key or str(root)
        """Its identity in the persisted store: the path, or a package's `Package.key`."""
        self.label = label or root.name
        self.stored = False
        """The store was asked for this scope's entries (once, before its first build)."""
        self.listed = False
        """The persisted file holds a kept file list that is this scope's current one."""
        self.parted = False
        """The persisted file holds a partition of the scope (`IndexStore.kept_partition`)."""
        self.loaded = 0
        self.origin = ""
        """How its first snapshot was made: `loaded` (from the persisted index) or `built`."""
        self.entries: dict[str, Entry] = {}
        self.snapshot: Snapshot | None = None
        self.task: asyncio.Task[Snapshot] | None = None
        self.checked = 0.0  # monotonic time the snapshot was last brought up to date
        self.last: BuildStats | None = None  # the latest update's (its snapshot may be older)


@dataclass(frozen=True, slots=True)
class _Plan:
    files: list[str]
    keep: dict[str, Entry]
    parse: list[tuple[str, str, int, int]]  # path, language, mtime_ns, size
    changed: bool  # anything added, removed or changed besides `parse`
    dirty: bool  # an entry added, removed or changed besides `parse` (the store is behind)


def _default_lister() -> Lister:
    from ..backends.ripgrep import RipgrepBackend

    return RipgrepBackend(sort=True, max_filesize="2M").list_files


class CodeKnowledge:
    def __init__(
        self,
        *,
        list_files: Lister | None = None,
        workers: int = 2,
        max_files: int = 100_000,
        max_file_bytes: int = 1 << 20,
        build_budget: float = 120.0,
        max_scopes: int = 4,
        max_definitions: int = 3_000_000,
        refresh_after: float = 2.0,
        max_builds: int = 2,
        parse_seconds: float = PARSE_SECONDS,
        store: IndexStore | None = None,
        partitions: Partitions | None = None,
    ) -> None:
        self._list = list_files or _default_lister()
        self.store = store
        """Where indexes persist between runs (None: memory only)."""
        self.partitions = partitions
        """Where each scope's `Partition` goes (for the rg backend's passes), made with each
        new snapshot."""
        self.workers = max(0, workers)
        self.max_files = max_files
        self.max_file_bytes = max_file_bytes
        self.build_budget = build_budget
        self.max_scopes = max_scopes
        self.max_definitions = max_definitions
        self.refresh_after = refresh_after
        self.parse_seconds = parse_seconds
        self._builds = asyncio.Semaphore(max(1, max_builds))
        self._scopes: OrderedDict[str, _Scope] = OrderedDict()
        self._flights: SingleFlight[Snapshot] = SingleFlight(owner="store")
        self._tasks: set[asyncio.Task[Snapshot]] = set()
        self._closed = False
        self.builds = 0
        """Updates run so far (for tests and metrics)."""

    # --- public ---------------------------------------------------------------------------

    async def snapshot(self, root: Path, *, fresh: bool = False) -> Snapshot:
        """The index of `root` (an absolute, resolved directory). The first call builds it
        (waits); later calls return the current snapshot at once and, when it was last
        checked over `refresh_after` seconds ago (longer for a tree slow to check), bring it
        up to date in the background.
        `fresh=True` waits for an update that starts after the call. Raises `BackendError`
        when the root cannot be listed (or the build failed)."""
        if self._closed:
            raise Unavailable("the index store is closed")
        scope = self._scope(root)
        if scope.snapshot is None or fresh:
            if fresh and scope.task is not None:
                await asyncio.wait({scope.task})  # it may have listed before our edit
            return await self._join(self._start(scope))
        if scope.task is None and time.monotonic() - scope.checked > self._due(scope):
            self._start(scope)
        return scope.snapshot

    def _due(self, scope: _Scope) -> float:
        """Seconds between background updates: `refresh_after`, or ten times what the last
        update took (a 50,000-file tree takes about a second to list and stat), so keeping
        up to date costs at most a tenth of the time."""
        last = scope.last.check_ms / 1000.0 if scope.last is not None else 0.0
        return max(self.refresh_after, 10.0 * last)

    def peek(self, root: Path) -> Snapshot | None:
        """The snapshot of `root` if one is built, without waiting or starting anything."""
        scope = self._scopes.get(str(root))
        return scope.snapshot if scope is not None else None

    def describe(self) -> dict[str, object]:
        """Where indexes persist, and each scope held: its name, files, definitions, and
        whether it was loaded from the persisted index or built (for `/health`)."""
        return {
            "dir": str(self.store.directory) if self.store is not None else None,
            "scopes": [
                {"scope": s.root.name, "origin": s.origin, "files": s.snapshot.build.files,
                 "definitions": len(s.snapshot)}
                for s in self._scopes.values() if s.snapshot is not None
            ],
        }  # fmt: skip

    def last_update(self, root: Path) -> BuildStats | None:
        """How the latest update of `root` went (files re-parsed, time). When nothing had
        changed, the snapshot it left is the previous one, with that build's stats."""
        scope = self._scopes.get(str(root))
        return scope.last if scope is not None else None

    async def package(
        self, root: Path, files: list[str], *, key: str | None = None, label: str | None = None
    ) -> Snapshot:
        """The index of one installed dependency: `files` (its code, relative to `root`)
        parsed as a scope's would be, without listing `root` and without keeping it here
        (one per package and version: `deps.Dependencies` keeps it; an installed package
        does not change, a new version is a new package). Parsed in a thread unless a file is
        over PACKAGE_THREAD_FILE_BYTES: starting worker processes costs more than parsing a
        typical library. `key` is its identity in the persisted store (`Package.key`: the
        same root may hold another version later); None: not persisted."""
        if self._closed:
            raise Unavailable("the index store is closed")
        listed = sorted(files)[: self.max_files]

        async def given(root: Path, *, max_files: int = 0) -> list[str]:
            return listed

        task = asyncio.get_running_loop().create_task(
            self._update(_Scope(root, key, label), given, threads=True, persist=key is not None),
            name=f"index:{root.name}",
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await self._join(Flight(task, owner="store"))

    async def aclose(self) -> None:
        self._closed = True
        await cancel_and_wait(list(self._tasks))
        self._scopes.clear()

    def __len__(self) -> int:
        return len(self._scopes)

    # --- scopes and builds ----------------------------------------------------------------

    def _scope(self, root: Path) -> _Scope:
        key = str(root)
        scope = self._scopes.get(key)
        if scope is None:
            scope = self._scopes[key] = _Scope(root)
        self._scopes.move_to_end(key)
        return scope

    def _start(self, scope: _Scope) -> Flight[Snapshot]:
        flight, started = self._flights.start(
            scope.key, lambda: self._update(scope), name=f"index:{scope.root.name}"
        )
        if started:
            scope.task = task = flight.task
            self._tasks.add(task)
            task.add_done_callback(lambda t: self._landed(scope, t))
        return flight

    def _landed(self, scope: _Scope, task: asyncio.Task[Snapshot]) -> None:
        self._tasks.discard(task)
        if scope.task is task:
            scope.task = None
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("index of %s failed: %s", scope.root.name, exc)

    @staticmethod
    async def _join(flight: Flight[Snapshot]) -> Snapshot:
        await flight.join()  # store-owned: a caller that goes away does not cancel it
        task = flight.task
        if task.cancelled():
            raise Cancelled("the index build was cancelled")
        exc = task.exception()
        if exc is None:
            return task.result()
        if isinstance(exc, BackendError):
            raise exc
        # a bug must reach the caller as a failed index, not as a crash of its request
        raise IndexFailed(f"{type(exc).__name__}: {exc}"[:300]) from exc

    def _evict(self, keep: _Scope) -> None:
        def total() -> int:
            return sum(len(s.snapshot) for s in self._scopes.values() if s.snapshot is not None)

        for key in list(self._scopes):
            if len(self._scopes) <= self.max_scopes and total() <= self.max_definitions:
                break
            scope = self._scopes[key]
            if scope is keep or scope.task is not None:
                continue
            log.info("index of %s dropped (least recently used)", scope.root.name)
            del self._scopes[key]
            if self.partitions is not None:
                self.partitions.put(scope.root, None)

    async def _update(
        self,
        scope: _Scope,
        lister: Lister | None = None,
        *,
        threads: bool = False,
        persist: bool = True,
    ) -> Snapshot:
        store = self.store if persist else None
        own = store is not None and lister is None  # a scope rg lists (not a package)
        async with self._builds:
            t0 = time.perf_counter()
            tables: Tables | None = None
            kept: Listing | None = None
            if store is not None and not scope.stored:
                scope.stored = True
                loaded, tables, kept, scope.parted = await asyncio.to_thread(
                    _load, store, scope.key, scope.label
                )
                if loaded is not None and not scope.entries:
                    scope.entries, scope.loaded = loaded, len(loaded)
                else:
                    tables = kept = None
            root = str(scope.root)
            listed_at = time.time_ns()
            if own and kept is not None and await asyncio.to_thread(unchanged, root, kept[1]):
                files, stamps = kept[0], kept[1]  # nothing added or removed since it was kept
                scope.listed = True
            else:
                files = await (lister or self._list)(scope.root, max_files=self.max_files + 1)
                stamps = None
            list_ms = (time.perf_counter() - t0) * 1000.0
            over_cap = len(files) > self.max_files
            files = files[: self.max_files]
            # a kept list holds every file of a parsed language in the entries (it is kept
            # only after a build that left none over): the others need not be asked again
            known = scope.entries if stamps is not None else None
            plan = await asyncio.to_thread(self._plan, scope, files, known)
            check_ms = (time.perf_counter() - t0) * 1000.0
            results, pending = await self._parse(
                scope.root, plan.parse, t0 + self.build_budget, threads=threads
            )
            snapshot = await asyncio.to_thread(
                self._assemble, scope, plan, results, pending, over_cap, t0, list_ms, check_ms,
                tables if not results and not plan.dirty else None,
            )  # fmt: skip
            changed = bool(results or plan.dirty)
            parts = None
            # a scope rg searches has a new snapshot: its partition for rg's passes is made
            # again (stamped only when the index file will keep it)
            partitions = (
                self.partitions if lister is None and snapshot is not scope.snapshot else None
            )
            if partitions is not None:
                parts = await asyncio.to_thread(
                    _partitioned, root, snapshot.files(), partitions.ways, store is not None
                )
            if own and stamps is None and not over_cap and not pending and (
                changed or not scope.listed
            ):
                stamps = await asyncio.to_thread(stamp, root, files, listed_at)
            if store is not None and (
                changed
                or (stamps is not None and not scope.listed)
                or (parts is not None and not scope.parted)
            ):
                # a build that left files over does not keep its list (see `known`)
                kept = (files, stamps) if stamps is not None and not pending else None
                await asyncio.to_thread(
                    store.save, scope.key, scope.label, scope.entries, snapshot.tables.dump(),
                    kept, parts,
                )  # fmt: skip
                scope.parted = parts is not None
                scope.listed = kept is not None
            scope.origin = scope.origin or ("loaded" if scope.loaded else "built")
            scope.loaded = 0
            if partitions is not None:
                partitions.put(scope.root, parts[0] if parts is not None else None)
            scope.snapshot = snapshot
            scope.checked = time.monotonic()
            self.builds += 1
            self._evict(scope)
            b = snapshot.build
            log.info(
                "indexed %s: %d files, %d definitions, %d parsed now%s, %.0f ms%s",
                scope.label, b.files, len(snapshot), b.reparsed,
                f" ({b.loaded} loaded from {b.index_file})" if b.loaded else "", b.build_ms,
                " (partial)" if b.partial else "",
            )  # fmt: skip
            return snapshot

    def _plan(
        self, scope: _Scope, files: list[str], known: dict[str, Entry] | None = None
    ) -> _Plan:
        """Which files to (re)parse: stat every file of a known language (in a thread).
        `known`: the files of `files` that can be of one (when `files` is a kept list)."""
        keep: dict[str, Entry] = {}
        parse: list[tuple[str, str, int, int]] = []
        root = str(scope.root)
        old = scope.entries
        own = scope.key == root  # a scope, not a package: a package's dist/ is its code
        for path in files if known is None else known:
            prev = old.get(path)
            # a path known to the index has a language and was classed by `not_indexed` as
            # it is now (its rules are in the persisted file's fingerprint): only the few
            # it skipped are asked again (a file minified by its content may have changed)
            language = language_of(path) if prev is None else None
            if prev is None and language is None:
                continue
            if own and (prev is None or prev.status in _BY_PATH) and (why := not_indexed(path)):
                keep[path] = prev if prev is not None and prev.status == why else Entry(0, 0, why)
                continue
            try:
                st = os.stat(os.path.join(root, path))
            except OSError as exc:  # vanished, unreadable, a broken link
                keep[path] = (
                    prev
                    if prev is not None and prev.status == "unreadable"
                    else Entry(0, 0, "unreadable", error=exc.strerror)
                )
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            if prev is not None and prev.mtime_ns == st.st_mtime_ns and prev.size == st.st_size:
                keep[path] = prev
            elif (
                prev is not None
                and prev.digest
                and prev.size == st.st_size
                and _digest_of(os.path.join(root, path)) == prev.digest
            ):  # touched, not changed (a checkout): its rows stand, with the new time
                keep[path] = Entry(st.st_mtime_ns, st.st_size, prev.status, prev.rows,
                                   prev.error, prev.digest)  # fmt: skip
            elif st.st_size > self.max_file_bytes:
                keep[path] = Entry(st.st_mtime_ns, st.st_size, "too_big",
                                    error=f"over {self.max_file_bytes} bytes, not parsed")  # fmt: skip
            else:
                parse.append((path, language or language_of(path) or "", st.st_mtime_ns, st.st_size))
        # source files first, so a build that runs out of time has spent it on them
        parse.sort(key=lambda p: (ROLE_RANK[role_of(p[0])], p[0]))
        dirty = len(keep) + len(parse) != len(old) or any(
            old.get(p) is not e for p, e in keep.items()
        )
        changed = dirty or scope.snapshot is None or list(scope.snapshot.files()) != files
        return _Plan(files, keep, parse, changed, dirty)

    async def _parse(
        self, root: Path, items: list[tuple[str, str, int, int]], deadline: float,
        *, threads: bool = False,
    ) -> tuple[dict[str, tuple[Parsed, int, int]], int]:  # fmt: skip
        """Parse `items`; returns ({path: (parsed, mtime_ns, size)}, files left unparsed)."""
        if not items:
            return {}, 0
        stamps = {p: (m, s) for p, _, m, s in items}
        out: dict[str, tuple[Parsed, int, int]] = {}

        def take(parsed: list[Parsed]) -> None:
            for p in parsed:
                m, s = stamps[p.path]
                out[p.path] = (p, m, s)

        total = sum(i[3] for i in items)
        largest = max(i[3] for i in items)
        small = total <= SMALL_BATCH_BYTES and largest <= SMALL_FILE_BYTES
        if self.workers == 0 or small or (threads and largest <= PACKAGE_THREAD_FILE_BYTES):
            pairs = [(p, lang) for p, lang, _, _ in items]
            take(
                await asyncio.to_thread(
                    parse_batch, str(root), pairs, self.max_file_bytes, self.parse_seconds
                )
            )
            return out, 0

        batches: list[list[tuple[str, str]]] = []
        batch: list[tuple[str, str]] = []
        size = 0
        for p, lang, _, s in items:
            if batch and (len(batch) >= BATCH_FILES or size + s > BATCH_BYTES):
                batches.append(batch)
                batch, size = [], 0
            batch.append((p, lang))
            size += s
        if batch:
            batches.append(batch)

        queue = iter(batches)
        left = submitted = 0
        fallback = False
        running: dict[asyncio.Task[list[Parsed]], list[tuple[str, str]]] = {}
        pool = WorkerPool(min(self.workers, len(batches)), preload=(parse_batch.__module__,))
        async with pool as workers:
            try:
                while True:
                    while len(running) < workers.size:
                        nxt = next(queue, None)
                        if nxt is None:
                            break
                        if submitted >= workers.size and time.perf_counter() > deadline:
                            left += len(nxt) + sum(len(b) for b in queue)
                            break
                        job = (str(root), nxt, self.max_file_bytes, self.parse_seconds)
                        task = asyncio.create_task(workers.call(parse_batch, *job))
                        running[task] = nxt
                        submitted += 1  # the first round goes out whatever the time: progress
                    if not running:
                        break
                    done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        sent = running.pop(task)
                        try:
                            take(task.result())
                        except NoWorkers as exc:  # no process can start here: in a thread
                            if not fallback:
                                log.warning("index of %s parsed in a thread: %s", root.name, exc)
                            fallback = True
                            job = (str(root), sent, self.max_file_bytes, self.parse_seconds)
                            take(await asyncio.to_thread(parse_batch, *job))
                        except WorkerDied as exc:  # a crash in a parser: those files only
                            take([Parsed(p, "unreadable", lang, error=str(exc))
                                  for p, lang in sent])  # fmt: skip
            finally:
                await cancel_and_wait(running)
        return out, left

    def _assemble(
        self,
        scope: _Scope,
        plan: _Plan,
        results: dict[str, tuple[Parsed, int, int]],
        pending: int,
        over_cap: bool,
        t0: float,
        list_ms: float,
        check_ms: float,
        tables: Tables | None = None,
    ) -> Snapshot:
        """The new snapshot (in a thread): new entries become Definitions, the rest are
        reused; when nothing changed, the old snapshot's tables are reused too, and when
        nothing changed since the index was persisted, the tables persisted with it."""
        # the persisted tables index the rows in the persisted entries' order: keep it
        entries = scope.entries if tables is not None else dict(plan.keep)
        errors: list[str] = []
        intern: dict[str, str] = {}
        share = intern.setdefault  # one string object per distinct name in the index
        for path, (p, mtime, size) in results.items():
            role = role_of(path)
            if p.generated and role is Role.source:
                role = Role.generated
            language, role_s = share(p.language, p.language), role.value
            rows = tuple(
                (share(n, n), share(q, q), None if o is None else share(o, o), share(k, k),
                 language, path, line, role_s, lo, hi)
                for n, q, o, k, line, lo, hi in p.defs
            )  # fmt: skip
            entries[path] = Entry(mtime, size, p.status, rows, p.error, p.digest)
        skipped: dict[str, int] = {}
        parse_errors = 0
        for path, e in entries.items():
            if e.status != "ok":
                skipped[e.status] = skipped.get(e.status, 0) + 1
            elif e.error:
                parse_errors += 1
                if len(errors) < 20:
                    errors.append(f"{path}: {e.error}")
        reasons = []
        if over_cap:
            reasons.append(
                f"more than {self.max_files} files: only the first {self.max_files} by path"
            )
            skipped["over_cap"] = 1
        if pending:
            reasons.append(
                f"time budget of {self.build_budget:g}s spent: {pending} files left for the next update"
            )
            skipped["pending"] = pending
        if skipped.get("unreadable"):
            reasons.append(f"{skipped['unreadable']} files could not be read")
        build = BuildStats(
            index_file=str(self.store.path(scope.key, scope.label)) if self.store else "",
            loaded=scope.loaded,
            files=len(plan.files),
            parsed_files=sum(1 for e in entries.values() if e.status == "ok"),
            reparsed=len(results),
            skipped=skipped,
            parse_errors=parse_errors,
            error_samples=tuple(errors),
            partial=bool(reasons),
            partial_reasons=tuple(reasons),
            build_ms=(time.perf_counter() - t0) * 1000.0,
            list_ms=list_ms,
            check_ms=check_ms,
        )
        scope.entries = entries
        old = scope.snapshot
        scope.last = build
        if old is not None and not results and not plan.changed:
            return old  # nothing changed: the same snapshot (callers' caches stay valid)
        return Snapshot(
            scope.root, plan.files, (r for e in entries.values() for r in e.rows), build, tables
        )


def _digest_of(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return digest(fh.read())
    except OSError:
        return b""


def _load(
    store: IndexStore, key: str, label: str
) -> tuple[dict[str, Entry] | None, Tables | None, Listing | None, bool]:
    """The persisted entries of a scope, the tables persisted with them (used as they are
    when the tree has not changed since), its kept file list, whether it holds a partition."""
    got = store.load_all(key, label)
    if got is None:
        return None, None, None, False
    loaded, dumped = got.entries, got.tables
    if dumped is None:
        return loaded, None, got.listing, got.parts
    try:
        tables = Tables([r for e in loaded.values() for r in e.rows], dumped)
    except (TypeError, ValueError):  # not the shape this version dumps: make them from the rows
        log.warning("index file of %s: its lookup tables are remade", label)
        return loaded, None, got.listing, got.parts
    return loaded, tables, got.listing, got.parts


def _partitioned(
    root: str, files: Sequence[str], ways: int, stamped: bool
) -> tuple[Partition, Stamps] | None:
    """The scope's partition for rg's passes, with the stamps that keep it on disk (none when
    not `stamped`: nothing keeps it)."""
    part = partition(sorted(files), ways)
    if part is None:
        return None
    return part, partition_stamps(root, part) if stamped else []
