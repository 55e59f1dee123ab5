"""Paths the plan names, checked against the scope's file list: does it exist, and if not,
which real paths are closest."""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz import fuzz, process

SUGGEST_CUTOFF = 60.0
CLOSE_SPREAD = 8.0  # suggestions scoring this far below the best are not worth showing


class FileIndex:
    """A file list indexed once: existence by basename, directories as a set, and "did you
    mean" by a C-level shortlist of close basenames (rapidfuzz.process) before the finer
    score, never a Python loop per file."""

    SHORTLIST = 25

    def __init__(self, files: Iterable[str]) -> None:
        self.by_base: dict[str, list[str]] = {}
        self.dirs: set[str] = set()
        self.stems: set[str] = set()
        """Every file's name without its suffix, and every directory's name: what a module
        may be called (`_termui_impl`, `utils`)."""
        for f in files:
            head, _, base = f.rpartition("/")
            self.by_base.setdefault(base, []).append(f)
            self.stems.add(base.rsplit(".", 1)[0])
            while head and head not in self.dirs:
                self.dirs.add(head)
                self.stems.add(head.rpartition("/")[2])
                head = head.rpartition("/")[0]

    def exists(self, path: str) -> bool:
        path = path.strip("/").removeprefix("./")
        base = path.rpartition("/")[2]
        if any(f == path or f.endswith("/" + path) for f in self.by_base.get(base, ())):
            return True
        return self.has_dir(path)  # a directory the plan names exists too

    def has_dir(self, path: str) -> bool:
        path = path.strip("/")
        return path in self.dirs or any(d.endswith("/" + path) for d in self.dirs)

    def closest(self, path: str, n: int = 3) -> list[str]:
        """Up to n files whose name is close, in a directory that is close."""
        base = path.rpartition("/")[2]
        near = process.extract(
            base, list(self.by_base), scorer=fuzz.ratio, limit=self.SHORTLIST,
            score_cutoff=SUGGEST_CUTOFF / 2,
        )  # fmt: skip
        scored = sorted(
            (
                (0.6 * score + 0.4 * fuzz.WRatio(path, f), f)
                for name, score, _ in near
                for f in self.by_base[name]
            ),
            key=lambda x: (-x[0], x[1]),
        )
        if not scored:
            return []
        floor = max(SUGGEST_CUTOFF, scored[0][0] - CLOSE_SPREAD)
        return [f for s, f in scored[:n] if s >= floor]
