"""Parallizer: reads a plan as it is written and surfaces cards, in parallel."""

__version__ = "0.1.0"  # pyproject.toml reads it from here
