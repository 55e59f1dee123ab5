"""A scope's file list kept with its persisted index, so that a restart over a tree that has
not changed does not list it again.

Listing a tree is a walk of every directory (`rg --files`: 0.3–0.4 s for the 50,700 files of
the standard library), while loading its persisted index takes about as long again. A file
added, removed or renamed changes the modification time of the directory that holds it, so
the list stands as long as every directory that held a listed file, and every ignore file
that shaped the list, has the time it had when the list was made (git's untracked cache rests
on the same fact). Checking that is one `stat` per directory: ~30 ms for those 8,700
directories.

The stamps are taken after the listing, so a directory changed while it was being listed
could carry a time that already includes a change the listing missed. A list whose newest
directory changed within `RACY_NS` of the listing's start is therefore not kept ("racy",
as git calls it): the next start lists again.

What this does not see, and the next listing (a background update of the server, or the
next start) does: a file added to a directory that held no listed file and sits below
another such directory (an empty tree made earlier), an ignore file edited in place in a
directory above the scope, a file crossing rg's size limit. A server re-lists in the
background anyway; the kept list only spares the first wait.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterable, Sequence

from ..backends.base import Partition

IGNORE_FILES = (".gitignore", ".ignore", ".rgignore")
RACY_NS = 2_000_000_000
"""A directory changed this close to the listing's start may hold a change it missed."""

Stamps = list[tuple[str, int]]
"""(path relative to the root, or absolute for a directory above it; st_mtime_ns, or -1 for
a file that was absent)."""


def directories(files: Iterable[str]) -> set[str]:
    """Every directory that holds a listed file, and their parents up to the root ("")."""
    dirs: set[str] = {""}
    for f in files:
        d = os.path.dirname(f)
        while d not in dirs:
            dirs.add(d)
            d = os.path.dirname(d)
    return dirs


def mtime(path: str) -> int:
    """A file's st_mtime_ns, or -1 when it is absent (or cannot be stat'ed): one stamp."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def stamp(root: str, files: Sequence[str], listed_at_ns: int) -> Stamps | None:
    """The stamps that keep `files` (listed under `root`, the listing started at wall time
    `listed_at_ns`), or None when the list cannot be kept (a directory vanished, or changed
    too close to the listing: racy)."""
    out: Stamps = []
    newest = 0
    for d in sorted(directories(files)):
        full = os.path.join(root, d) if d else root
        m = mtime(full)
        if m < 0:
            return None
        newest = max(newest, m)
        out.append((d, m))
        for name in IGNORE_FILES:
            ig = os.path.join(full, name)
            if (mi := mtime(ig)) >= 0:
                newest = max(newest, mi)
                out.append((os.path.join(d, name), mi))
    out += _above(root)
    if newest >= listed_at_ns - RACY_NS:
        return None
    return out


def _above(root: str) -> Stamps:
    """The ignore files above the scope (rg reads them up to the file system's root) and git's
    exclude files; absent ones are kept as absent, so one made later is noticed."""
    out: Stamps = []
    parent = os.path.dirname(root)
    while True:
        for name in IGNORE_FILES:
            out.append((os.path.join(parent, name), mtime(os.path.join(parent, name))))
        git_exclude = os.path.join(parent, ".git", "info", "exclude")
        out.append((git_exclude, mtime(git_exclude)))
        up = os.path.dirname(parent)
        if up == parent:
            break
        parent = up
    git_exclude = os.path.join(root, ".git", "info", "exclude")
    out.append((".git/info/exclude", mtime(git_exclude)))
    return out


def partition_stamps(root: str, partition: Partition) -> Stamps:
    """What keeps `partition` right: the ignore files (absent ones too) of every directory
    above its shards' directories, in the scope and above it. While they stand, each of those
    directories is one rg searches (a directory a shard names is searched even if ignored;
    its own ignore files apply inside it, so they need not be stamped)."""
    above: set[str] = set()
    for d in (d for shard in partition.shards for d in shard):
        while d:
            d = os.path.dirname(d)
            above.add(d)
    out: Stamps = [
        (os.path.join(d, name), mtime(os.path.join(root, d, name)))
        for d in sorted(above)
        for name in IGNORE_FILES
    ]
    return out + _above(root)


def unchanged(root: str, stamps: Stamps) -> bool:
    """Whether every stamp still holds (the kept list is what a listing would give now)."""
    for path, kept in stamps:
        full = path if os.path.isabs(path) else (os.path.join(root, path) if path else root)
        if mtime(full) != kept:
            return False
    return True


MIN_SHARDED = 2_000
"""Trees with fewer files are searched by one rg process (a second one costs more than it
saves)."""
_MAX_DEPTH = 4


def partition(files: Sequence[str], ways: int, *, min_files: int = MIN_SHARDED) -> Partition | None:
    """A partition of the scope `files` (sorted by string) lists into `ways` parts of about
    as many files each, or None when the tree is too small or has no directory to split off.

    A directory holding more than a (2 × `ways`)th of the files is split into its
    subdirectories (down to `_MAX_DEPTH` levels), so no unit is too big to balance; units
    are dealt to the lightest part, biggest first; the files that sit directly in the root
    or in a split directory, and units too small to be worth a glob, stay in the rest (part
    0, the root searched with the others excluded)."""
    if ways < 2 or len(files) < min_files:
        return None
    total = len(files)
    too_big = total / (2 * ways)
    too_small = total / (40 * ways)
    rest = 0
    units: list[tuple[int, str]] = []

    def split(prefix: str, lo: int, hi: int, depth: int) -> None:
        nonlocal rest
        i = lo
        while i < hi:
            slash = files[i].find("/", len(prefix))
            if slash < 0:  # a file directly in `prefix`
                rest += 1
                i += 1
                continue
            d = files[i][: slash + 1]
            j = bisect.bisect_left(files, d + "\U0010ffff", i, hi)
            n = j - i
            if n > too_big and depth < _MAX_DEPTH:
                split(d, i, j, depth + 1)
            elif n >= too_small:
                units.append((n, d[:-1]))
            else:
                rest += n
            i = j

    split("", 0, total, 1)
    bins: list[tuple[int, list[str]]] = [(rest, [])]
    bins += [(0, []) for _ in range(ways - 1)]
    for n, d in sorted(units, reverse=True):
        k = min(range(ways), key=lambda b: bins[b][0])
        bins[k] = (bins[k][0] + n, [*bins[k][1], d])
    shards = tuple(tuple(sorted(dirs)) for _, dirs in bins[1:] if dirs)
    return Partition(shards) if shards else None
