"""Helpers shared by the sub-commands."""

from __future__ import annotations

from pydantic import ValidationError

from ..config import Settings, load_settings
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
