"""Definitions of one file's source, per language, by walking its tree-sitter syntax tree.

Each language module walks only the places definitions live (module level, class and impl
bodies, namespaces, `#if` blocks), not function bodies, so a walk costs a small fraction of
the parse. A syntax error leaves a partial tree: whatever parsed is still extracted.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from tree_sitter import Node, Parser

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


@cache
def parser(grammar: str) -> Parser:
    from tree_sitter_language_pack import get_parser

    return get_parser(grammar)  # type: ignore[arg-type]


def extract(source: bytes, language: str, grammar: str) -> tuple[list[RawDef], str, str | None]:
    """(definitions, language, error) of one file. Never raises: a syntax error or a failing
    walk gives what was found up to there and a one-line error."""
    sink = Sink()
    error: str | None = None
    try:
        tree = parser(grammar).parse(source)
        root = tree.root_node
        if root.has_error:
            error = "syntax error (partial result)"
        _extractor(language)(root, sink)
    except RecursionError:
        error = "nested too deeply (partial result)"
    except Exception as exc:  # a walk that trips on an odd tree must not lose the file
        error = f"{type(exc).__name__}: {str(exc)[:200]} (partial result)"
    return sink.defs, sink.language or language, error


__all__ = ["NOT_CALLABLE", "RawDef", "extract", "parser"]
