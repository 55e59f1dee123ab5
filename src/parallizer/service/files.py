"""The files API's work: list a tree, read a file, save a file, all inside a scope.

Every function here is blocking (it touches the file system) and is meant to run in a
thread (`asyncio.to_thread`). Confinement: the scope must resolve (symlinks followed) inside
an allowed root, and every path named by the client must resolve inside the scope, so a
`..` or a symbolic link never leads out. Saves are atomic: a temporary file in the target's
own directory, flushed, given the old file's mode, then renamed over it (`os.replace`).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..config import resolve_inside
from ..errors import BadInput, DocumentTooLarge


class NotText(BadInput):
    """A binary or non-UTF-8 file: the editor cannot show it as text."""

    status = 415


class NotFound(BadInput):
    status = 404


class Conflict(BadInput):
    """The path names something that cannot be replaced by a file (a directory)."""

    status = 409


#: names never listed in a tree (besides every hidden name, starting with ".")
SKIPPED_NAMES = frozenset(
    {
        "node_modules", "__pycache__", "venv", "env", "virtualenv", "build", "dist", "target",
        "out", "coverage", "htmlcov", "site-packages", "bower_components",
    }
)  # fmt: skip
SKIPPED_SUFFIXES = (".egg-info", ".pyc", ".pyo")
#: at most this many nodes in one tree answer (a whole home directory stays bounded)
MAX_TREE_NODES = 20_000

# --- confinement -----------------------------------------------------------------------------


def scope_dir(scope_root: str, roots: Sequence[Path]) -> Path:
    """The scope, resolved: an existing directory inside an allowed root (403/422)."""
    return resolve_inside(scope_root, roots, what="scope_root", kind="dir")


def inside_scope(raw: str, scope: Path) -> Path:
    """A client-named path, absolute or relative to the scope, resolved (every symlink
    followed) and required inside the scope: 403 when it leads out."""
    text = str(raw)
    if not text.strip() or "\x00" in text:
        raise BadInput("path is empty or malformed")
    path = Path(text)
    if not path.is_absolute():
        path = scope / path
    return resolve_inside(path, [scope], what="path")


# --- the tree --------------------------------------------------------------------------------


@dataclass
class Node:
    name: str
    path: str
    type: str  # "file" | "directory"
    children: list[Node] | None = field(default=None)

    def to_wire(self) -> dict[str, object]:
        out: dict[str, object] = {"name": self.name, "path": self.path, "type": self.type}
        if self.type == "directory":
            out["children"] = (
                None if self.children is None else [c.to_wire() for c in self.children]
            )
        return out


def skipped(entry: os.DirEntry[str]) -> bool:
    """Hidden files, VCS and dependency folders, virtualenvs and build output."""
    name = entry.name
    if name.startswith(".") or name in SKIPPED_NAMES or name.endswith(SKIPPED_SUFFIXES):
        return True
    # a virtualenv under any name holds a pyvenv.cfg
    with contextlib.suppress(OSError):
        if entry.is_dir(follow_symlinks=False) and os.path.exists(
            os.path.join(entry.path, "pyvenv.cfg")
        ):
            return True
    return False


def tree(scope: Path, max_depth: int) -> Node:
    """The scope's tree to `max_depth` levels below it: directories first, then files, each
    by name (case folded). A symbolic link is listed when it resolves inside the scope and
    never descended into (no loops, no way out). Directories past `max_depth` have
    `children: null` (not read)."""
    budget = [MAX_TREE_NODES]

    def walk(directory: Path, depth: int) -> list[Node] | None:
        if depth >= max_depth:
            return None
        try:
            with os.scandir(directory) as it:
                entries = [e for e in it if not skipped(e)]
        except OSError:  # no permission, vanished: shown as an unreadable (empty) folder
            return []
        listed: list[tuple[bool, str, os.DirEntry[str]]] = []
        for e in entries:
            try:
                if e.is_symlink():
                    target = Path(e.path).resolve()
                    if not target.is_relative_to(scope):
                        continue  # a link out of the scope is not shown
                    is_dir = target.is_dir()
                else:
                    is_dir = e.is_dir(follow_symlinks=False)
            except (OSError, RuntimeError):
                continue
            listed.append((not is_dir, e.name.casefold(), e))
        listed.sort(key=lambda t: (t[0], t[1]))
        nodes: list[Node] = []
        for is_file, _, e in listed:
            if budget[0] <= 0:
                break
            budget[0] -= 1
            if is_file:
                nodes.append(Node(e.name, e.path, "file"))
            else:
                kids = None if e.is_symlink() else walk(Path(e.path), depth + 1)
                nodes.append(Node(e.name, e.path, "directory", kids))
        return nodes

    return Node(scope.name or str(scope), str(scope), "directory", walk(scope, 0))


# --- reading ---------------------------------------------------------------------------------


def read_text(path: Path, limit: int) -> str:
    """A regular file's text: 413 over `limit` bytes, 415 when binary or not UTF-8, 404 when
    missing, 422 when not a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise NotFound("path does not exist") from None
    except OSError as exc:
        raise BadInput(f"path cannot be opened ({exc.strerror or 'error'})") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BadInput("path is not a regular file")
        if st.st_size > limit:
            raise DocumentTooLarge(f"the file is {st.st_size} bytes, over the limit of {limit}")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise BadInput(f"path cannot be read ({exc.strerror or 'error'})") from exc
    finally:
        os.close(fd)
    if len(data) > limit:  # grew while we read it
        raise DocumentTooLarge(f"the file is over the limit of {limit} bytes")
    if b"\x00" in data:
        raise NotText("the file is binary, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotText("the file is not UTF-8 text") from None


# --- saving ----------------------------------------------------------------------------------


def save_text(path: Path, scope: Path, content: str, limit: int) -> int:
    """Write `content` to `path` atomically; returns the bytes written.

    Parent folders are created (inside the scope: `path` is already confined); an existing
    file keeps its mode; a directory is never replaced (409)."""
    try:
        data = content.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput("content is not valid Unicode text (a lone surrogate)") from None
    if len(data) > limit:
        raise DocumentTooLarge(f"content is {len(data)} bytes, over the limit of {limit}")
    if path == scope:
        raise Conflict("path is the scope directory itself")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise Conflict("a parent of path is a file, not a directory") from None
    except OSError as exc:
        raise BadInput(f"cannot create the parent folder ({exc.strerror or 'error'})") from exc
    # mkdir followed no link out: re-check the parent, now that it exists
    try:
        inside = parent.resolve().is_relative_to(scope)
    except (OSError, RuntimeError) as exc:
        raise BadInput("the parent folder cannot be resolved") from exc
    if not inside:
        raise BadInput("path changed while saving")
    try:
        old = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        old = None
    except OSError as exc:
        raise BadInput(f"path cannot be accessed ({exc.strerror or 'error'})") from exc
    if old is not None and stat.S_ISDIR(old.st_mode):
        raise Conflict("path is a directory; refusing to replace it with a file")
    if old is not None and not stat.S_ISREG(old.st_mode):
        raise Conflict("path is not a regular file")
    mode = stat.S_IMODE(old.st_mode) if old is not None else _default_mode()
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise BadInput(f"cannot write in the folder ({exc.strerror or 'error'})") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise BadInput(f"cannot save the file ({exc.strerror or 'error'})") from exc
        raise
    return len(data)


def _default_mode() -> int:
    """What `open()` would give a new file: 0o666 less the process umask (read from /proc:
    setting the umask to read it would race with other threads creating files)."""
    mask = 0o022
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                mask = int(line.split()[1], 8)
    return 0o666 & ~mask
