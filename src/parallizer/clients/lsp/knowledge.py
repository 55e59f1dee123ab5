"""What the Language Server asks of the code: the ONE place it touches the code index, name
resolution and file reading, so that moving those modules changes only this file.

Findings never come from here: they come from `Orchestrator.review`. This answers the
editor's own questions about a name or path under the cursor (hover, go to definition,
links, completion) from the scope's index snapshot, and reads short snippets of code.
"""

from __future__ import annotations

import asyncio
import bisect
import weakref
from dataclasses import dataclass
from pathlib import Path

from ...code import Definition, NameUse, Resolver, Role, Verdict
from ...code import Snapshot as CodeIndex
from ...runtime import Runtime

SNIPPET_LINES = 3
MAX_COMPLETIONS = 50

# verdicts whose `definitions` are where the name is defined
_DEFINED = frozenset({Verdict.found, Verdict.ambiguous, Verdict.arity, Verdict.wrong_owner})


@dataclass(frozen=True, slots=True)
class Place:
    """One definition of a name, as the editor shows it."""

    kind: str
    qualname: str
    path: str
    """Relative to the scope, posix."""
    line: int
    """1-based."""
    language: str = ""

    @property
    def citation(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class Name:
    """A completion candidate: a name the scope's own code defines."""

    name: str
    kind: str
    qualname: str
    citation: str


def _place(d: Definition) -> Place:
    return Place(d.kind, d.qualname, d.path, d.line, d.language)


class Knowledge:
    """The code index of each scope, through the process's one `Runtime`."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._resolvers: weakref.WeakKeyDictionary[CodeIndex, Resolver] = (
            weakref.WeakKeyDictionary()
        )
        self._names: weakref.WeakKeyDictionary[CodeIndex, tuple[list[str], list[Name]]] = (
            weakref.WeakKeyDictionary()
        )

    # --- snapshots ----------------------------------------------------------------------

    def indexed(self, root: Path) -> bool:
        """Is a snapshot of `root` built (so asking for it costs nothing)?"""
        return self.runtime.code.peek(root) is not None

    async def snapshot(self, root: Path) -> CodeIndex:
        """The scope's index: built on first use (waits), then the current snapshot."""
        return await self.runtime.code.snapshot(root)

    async def refresh(self, root: Path) -> CodeIndex:
        """An update that starts now: after the code changed on disk."""
        return await self.runtime.code.snapshot(root, fresh=True)

    @staticmethod
    def describe(index: CodeIndex) -> str:
        s = index.stats()
        return f"{s['files']} files, {s['definitions']} definitions"

    # --- names and paths ----------------------------------------------------------------

    def _resolver(self, index: CodeIndex) -> Resolver:
        r = self._resolvers.get(index)
        if r is None:
            r = self._resolvers[index] = Resolver(index)
        return r

    def definitions(self, index: CodeIndex, text: str, *, args: int | None = None) -> list[Place]:
        """Where the name `text` (`RetryPolicy`, `Client.send`, `HiArgs::new`) is defined, as
        the plan's resolution reads it: every place when it is defined in several."""
        resolution = self._resolver(index).resolve(NameUse.of(text, args=args))
        if resolution.verdict not in _DEFINED:
            return []
        return [_place(d) for d in resolution.definitions]

    @staticmethod
    def has_file(index: CodeIndex, relpath: str) -> bool:
        return index.has_file(relpath.removeprefix("./").lstrip("/"))

    async def snippets(
        self, root: Path, places: list[tuple[str, int]], span: int = SNIPPET_LINES - 1
    ) -> dict[tuple[str, int], str]:
        """The lines at each (path, 1-based line) and `span` after it (read in a thread)."""
        snap = self.runtime.code.peek(root)
        if not places or snap is None:
            return {}
        return await asyncio.to_thread(snap.lines.read, set(places), span)

    def _name_table(self, index: CodeIndex) -> tuple[list[str], list[Name]]:
        table = self._names.get(index)
        if table is None:
            best: dict[str, Name] = {}
            for d in index.definitions():
                if d.role is not Role.source or d.name in best or len(d.name) < 2:
                    continue
                best[d.name] = Name(d.name, d.kind, d.qualname, d.citation)
            names = sorted(best.values(), key=lambda n: n.name)
            table = self._names[index] = ([n.name for n in names], names)
        return table

    async def complete(
        self, index: CodeIndex, prefix: str, limit: int = MAX_COMPLETIONS
    ) -> list[Name]:
        """Names of the scope's own code that start with `prefix` (case-sensitive), shortest
        first. The table is made once per snapshot, in a thread."""
        if self._names.get(index) is None:
            await asyncio.to_thread(self._name_table, index)
        keys, names = self._name_table(index)
        lo = bisect.bisect_left(keys, prefix)
        hi = bisect.bisect_left(keys, prefix + "\U0010ffff")
        hits = [n for n in names[lo:hi] if n.name != prefix]
        return sorted(hits, key=lambda n: (len(n.name), n.name))[:limit]

    @staticmethod
    def files_starting(index: CodeIndex, prefix: str, limit: int = MAX_COMPLETIONS) -> list[str]:
        return list(index.files_under(prefix)[:limit])
