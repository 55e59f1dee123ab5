"""What every language's extractor shares: the raw definition record and its sink."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tree_sitter import Node

RawDef = tuple[str, str, str | None, str, int, int, int]
"""(name, qualname, owner, kind, line, min params, max params); min -1: not callable,
max -1: unbounded. Plain tuples: they cross a process boundary by pickle."""

NOT_CALLABLE = (-1, -1)


_current = threading.local()
"""The source being extracted in this thread. A tree parsed from a read callback (so a
parse can be cut short) holds no text, and asking it for a node's text re-reads the file
through the callback: the extractors slice the source instead."""


@contextmanager
def source(data: bytes) -> Iterator[None]:
    previous = getattr(_current, "data", None)
    _current.data = data
    try:
        yield
    finally:
        _current.data = previous


def text(node: Node | None) -> str:
    if node is None:
        return ""
    return _current.data[node.start_byte : node.end_byte].decode("utf-8", errors="replace")


class Sink:
    """Collects the definitions of one file."""

    __slots__ = ("defs", "language")

    def __init__(self) -> None:
        self.defs: list[RawDef] = []
        self.language: str | None = None
        """Set by an extractor that learns the file's language (a C++ `.h` file)."""

    def add(
        self,
        name: str | Node,
        line_of: Node,
        kind: str,
        owners: tuple[str, ...] = (),
        params: tuple[int, int | None] | None = None,
    ) -> str:
        """Record one definition; `owners` is the chain of enclosing names. Returns the
        qualified name."""
        name = text(name) if isinstance(name, Node) else name
        if not name:
            return ""
        qual = ".".join((*owners, name)) if owners else name
        lo, hi = (
            NOT_CALLABLE if params is None else (params[0], -1 if params[1] is None else params[1])
        )
        self.defs.append(
            (name, qual, owners[-1] if owners else None, kind, line_of.start_point[0] + 1, lo, hi)
        )
        return qual


def named_children(node: Node | None) -> list[Node]:
    return node.named_children if node is not None else []
