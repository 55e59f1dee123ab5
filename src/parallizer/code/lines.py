"""Lines of a scope's files, read on demand and kept while the files stay the same.

Every request's cards cite the same few files (definitions, snippets, citation checks), so a
snapshot keeps the lines of the files read recently, each checked against its inode, size and
mtime before it is reused. Blocking reads: callers run them off the event loop.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

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
