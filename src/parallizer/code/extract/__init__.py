"""Definitions of one file's source, per language, by walking its tree-sitter syntax tree.

Each language module walks only the places definitions live (module level, class and impl
bodies, namespaces, `#if` blocks), not function bodies, so a walk costs a small fraction of
the parse. A syntax error leaves a partial tree: whatever parsed is still extracted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import cache

from tree_sitter import Node, Parser

from . import base
from .base import NOT_CALLABLE, RawDef, Sink

Extractor = Callable[[Node, Sink], None]


@cache
def _extractor(language: str) -> Extractor:
    if language == "python":
        from .python import extract
    elif language in ("javascript", "typescript"):
        from .javascript import extract
    elif language == "rust":
        from .rust import extract
    elif language == "go":
        from .go import extract
    elif language == "java":
        from .java import extract
    elif language in ("c", "cpp"):
        from .cfamily import extract
    else:  # pragma: no cover - files.py only names the languages above
        raise ValueError(f"no extractor for {language}")
    return extract


_threads = threading.local()


def parser(grammar: str) -> Parser:
    """This thread's parser of `grammar`: a tree-sitter `Parser` is not safe to use from two
    threads at once (two builds parsing in threads, each a few packages, crashed in C)."""
    parsers: dict[str, Parser] | None = getattr(_threads, "parsers", None)
    if parsers is None:
        parsers = _threads.parsers = {}
    p = parsers.get(grammar)
    if p is None:
        from tree_sitter_language_pack import get_parser

        p = parsers[grammar] = get_parser(grammar)  # type: ignore[arg-type]
    return p


PARSE_SECONDS = 2.0
"""Parse time allowed per file. Some grammars are slow on odd input (tree-sitter-python
takes a second for a function followed by two thousand comment lines): past the limit the
parser is told the file ends there, and what it read is extracted."""
CHUNK = 16384


def extract(
    source: bytes, language: str, grammar: str, seconds: float = PARSE_SECONDS
) -> tuple[list[RawDef], str, str | None]:
    """(definitions, language, error) of one file. Never raises: a syntax error, a parse
    that runs out of time or a failing walk give what was found up to there and a one-line
    error."""
    sink = Sink()
    error: str | None = None
    end = time.perf_counter() + seconds
    stopped = False

    def read(offset: int, _point: object) -> bytes:
        nonlocal stopped
        if time.perf_counter() > end:
            stopped = True
            return b""
        return source[offset : offset + CHUNK]

    try:
        tree = parser(grammar).parse(read)
        root = tree.root_node
        if stopped:
            line = root.end_point[0] + 1
            error = f"parse stopped after {seconds:g}s at line {line} (partial result)"
        elif root.has_error:
            error = "syntax error (partial result)"
        with base.source(source):
            _extractor(language)(root, sink)
    except RecursionError:
        error = "nested too deeply (partial result)"
    except Exception as exc:  # a walk that trips on an odd tree must not lose the file
        error = f"{type(exc).__name__}: {str(exc)[:200]} (partial result)"
    return sink.defs, sink.language or language, error


__all__ = ["NOT_CALLABLE", "PARSE_SECONDS", "RawDef", "extract", "parser"]
