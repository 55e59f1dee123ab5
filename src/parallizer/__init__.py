"""Parallizer: reads a plan as it is written and surfaces cards, in parallel."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("parallizer")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"
