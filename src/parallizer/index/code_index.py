"""`CodeIndex`: an immutable snapshot of one scope's definitions, with dict lookups."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process, utils

from .model import ROLE_RANK, Definition, fold


def _order(d: Definition) -> tuple[int, str, int]:
    return ROLE_RANK[d.role], d.path, d.line


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


class CodeIndex:
    """Definitions of one scope. Immutable, so one snapshot is shared by every request."""

    def __init__(
        self,
        root: Path,
        files: Sequence[str],
        definitions: Iterable[Definition],
        build: BuildStats,
    ) -> None:
        self.root = root
        self.build = build
        self._files = tuple(files)  # sorted
        self._fileset = frozenset(self._files)
        by_name: dict[str, list[Definition]] = {}
        by_qual: dict[str, list[Definition]] = {}
        by_fold: dict[str, list[Definition]] = {}
        by_owner: dict[str, list[Definition]] = {}
        roles: Counter[str] = Counter()
        langs: Counter[str] = Counter()
        count = 0
        for d in definitions:
            count += 1
            by_name.setdefault(d.name, []).append(d)
            by_qual.setdefault(d.qualname, []).append(d)
            key = fold(d.name)
            by_fold.setdefault(key, []).append(d)
            if d.owner is not None:
                qkey = fold(d.qualname)
                if qkey != key:
                    by_fold.setdefault(qkey, []).append(d)
                by_owner.setdefault(d.owner, []).append(d)
            langs[d.language] += 1
            roles[f"{d.language}/{d.role.value}"] += 1
        for table in (by_name, by_qual, by_fold):
            for defs in table.values():
                if len(defs) > 1:
                    defs.sort(key=_order)
        for defs in by_owner.values():
            defs.sort(key=lambda d: (d.path, d.line))
        self._by_name = by_name
        self._by_qual = by_qual
        self._by_fold = by_fold
        self._by_owner = by_owner
        self._names = list(by_name)
        self._langs = langs
        self._roles = roles
        self._count = count

    @property
    def build_ms(self) -> float:
        return self.build.build_ms

    def __len__(self) -> int:
        return self._count

    def files(self) -> Sequence[str]:
        """Relative posix paths of every file rg lists in the scope, sorted."""
        return self._files

    def has_file(self, relpath: str) -> bool:
        return relpath.removeprefix("./") in self._fileset

    def files_under(self, prefix: str) -> Sequence[str]:
        """Files whose path starts with `prefix` (a directory ends with `/`)."""
        lo = bisect.bisect_left(self._files, prefix)
        hi = bisect.bisect_left(self._files, prefix + "\U0010ffff")
        return self._files[lo:hi]

    def definitions(self) -> Iterable[Definition]:
        for defs in self._by_name.values():
            yield from defs

    def lookup(self, name: str) -> list[Definition]:
        """Definitions named exactly `name`: source first, then test, docs, stub, vendored,
        generated; by path and line within a role."""
        return list(self._by_name.get(name, ()))

    def qualified(self, qualname: str) -> list[Definition]:
        """Definitions with exactly this qualified name (`Client.send`, `HiArgs.new`)."""
        return list(self._by_qual.get(qualname, ()))

    def folded(self, name: str) -> list[Definition]:
        """Definitions whose name (or qualified name) folds like `name`: `HttpTransport`
        finds `HTTPTransport`, `retry_policy` finds `RetryPolicy`."""
        return list(self._by_fold.get(fold(name), ()))

    def near(self, name: str, limit: int = 5, cutoff: float = 80) -> list[tuple[Definition, float]]:
        """Names like `name` by edit distance (rapidfuzz ratio, case-insensitive), best
        first: one entry per distinct name (its first definition in lookup order; `lookup`
        gives the others). The name itself is not in the answer."""
        if not name or not self._names:
            return []
        hits = process.extract(
            name,
            self._names,
            scorer=fuzz.ratio,
            processor=utils.default_process,
            limit=limit + 1,
            score_cutoff=cutoff,
        )
        out = [(self._by_name[hit][0], float(score)) for hit, score, _ in hits if hit != name]
        return out[:limit]

    def members(self, owner: str) -> list[Definition]:
        """Definitions whose owner is `owner` (a class's methods and fields, an impl's
        functions, a Go type's methods), by path and line."""
        return list(self._by_owner.get(owner, ()))

    def languages(self) -> Counter[str]:
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
            "definitions": self._count,
            "names": len(self._names),
            "languages": dict(sorted(self._langs.items())),
            "roles": dict(sorted(self._roles.items())),
            "skipped": dict(sorted(b.skipped.items())),
            "parse_errors": b.parse_errors,
            "error_samples": list(b.error_samples),
            "partial": b.partial,
            "partial_reasons": list(b.partial_reasons),
            "build_ms": round(b.build_ms, 1),
            "list_ms": round(b.list_ms, 1),
        }
