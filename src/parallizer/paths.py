"""`scope_root` and `plan_path` must resolve, symlinks followed, inside an allowed root."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .errors import BadInput, PathNotAllowed


def resolve_inside(
    raw: str | Path,
    roots: Sequence[Path],
    *,
    what: str,
    kind: str = "any",
) -> Path:
    """Resolve `raw` (following every symlink) and require it inside one of `roots`.

    kind: "dir" or "file" also require that it exists as that. Raises `PathNotAllowed`
    (403) when outside, `BadInput` (422) when malformed or of the wrong kind. Messages name
    the field, not the resolved target, so they leak nothing about the server's tree.
    """
    text = str(raw)
    if not text.strip() or "\x00" in text:
        raise BadInput(f"{what} is empty or malformed")
    path = Path(text)  # no `~` expansion: a client names paths on the server as they are
    if not path.is_absolute():
        raise BadInput(f"{what} must be an absolute path")
    try:
        resolved = path.resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # symlink loops and the like
        raise BadInput(f"{what} cannot be resolved") from exc
    if not any(resolved == r or resolved.is_relative_to(r) for r in roots):
        raise PathNotAllowed(f"{what} is outside the allowed roots")
    try:
        if kind == "dir" and not resolved.is_dir():
            raise BadInput(f"{what} is not a directory")
        if kind == "file" and not resolved.is_file():
            raise BadInput(f"{what} is not a file")
    except OSError as exc:  # a name too long, no permission to look
        raise BadInput(f"{what} cannot be accessed ({exc.strerror or 'error'})") from exc
    return resolved


def project_root(path: Path) -> Path:
    """The default scope of a plan: the top of the git work tree holding `path` (a `.git`
    directory, or the `.git` file of a worktree or submodule), else the plan's directory."""
    start = path if path.is_dir() else path.parent
    start = start.absolute()
    for d in (start, *start.parents):
        if (d / ".git").exists():
            return d
    return start
