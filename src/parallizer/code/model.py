"""The index's values: a file's role, one definition, the fold of a name."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a file is for. Only `source` files define a tree's API; the others are kept so a
    resolver can say "only a test defines it" or rank them last."""

    source = "source"
    test = "test"
    docs = "docs"  # documentation, examples, benchmarks
    stub = "stub"  # typing stubs: .pyi, .d.ts
    vendored = "vendored"  # vendor/, third_party/, node_modules/, site-packages/
    generated = "generated"  # *_pb2.py, *.min.js, "Code generated ... DO NOT EDIT" headers


ROLE_RANK = {r: i for i, r in enumerate(Role)}
"""Lookup order: source first, generated last."""

KINDS = frozenset(
    "class function method constant variable field type interface trait enum module macro".split()
)

Params = tuple[int, int | None]


@dataclass(frozen=True, slots=True)
class Definition:
    """One named definition in a file of the scope.

    `params` is (min, max) for functions and methods (and Python classes, from `__init__`):
    how many arguments a call writes. `min` counts the parameters a call must give
    (required positional and, in Python, required keyword-only ones); `max` counts every
    parameter a call may give, None when unbounded (`*args`, `**kwargs`, JS rest, Go and
    Java varargs, C `...`). Python's `self`/`cls` and Rust's `self` are not counted.
    None when not callable or unknown.

    `owner` is the enclosing class, impl, type or namespace; None at top level. The line
    fallback, which sees one line, says `""` for an indented definition (inside something).
    """

    name: str
    qualname: str
    owner: str | None
    kind: str
    language: str
    path: str
    line: int
    role: Role
    params: Params | None = None

    @property
    def citation(self) -> str:
        return f"{self.path}:{self.line}"


def source_first(defs: Iterable[Definition]) -> list[Definition]:
    """Source definitions if there are any, else all (tests, docs, stubs only as a last
    resort)."""
    defs = list(defs)
    src = [d for d in defs if d.role is Role.source]
    return src or defs


_FOLD_DROP = str.maketrans("", "", "_-. ")


def fold(name: str) -> str:
    """Case- and separator-insensitive key: `HTTP_Transport`, `http-transport` and
    `HttpTransport` all fold to `httptransport`."""
    return name.lower().translate(_FOLD_DROP)
