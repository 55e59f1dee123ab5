"""Helpers shared by the sub-commands."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from ..config import Settings, load_settings, resolve_inside
from ..errors import BadInput, PathNotAllowed
from ..logs import setup_logging
from .root import fail


def load_settings_or_fail(**overrides: object) -> Settings:
    """Settings from the environment, logging set up; a bad variable is one line, exit 2."""
    try:
        settings = load_settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "configuration"
        raise fail(f"bad configuration {where.upper()}: {err['msg']}") from exc
    setup_logging(settings.log_level, settings.log_format, settings.secrets())
    return settings


def resolve_scope(settings: Settings, scope: Path | None, *, what: str = "--scope") -> Path:
    """A scope directory (default: cwd) resolved inside the allowed roots, or one line why not."""
    roots = settings.allowed_root_paths
    scope_dir = (scope or Path.cwd()).absolute()  # the shell has expanded any `~`
    try:
        return resolve_inside(scope_dir, roots, what=f"{what} {scope_dir}", kind="dir")
    except PathNotAllowed as exc:
        raise fail(f"{exc} ({', '.join(map(str, roots))}; set PARALLIZER_ALLOWED_ROOTS)") from exc
    except BadInput as exc:
        raise fail(str(exc)) from exc
