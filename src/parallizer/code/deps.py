"""The project's dependencies, behind the same lookup as its own code.

`Dependencies` (one per process, beside `CodeKnowledge`) answers, for a scope:

* `environments(root)`: what each ecosystem's source (`sources/`) finds: the interpreter or
  node_modules, the packages installed at their versions, what the manifest declares and the
  lock file pins. Discovered in a thread on first use, kept, and discovered again when a
  manifest, a lock file or the install changes (checked, a few `stat`s, at most every
  `check_after` seconds).
* `imports(root, snapshot)`: what the project's own code imports (one rg pass per snapshot),
  so `Redis` means redis's and `z` means zod.
* `index(package)`: a package's index (`CodeKnowledge.package`: the same tree-sitter
  machinery as the project's code) and the words of its files, built on first need, once per
  package and version (single flight; the least recently used dropped past `max_packages`).
* `resolve(root, snapshot, resolutions, plan)`: the dependency pass over the project's
  resolutions (`resolve_deps.DependencyPass`): only the packages the plan may be naming are
  indexed (the project's imports, the packages the plan writes as a prefix), a request waits
  for them at most `wait` seconds (the rest are indexed meanwhile for the next request).

Nothing here fails a request: a scope with no environment says so (`notes()`, `/health`,
`parallizer index`, a card's text where it matters) and its plans get their own-code cards.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from cachetools import LRUCache
from rapidfuzz import fuzz, process

from ..backends.base import CodeBackend, CodeQuery
from ..errors import BackendError, Cancelled, IndexFailed, Unavailable
from ..fanout import Flight, SingleFlight
from .knowledge import CodeKnowledge
from .resolve import Resolution, UseLike, Verdict
from .resolve_deps import (
    DependencyPass,
    Imports,
    PackageIndex,
    PlanText,
    chains,
    scan_imports,
    wanted,
)
from .snapshot import Snapshot
from .sources import Environment, Options, Package, code_files, discover, stamps_changed

log = logging.getLogger("parallizer.deps")

IMPORT_PATTERN = (
    r"^\s*(?:from\s+\S+\s+import\s|import\s|export\s.*\sfrom\s|(?:pub\s+)?use\s+\w|"
    r"extern\s+crate\s)|\brequire\(\s*['\"]|^\s*(?:[\w.]+\s+)?\"[^\"\s]+\"\s*$"
)
IMPORT_GLOBS = (
    "*.{py,pyi,js,jsx,mjs,cjs,ts,tsx,mts,cts,go,rs}",
    "!node_modules",
    "!vendor",
    "!site-packages",
)
MAX_SCOPES = 64
"""Scopes whose environments are kept (least recently discovered out first)."""
WORDS_BYTES = 32 << 20
"""Bytes of a package's files read for its words (the text check of a claim about it)."""


@dataclass
class _Scope:
    envs: list[Environment]
    checked: float
    imports: tuple[Snapshot, Imports] | None = None
    variables: tuple[Snapshot, dict[str, list[str]]] | None = None
    """A snapshot, and for names asked about: the project's lines declaring them."""
    used: set[str] = field(default_factory=set)
    """Keys of the packages indexed for this scope's plans."""


class Dependencies:
    def __init__(
        self,
        code: CodeKnowledge,
        rg: CodeBackend | None,
        options: Options,
        *,
        check_after: float = 2.0,
        max_packages: int = 64,
        per_request: int = 12,
        wait: float = 20.0,
    ) -> None:
        self.code = code
        self.rg = rg
        self.options = options
        self.check_after = check_after
        self.max_packages = max_packages
        self.per_request = per_request
        self.wait = wait
        self._scopes: OrderedDict[str, _Scope] = OrderedDict()
        # store-owned single flights: a request that stops waiting cancels neither
        self._discovering: SingleFlight[list[Environment]] = SingleFlight(owner="store")
        self._indexes: OrderedDict[str, PackageIndex] = OrderedDict()
        self._building: SingleFlight[PackageIndex] = SingleFlight(owner="store")
        self._failed: dict[str, str] = {}
        self._vocab: OrderedDict[str, frozenset[str]] = OrderedDict()
        """The words of packages read but not indexed (a plan may never need them)."""
        self._reading: SingleFlight[frozenset[str]] = SingleFlight(owner="store")
        """One read of a package's words at a time (50 plans at once want the same ones)."""
        self.words_read = 0
        """Packages whose words were read (for tests)."""
        self._near: LRUCache[tuple[str, str], bool] = LRUCache(maxsize=NEAR_KEPT)
        """Whether a package (by key) holds a name or a word close to it."""
        self.near_asked = 0
        """(package, name) pairs searched for so far (for tests)."""
        self._closed = False
        self.indexed = 0
        """Packages indexed so far (for tests and metrics)."""

    # --- environments -----------------------------------------------------------------------

    async def environments(self, root: Path) -> list[Environment]:
        """The scope's environments, discovered on first use, again when a stamp changed."""
        key = str(root)
        scope = self._scopes.get(key)
        now = time.monotonic()
        if scope is not None and now - scope.checked < self.check_after:
            return scope.envs
        if scope is not None:
            stale = await asyncio.to_thread(
                lambda: any(stamps_changed(e.stamps) for e in scope.envs)
            )
            if not stale:
                scope.checked = time.monotonic()
                return scope.envs
        flight, _ = self._discovering.start(
            key, lambda: asyncio.to_thread(discover, root, self.options), name=f"deps:{root.name}"
        )
        await flight.join()
        task = flight.task
        if task.cancelled() or task.exception() is not None:
            exc = None if task.cancelled() else task.exception()
            log.warning("dependencies of %s not discovered: %s", root.name, exc)
            return scope.envs if scope is not None else []
        envs = task.result()
        old = self._scopes.get(key)
        self._scopes[key] = _Scope(envs, time.monotonic(), used=old.used if old else set())
        self._scopes.move_to_end(key)
        while len(self._scopes) > MAX_SCOPES:
            self._scopes.popitem(last=False)
        if old is None or [e.summary() for e in old.envs] != [e.summary() for e in envs]:
            for e in envs:
                log.info(
                    "dependencies of %s (%s): %s",
                    root.name,
                    e.ecosystem,
                    e.note or f"{len(e.packages)} installed in {e.where or e.location}",
                )
        return envs

    async def installed(self, root: Path) -> bool:
        """Some package is installed for the scope (the pass has something to look into)."""
        return any(e.found for e in await self.environments(root))

    def notes(self) -> list[dict[str, str]]:
        """Each scope seen whose dependencies cannot be read, once (the scope by its
        directory's name: /health is open): why."""
        out = []
        for scope in self._scopes.values():
            for e in scope.envs:
                if e.note:
                    out.append({"scope": e.scope.name, "ecosystem": e.ecosystem, "reason": e.note})
        return out

    # --- the project's imports --------------------------------------------------------------

    async def imports(self, root: Path, snapshot: Snapshot) -> Imports:
        """What the project's code imports (module -> uses, local name -> module): one rg
        pass per snapshot of the scope, kept until the tree changes."""
        scope = self._scopes.get(str(root))
        if scope is not None and scope.imports is not None and scope.imports[0] is snapshot:
            return scope.imports[1]
        found = Imports()
        if self.rg is not None and snapshot.files():
            query = CodeQuery(pattern=IMPORT_PATTERN, mode="regex", context=0,
                              max_results=5000, max_per_file=200, globs=IMPORT_GLOBS)  # fmt: skip
            try:
                result = await self.rg.search(query, root)
            except (BackendError, OSError) as exc:
                log.info("imports of %s not read: %s", root.name, exc)
            else:
                found = scan_imports((m.path, m.text) for m in result.matches)
        if scope is not None:
            scope.imports = (snapshot, found)
        return found

    async def variables(
        self, root: Path, names: Sequence[str], snapshot: Snapshot | None = None
    ) -> dict[str, list[str]]:
        """How the project's code declares or assigns each of `names` (`cache: LRUCache`,
        `self._client = httpx.Client(`): the lines, for the pass to read the class from.
        One rg pass for the names not asked about yet for this snapshot."""
        names = list(dict.fromkeys(names))[:40]
        scope = self._scopes.get(str(root))
        kept: dict[str, list[str]] = {}
        if scope is not None and snapshot is not None:
            if scope.variables is None or scope.variables[0] is not snapshot:
                scope.variables = (snapshot, {})  # the tree changed: asked again
            kept = scope.variables[1]
        ask = [n for n in names if n not in kept]
        if self.rg is not None and ask:
            found = await self._variables(root, ask)
            kept.update({n: found.get(n, []) for n in ask})
        return {n: kept[n] for n in names if kept.get(n)}

    async def _variables(self, root: Path, names: list[str]) -> dict[str, list[str]]:
        assert self.rg is not None
        alts = "|".join(re.escape(n) for n in names)
        query = CodeQuery(
            pattern=rf"\b(?:{alts})\s*(?::|=[^=])", mode="regex", context=0, max_results=400,
            max_per_file=40, globs=IMPORT_GLOBS,
        )  # fmt: skip
        try:
            result = await self.rg.search(query, root)
        except (BackendError, OSError):
            return {}
        out: dict[str, list[str]] = {}
        for m in result.matches:
            for n in names:
                if n in m.text:
                    out.setdefault(n, []).append(m.text.strip())
        return out

    # --- packages ---------------------------------------------------------------------------

    def peek(self, package: Package) -> PackageIndex | None:
        return self._indexes.get(package.key)

    async def index(self, package: Package) -> PackageIndex:
        """The package's index, built on first need (single flight per package and version).
        Raises `BackendError` when it cannot be built."""
        if self._closed:
            raise Unavailable("the dependency store is closed")
        hit = self._indexes.get(package.key)
        if hit is not None:
            self._indexes.move_to_end(package.key)
            return hit
        flight = self._begin(package)
        await flight.join()
        task = flight.task
        if task.cancelled():
            raise Cancelled(f"indexing {package.label} was cancelled")
        exc = task.exception()
        if exc is not None:
            raise exc if isinstance(exc, BackendError) else IndexFailed(str(exc))
        return task.result()

    def _begin(self, package: Package) -> Flight[PackageIndex]:
        """The build of `package`'s index, started if it is not under way (it belongs to the
        store: a request that stops waiting does not cancel it)."""
        key = package.key
        flight, started = self._building.start(
            key, lambda: self._build(package), name=f"deps:index:{package.name}"
        )
        if started:
            flight.task.add_done_callback(lambda t: self._built(key, t))
        return flight

    def _built(self, key: str, task: asyncio.Task[PackageIndex]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._failed[key] = str(exc)[:200]
            return
        self._indexes[key] = task.result()
        self._indexes.move_to_end(key)
        while len(self._indexes) > self.max_packages:
            self._indexes.popitem(last=False)

    async def _build(self, package: Package) -> PackageIndex:
        t0 = time.perf_counter()
        files = await asyncio.to_thread(code_files, package)
        listed = time.perf_counter() - t0
        snapshot = await self.code.package(
            package.root, files, key=package.key, label=f"{package.ecosystem}-{package.pin}"
        )
        t1 = time.perf_counter()
        words, aliases = await asyncio.to_thread(_words, package.root, snapshot.files())
        self.indexed += 1
        # its own work: listing, the build (not the wait for a build slot), its words
        ms = (listed + time.perf_counter() - t1) * 1000.0 + snapshot.build.build_ms
        log.info("indexed %s: %d files, %d definitions, %.0f ms", package.label, len(files),
                 len(snapshot), ms)  # fmt: skip
        return PackageIndex(package, snapshot, words, aliases, ms)

    def indexed_for(self, root: Path) -> list[PackageIndex]:
        """The packages indexed for this scope's plans so far."""
        scope = self._scopes.get(str(root))
        if scope is None:
            return []
        return [self._indexes[k] for k in scope.used if k in self._indexes]

    async def aclose(self) -> None:
        self._closed = True
        await self._building.aclose()
        await self._discovering.aclose()
        await self._reading.aclose()

    # --- the dependency pass ----------------------------------------------------------------

    async def resolve(
        self,
        root: Path,
        snapshot: Snapshot,
        resolutions: list[Resolution],
        uses: Sequence[UseLike],
        lines: Sequence[str],
        introduced: frozenset[str] = frozenset(),
        proposed: frozenset[str] = frozenset(),
    ) -> list[Resolution]:
        """The project's resolutions with what its dependencies say: real dependency APIs
        found, their misspellings and the names their installed versions lack named, the
        packages the plan relies on that the project does not have. The project's own
        definitions come first: a name it defines keeps its verdict."""
        envs = await self.environments(root)
        if not envs:
            return resolutions
        plan = PlanText(tuple(lines), tuple(uses), introduced, proposed)
        imports = await self.imports(root, snapshot)
        # the CPU of choosing (the plan's lines read for chained calls: ms) off the event loop
        named, others, wanted_names = await asyncio.to_thread(
            _choose, envs, imports, plan, self.per_request, resolutions
        )
        scope = self._scopes.get(str(root))
        if scope is not None:
            scope.used.update(p.key for p in (*named, *others))
        # the packages the plan names; of the others the project imports, those whose words
        # hold one of the plan's names the project lacks, or a name close to one
        # (`stop_after_attempts`): reading a package's words costs a small part of its index
        needed = await self._may_hold(others, wanted_names)
        indexes = await self._ready([*named, *needed])
        dpass = DependencyPass(snapshot, envs, imports, indexes, plan)
        names = dpass.variable_names(resolutions)
        found = await self.variables(root, names, snapshot)
        return await asyncio.to_thread(dpass.run, resolutions, found)

    async def _may_hold(self, packages: Sequence[Package], names: Sequence[str]) -> list[Package]:
        """The packages that have one of `names`, or a word close to one. A package's words
        are read once (in a thread) and kept; an indexed package answers from its index's
        words. What each package says of each name is kept too (an editor sends the same
        plan at every edit, and a fuzzy search of a package's thousands of words is ~2 ms):
        the names not asked before are settled in one thread for all packages."""
        if not names or not packages:
            return []
        words: dict[str, frozenset[str]] = {}
        for package in packages:
            built = self.peek(package)
            if built is not None:
                words[package.key] = built.words
                continue
            kept = self._vocab.get(package.key)
            if kept is None:
                kept, _ = await self._reading.run(package.key, partial(self._read_words, package))
            words[package.key] = kept
        held = {(k, n): v for k in words for n in names if (v := self._near.get((k, n))) is not None}
        ask = [(k, n) for k in words for n in names if (k, n) not in held]
        if ask:
            self.near_asked += len(ask)
            held.update(await asyncio.to_thread(_near_words, words, ask))
            self._near.update((key, v) for key, v in held.items())
        return [p for p in packages if any(held[(p.key, n)] for n in names)]

    async def _read_words(self, package: Package) -> frozenset[str]:
        files = await asyncio.to_thread(code_files, package)
        words = (await asyncio.to_thread(_words, package.root, files))[0]
        self.words_read += 1
        self._vocab[package.key] = words
        while len(self._vocab) > self.max_packages:
            self._vocab.popitem(last=False)
        return words

    async def _ready(self, packages: list[Package]) -> dict[str, PackageIndex]:
        """The indexes of `packages` that are ready within `wait` seconds (building the
        others goes on: the next request has them)."""
        out: dict[str, PackageIndex] = {}
        pending: dict[asyncio.Task[PackageIndex], Package] = {}
        for p in packages:
            hit = self.peek(p)
            if hit is not None:
                out[p.key] = hit
            elif p.key not in self._failed:
                pending[asyncio.ensure_future(self.index(p))] = p
        if pending:
            done, rest = await asyncio.wait(pending, timeout=self.wait)
            for t in done:
                if not t.cancelled() and t.exception() is None:
                    out[pending[t].key] = t.result()
            for t in rest:  # the build itself goes on (it belongs to the store)
                t.cancel()
            if rest:
                log.info("dependency index not ready in %.0fs: %s", self.wait,
                         ", ".join(pending[t].label for t in rest))  # fmt: skip
        return out

    async def describe(self, root: Path, snapshot: Snapshot | None = None) -> dict[str, Any]:
        """What `parallizer index SCOPE` prints: each environment, and the packages the
        project imports indexed now."""
        envs = await self.environments(root)
        indexed: list[PackageIndex] = []
        if snapshot is not None and envs:
            imports = await self.imports(root, snapshot)
            named, others = wanted(envs, imports, PlanText((), (), frozenset(), frozenset()),
                                   self.per_request)  # fmt: skip
            indexed = list((await self._ready([*named, *others])).values())
        return {
            "environments": [e.summary() for e in envs],
            "indexed": [
                {
                    "name": i.package.name,
                    "version": i.package.version,
                    "files": len(i.snapshot.files()),
                    "definitions": len(i.snapshot),
                    "build_ms": round(i.build_ms, 1),
                }
                for i in sorted(indexed, key=lambda i: i.package.name)
            ],
        }


MAX_OPEN_NAMES = 60
NEAR_WORDS = 80.0
"""A package whose words hold one this close to a name the plan writes is indexed for it."""
NEAR_KEPT = 50_000
"""(package, name) answers of `_near_words` kept (a few MB at most)."""


def _choose(
    envs: Sequence[Environment],
    imports: Imports,
    plan: PlanText,
    limit: int,
    resolutions: Sequence[Resolution],
) -> tuple[list[Package], list[Package], list[str]]:
    """The packages the plan names, the others the project imports (`wanted`), and the
    names a package of the others must hold to be read (`_unresolved`). Blocking."""
    named, others = wanted(envs, imports, plan, limit)
    return named, others, _unresolved(resolutions, plan.lines)


def _unresolved(resolutions: Sequence[Resolution], lines: Sequence[str]) -> list[str]:
    """The plan's names the project's own code leaves open (missing, a near name only, new;
    a distinctive one it makes no claim about, such as a variable's method), and the members
    of calls chained in its code: what a package imported but not named may hold."""
    out = set()
    for r in resolutions:
        if r.kind == "path":
            continue
        if r.verdict in (Verdict.missing, Verdict.wrong_name, Verdict.introduced):
            out.add(r.name)
        elif r.verdict in (Verdict.skipped, Verdict.known) and len(r.name) >= 6:
            out.add(r.name)
    for ch in chains(lines):
        out.update(name for name, _ in ch.members)
        if ch.root and not ch.members:
            out.add(ch.root)
    return sorted(n for n in out if len(n) >= 4)[:MAX_OPEN_NAMES]


def _near_words(
    words: dict[str, frozenset[str]], ask: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], bool]:
    """For each (package key, name): whether the package's words hold the name or one close
    to it. Blocking (a fuzzy search per name not found as it is)."""
    choices: dict[str, list[str]] = {}
    out = {}
    for key, name in ask:
        w = words[key]
        if name in w:
            out[(key, name)] = True
            continue
        listed = choices.get(key)
        if listed is None:
            listed = choices[key] = list(w)
        near = process.extractOne(name, listed, scorer=fuzz.ratio, score_cutoff=NEAR_WORDS)
        out[(key, name)] = near is not None
    return out


_WORD = re.compile(rb"[A-Za-z_$][\w$]*")
_COMMENTS = {
    "py": re.compile(rb"#[^\n]*|\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''"),
    "c": re.compile(rb"//[^\n]*|/\*[\s\S]*?\*/"),
}
_EXPORT_AS = re.compile(r"\b([A-Za-z_$][\w$]*)\s+as\s+([A-Za-z_$][\w$]*)")
_EXPORT_BLOCK = re.compile(r"export\s*\{([^}]*)\}", re.S)


def _words(root: Path, files: Sequence[str]) -> tuple[frozenset[str], dict[str, str]]:
    """Every identifier in the package's indexed files (a claim that it lacks a name holds
    only when the name is not even a word there), and its export aliases (`stringType as
    string`: `string` -> `stringType`). Blocking."""
    words: set[bytes] = set()
    aliases: dict[str, str] = {}
    total = 0
    for rel in files:
        try:
            data = (root / rel).read_bytes()
        except OSError:
            continue
        total += len(data)
        if total > WORDS_BYTES:
            break
        # comments and docstrings do not define a name (a changelog line that mentions one)
        comments = _COMMENTS["py" if rel.endswith((".py", ".pyi")) else "c"]
        words.update(_WORD.findall(comments.sub(b" ", data)))
        if rel.endswith((".ts", ".mts", ".cts", ".js", ".mjs", ".cjs")) and b"export" in data:
            text = data.decode("utf-8", errors="replace")
            for block in _EXPORT_BLOCK.findall(text):
                for inner, outer in _EXPORT_AS.findall(block):
                    aliases.setdefault(outer, inner)
    return frozenset(w.decode("ascii", errors="replace") for w in words), aliases
