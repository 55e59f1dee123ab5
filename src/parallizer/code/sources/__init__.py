"""Where a project's dependencies are: one module per ecosystem, registered here.

A source finds, for a scope, what the project really has installed at the versions it has
(`Package`), and what it declares and locks (`Environment`); `discover(scope, options)` asks
every registered source. A new ecosystem is one module with a `SOURCE` and one line in
`SOURCES`.
"""

from __future__ import annotations

from pathlib import Path

from . import go, java, javascript, python, rust
from .base import Environment, Options, Package, Source, normalise, stamps_changed

SOURCES: tuple[Source, ...] = (
    python.SOURCE,
    javascript.SOURCE,
    go.SOURCE,
    rust.SOURCE,
    java.SOURCE,
)

BY_ECOSYSTEM: dict[str, Source] = {s.ecosystem: s for s in SOURCES}


def discover(scope: Path, options: Options) -> list[Environment]:
    """Every ecosystem's environment of `scope` (blocking: a thread's work)."""
    out = []
    for source in SOURCES:
        env = source.discover(scope, options)
        if env is not None:
            out.append(env)
    return out


def code_files(package: Package) -> list[str]:
    """The files of `package` worth indexing (blocking)."""
    return BY_ECOSYSTEM[package.ecosystem].code_files(package)


__all__ = [
    "BY_ECOSYSTEM",
    "SOURCES",
    "Environment",
    "Options",
    "Package",
    "Source",
    "code_files",
    "discover",
    "normalise",
    "stamps_changed",
]
