"""Backend protocols and their result types.

A backend does one kind of I/O (run ripgrep, call a web search API) and raises
`BackendError` with a kind and a user-safe reason when it fails; the fan-out turns that
into a failed `Outcome`. Each backend owns a process-wide `Limiter` so every user's
queries share its budget. A new backend is one file implementing one of these protocols.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from ..limits import ConcurrencyLimit


class Availability(BaseModel):
    available: bool
    reason: str = ""

    @classmethod
    def yes(cls, reason: str = "") -> Availability:
        return cls(available=True, reason=reason)

    @classmethod
    def no(cls, reason: str) -> Availability:
        return cls(available=False, reason=reason)


# --- code search ---------------------------------------------------------------------------

MatchMode = Literal["word", "literal", "regex"]


class CodeQuery(BaseModel):
    """One code search. `word`: a literal bounded by word edges (identifiers); `literal`: a
    fixed string anywhere (phrases, paths); `regex`: a Rust-regex (linear time, size-capped)."""

    model_config = ConfigDict(frozen=True)

    pattern: str = Field(min_length=1, max_length=1000)
    mode: MatchMode = "word"
    ignore_case: bool = False
    context: int = Field(default=2, ge=0, le=10)
    max_results: int = Field(default=50, ge=1, le=10_000)
    max_per_file: int = Field(default=10, ge=1, le=10_000)
    globs: tuple[str, ...] = ()


class ContextLine(BaseModel):
    line: int
    text: str


class CodeMatch(BaseModel):
    path: str = Field(description="relative to the search root, '/'-separated")
    line: int = Field(description="1-based")
    text: str
    submatches: list[str] = Field(default_factory=list)
    before: list[ContextLine] = Field(default_factory=list)
    after: list[ContextLine] = Field(default_factory=list)

    @property
    def citation(self) -> str:
        return f"{self.path}:{self.line}"


class CodeSearchResult(BaseModel):
    query: CodeQuery
    matches: list[CodeMatch] = Field(default_factory=list)
    truncated: bool = Field(default=False, description="stopped at max_results")
    warnings: list[str] = Field(default_factory=list)
    shared_run: bool = Field(
        default=False, description="found by one rg pass shared with other queries"
    )

    def __len__(self) -> int:
        return len(self.matches)

    @property
    def files(self) -> list[str]:
        return list(dict.fromkeys(m.path for m in self.matches))


@dataclass(frozen=True, slots=True)
class Partition:
    """Disjoint parts of a scope, each searched by an rg process of its own.

    rg walks a tree with one thread when it sorts its output by path (`--sort=path`, what
    makes results and caps the same on every run), so one pass over a big tree uses one core.
    A pass split into parts uses as many, and gives the same results: each part is sorted and
    capped on its own, then the parts are merged by path and capped again.

    `shards[i]`: directories (relative to the scope, '/'-separated) searched whole by process
    i + 1; process 0 searches the rest: the scope with those directories excluded, so a
    directory made after the partition, or one with a name a glob cannot say, is never lost.
    """

    shards: tuple[tuple[str, ...], ...]


class Partitions:
    """The current `Partition` of each scope (the code index sets it with every snapshot of a
    big enough tree; the rg backend reads it). `ways`: how many processes a pass may use.
    `load`: where a scope not seen yet may have one kept (`IndexStore.kept_partition`, run
    in a thread, once per scope), so a process that has not loaded its index splits its
    first pass too."""

    def __init__(
        self, ways: int | None = None, *, load: Callable[[Path], Partition | None] | None = None
    ) -> None:
        self.ways = ways if ways is not None else min(8, os.cpu_count() or 1)
        self._load = load
        self._by_root: dict[str, Partition | None] = {}

    async def get(self, root: Path) -> Partition | None:
        key = str(root)
        if key in self._by_root or self._load is None:
            return self._by_root.get(key)
        if len(self._by_root) >= 256:  # roots that had none (a dependency's, say)
            self._by_root = {k: v for k, v in self._by_root.items() if v is not None}
        self._by_root[key] = None  # asked once
        kept = await asyncio.to_thread(self._load, root)
        if key in self._by_root and self._by_root[key] is None:  # not put meanwhile
            self._by_root[key] = kept
        return self._by_root.get(key)

    def put(self, root: Path, partition: Partition | None) -> None:
        self._by_root[str(root)] = partition


class _Backend(Protocol):
    """What the fan-out reads of any backend (read-only: a backend may hold a narrower limit,
    an AdaptiveLimiter)."""

    @property
    def name(self) -> str: ...

    @property
    def limiter(self) -> ConcurrencyLimit: ...

    @property
    def timeout(self) -> float: ...


@runtime_checkable
class CodeBackend(_Backend, Protocol):
    def availability(self) -> Availability: ...

    async def search(self, query: CodeQuery, root: Path) -> CodeSearchResult: ...

    async def list_files(self, root: Path, *, max_files: int = 20_000) -> list[str]: ...


# --- web search ----------------------------------------------------------------------------


class WebSource(BaseModel):
    url: str
    title: str | None = None
    snippet: str | None = None


class WebResult(BaseModel):
    query: str
    answer: str = ""
    sources: list[WebSource] = Field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sources)


@runtime_checkable
class WebBackend(_Backend, Protocol):
    def availability(self) -> Availability: ...

    async def search(self, query: str) -> WebResult: ...

    async def aclose(self) -> None: ...
